package io.proxstream.actors.cli;

import io.proxstream.actors.image.ForwardModel;
import io.proxstream.actors.image.ImageOutputs;
import io.proxstream.actors.image.ImagePipeline;
import io.proxstream.actors.image.ImageSources;
import io.proxstream.actors.image.ImageTask;
import io.proxstream.actors.image.Reconstruction;
import io.proxstream.actors.learned.LearnedReconstruction;
import io.proxstream.actors.learned.RegulariserFile;
import io.proxstream.monitoring.ImageMeters;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.MetricsServer;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.nn.LearnedRegulariser;
import io.proxstream.solvers.inverse.Reconstructors;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/** {@code proxstream reconstruct}: images through a forward model and a reconstruction method, as a stream. */
final class ReconstructCommand {
    private ReconstructCommand() {
    }

    static Flags flags() {
        Flags f = new Flags("reconstruct");
        f.value("problem", "P", "ct (default) | deblur | denoise");
        f.value("method", "M", "fbp | tv-pdhg (default) | tv-pd | huber-gd | huber-gd-momentum; with --regulariser: "
                + "KIND-gd (gradient descent) or KIND-pd (primal-dual), e.g. awcr-pd");
        f.value("regulariser", "FILE", "a trained regulariser (.safetensors from experiment ct): reconstruct with it (ct only)");
        f.value("angles", "A", "ct angles: full:N | sparse:N | limited:FROM-TO:N (degrees; default full:180)");
        f.value("detectors", "N", "ct detector count (default: covers the image diagonal)");
        f.value("detector-spacing", "S", "ct detector spacing in pixels (default 1)");
        f.value("filter", "F", "FBP filter: ram-lak | shepp-logan | cosine | hamming | hann (default hann)");
        f.value("blur", "B", "deblur kernel: gaussian:SIGMA | box:SIZE | motion:LENGTH[:ANGLE] (default gaussian:2)");
        f.value("noise", "L", "Gaussian noise, standard deviation = L x max|Ax| (default 0.01)");
        f.value("lambda", "L", "regularisation weight (default: 1 for ct, 0.02 for deblur/denoise; the file's λ with --regulariser)");
        f.value("iterations", "N", "iteration budget (default 300)");
        f.value("tol", "T", "stop when the relative change falls below T (default 0: use the budget)");
        f.value("huber", "D", "Huber delta of huber-gd (default 0.01)");
        f.value("input", "SRC", "phantom[:shepp-logan|ellipses] (default phantom:shepp-logan), a PNG/.npy file, or a directory");
        f.value("size", "N", "phantom size (default 128)");
        f.value("count", "N", "number of phantoms (default 1)");
        f.value("seed", "S", "seed of phantoms and noise (default 1)");
        f.value("parallelism", "N", "images solved at once (default 1)");
        f.value("port", "P", "serve /metrics while running (0 = any port; default: off)");
        f.value("out", "DIR", "run directory (default runs/reconstruct-TIMESTAMP)");
        return f;
    }

    static int run(List<String> args, PrintStream out) throws Exception {
        Flags flags = flags();
        Flags.Parsed p = flags.parse(args);
        if (p.has("help")) {
            out.print(flags.help("proxstream reconstruct [options]", """
                    Simulates data y = A x + noise from each input image and reconstructs it, as a stream
                    (source -> forward model -> solver stage -> metrics -> files). Writes per image the truth,
                    the data and the reconstruction (PNG, .npy), results.csv with PSNR/SSIM/iterations/time,
                    a convergence plot of the first image, and report.md."""));
            return 0;
        }
        String problem = p.get("problem", "ct");
        ForwardModel model = new ForwardModel(problem, p.get("angles", "full:180"), Integer.parseInt(p.get("detectors", "0")),
                Double.parseDouble(p.get("detector-spacing", "1")), p.get("blur", "gaussian:2"),
                Double.parseDouble(p.get("noise", "0.01")), Fbp.Filter.fromId(p.get("filter", "hann")),
                Long.parseLong(p.get("seed", "1")));
        String method = p.get("method", "tv-pdhg");
        // with --regulariser the method names a solver for the file's regulariser (checked when the file is read)
        Reconstructors.Options opts = p.has("regulariser") ? null : new Reconstructors.Options(method,
                Double.parseDouble(p.get("lambda", problem.equals("ct") ? "1" : "0.02")), Integer.parseInt(p.get("iterations", "300")),
                Double.parseDouble(p.get("tol", "0")), Double.parseDouble(p.get("huber", "0.01")), model.filter());
        if (method.equals("fbp") && !problem.equals("ct")) {
            throw new Flags.UsageException("fbp reconstructs CT data only (--problem ct)");
        }
        String input = p.get("input", "phantom:shepp-logan");
        RegulariserFile.Loaded trained = p.has("regulariser") ? RegulariserFile.load(Path.of(p.get("regulariser", ""))) : null;
        int size = Integer.parseInt(p.get("size", trained != null ? Integer.toString(trained.critic().size()) : "128"));
        Reconstruction recon = trained != null ? learned(p, trained, method, model) : Reconstruction.of(opts);
        int count = Integer.parseInt(p.get("count", "1"));
        long seed = Long.parseLong(p.get("seed", "1"));
        Source<ImageTask, NotUsed> images = input.startsWith("phantom")
                ? ImageSources.phantoms(input.contains(":") ? input.substring(input.indexOf(':') + 1) : "shepp-logan", size, count, seed)
                : ImageSources.files(Path.of(input));
        Path dir = Path.of(p.get("out", "runs/reconstruct-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT))));
        Files.createDirectories(dir);
        Map<String, Object> echo = new LinkedHashMap<>();
        echo.put("forwardModel", model);
        echo.put("method", opts != null ? opts : Map.of("method", method, "regulariser", p.get("regulariser", "")));
        echo.put("input", input);
        echo.put("size", size);
        echo.put("count", count);
        AtomicFiles.writeString(dir.resolve("config.json"), ConfigLoader.toJson(echo) + "\n");
        int parallelism = Integer.parseInt(p.get("parallelism", "1"));
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "proxstream-reconstruct");
        try {
            Meters meters = new Meters();
            ServerBinding binding = null;
            if (p.has("port")) {
                binding = MetricsServer.bind(system, "127.0.0.1", Integer.parseInt(p.get("port", "0")),
                        new MetricsServer(meters, Map::of).routes()).toCompletableFuture().get(30, TimeUnit.SECONDS);
                out.println("metrics: http://127.0.0.1:" + binding.localAddress().getPort() + "/metrics");
            }
            out.println("run directory: " + dir.toAbsolutePath());
            int status = 0;
            String described = p.has("regulariser") ? recon.toString() : method + (method.equals("fbp") ? " (filter "
                    + model.filter().id() + ")" : ", lambda " + opts.lambda() + ", " + opts.iterations() + " iterations"
                    + (opts.tol() > 0 ? ", stop at relative change < " + opts.tol() : ""));
            out.println(model.describe() + "; method " + described);
            try (ImageOutputs outputs = new ImageOutputs(dir, problem, "results.csv")) {
                AtomicLong rejects = new AtomicLong();
                ImagePipeline.graph(images, model, recon, parallelism, new ImageMeters(meters.registry()), true,
                                rej -> {
                                    rejects.incrementAndGet();
                                    out.println("rejected " + rej.id() + " (" + rej.stage() + "): " + rej.reason());
                                })
                        .map(r -> {
                            outputs.write(r, true);
                            out.printf(Locale.ROOT, "%-20s %-18s PSNR %6.2f dB  SSIM %.4f  %4d iterations  %6.2f s%n", r.task().id(),
                                    r.method(), r.psnr(), r.ssim(), r.iterations(), r.seconds());
                            return r;
                        })
                        .runWith(Sink.ignore(), system).toCompletableFuture().get();
                String table = outputs.summaryTable(problem);
                StringBuilder report = new StringBuilder("# Reconstruction\n\n");
                report.append("- data: ").append(model.describe()).append('\n');
                report.append("- method: ").append(described).append('\n');
                report.append("- input: ").append(input).append('\n');
                report.append("- images reconstructed: ").append(outputs.results().size()).append(", rejected: ").append(rejects.get())
                        .append('\n');
                report.append("- machine: ").append(Runtime.getRuntime().availableProcessors()).append(" cores; ")
                        .append(BlasInfo.current().describe()).append("\n\n");
                report.append("| problem | method | images | PSNR (dB) | SSIM | seconds |\n|---|---|---|---|---|---|\n").append(table);
                report.append("\nPer-image figures in `results.csv`; images as `<id>-truth.png`, `<id>-data.png`, `<id>-")
                        .append(method).append(".png` (and `.npy`).\n");
                AtomicFiles.writeString(dir.resolve("report.md"), report.toString());
                out.print("\n| problem | method | images | PSNR (dB) | SSIM | seconds |\n" + table);
                if (rejects.get() > 0) {
                    out.println(rejects.get() + " image(s) rejected (see above)");
                }
                if (outputs.results().isEmpty()) {
                    System.err.println("proxstream reconstruct: no image was reconstructed");
                    status = 1;
                }
            }
            if (binding != null) {
                binding.unbind();
            }
            return status;
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    /** A reconstruction with a trained regulariser file; its image size and CT geometry must match the run's. */
    private static Reconstruction learned(Flags.Parsed p, RegulariserFile.Loaded l, String method, ForwardModel model) {
        if (!model.problem().equals("ct")) {
            throw new Flags.UsageException("--regulariser: learned regularisers here are trained for CT (--problem ct)");
        }
        String file = p.get("regulariser", "");
        String kind = l.critic().kind().id();
        boolean pd = method.endsWith("-pd");
        if (!(method.endsWith("-gd") || pd) || !method.substring(0, method.length() - 3).equals(kind)) {
            throw new Flags.UsageException("--method " + method + " does not fit " + file + " (a " + kind + " regulariser): use " + kind
                    + "-gd or " + kind + "-pd");
        }
        int n = l.critic().size();
        RayTransform run = (RayTransform) model.operator(n, n);
        RayTransform trained = l.geometry();
        if (!java.util.Arrays.equals(run.angles(), trained.angles()) || run.detectors() != trained.detectors()
                || run.spacing() != trained.spacing()) {
            throw new Flags.UsageException(String.format(Locale.ROOT, "%s was trained for %d angles over [%.1f°, %.1f°], %d detectors; this "
                    + "run has %d angles over [%.1f°, %.1f°], %d detectors (set --angles/--detectors to match)", file,
                    trained.angles().length, Math.toDegrees(trained.angles()[0]), Math.toDegrees(trained.angles()[trained.angles().length - 1]),
                    trained.detectors(), run.angles().length, Math.toDegrees(run.angles()[0]),
                    Math.toDegrees(run.angles()[run.angles().length - 1]), run.detectors()));
        }
        // experiment ct chooses λ for each solver: the primal-dual one under "lambda_pd"
        double fileLambda = pd && l.metadata().containsKey("lambda_pd") ? Double.parseDouble(l.metadata().get("lambda_pd")) : l.lambda();
        double lambda = p.has("lambda") ? Double.parseDouble(p.get("lambda", "")) : fileLambda;
        if (!Double.isFinite(lambda)) {
            throw new Flags.UsageException(file + " holds no chosen lambda (a training checkpoint?); give --lambda");
        }
        int iterations = Integer.parseInt(p.get("iterations", pd ? "300" : "150"));
        if (!pd) {
            return LearnedReconstruction.gradientDescent(method, l.critic(), lambda, iterations);
        }
        // the file's Lipschitz estimate belongs to its lambda; it scales with lambda
        double lip = Double.isFinite(l.lipschitz()) && l.lambda() > 0 ? l.lipschitz() * lambda / l.lambda()
                : 2 * LearnedRegulariser.estimateLipschitz(l.critic().net(), lambda, new float[n * n], 8, 1e-2, 1);
        return LearnedReconstruction.primalDual(method, l.critic(), lambda, lip, iterations);
    }
}
