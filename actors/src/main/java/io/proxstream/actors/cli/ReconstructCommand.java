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
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code proxstream reconstruct}: images through a forward model and a reconstruction method, as a stream. */
@Command(name = "reconstruct", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        header = "CT / deblurring / denoising of images as a stream (FBP, TV-PDHG, learned regularisers)", sortOptions = false, usageHelpAutoWidth = true,
        description = {"Simulates data y = A x + noise from each input image and reconstructs it, as a stream (source -> forward"
                + " model -> solver stage -> metrics -> files). Writes per image the truth, the data and the reconstruction (PNG,"
                + " .npy), results.csv with PSNR/SSIM/iterations/time, a convergence plot of the first image, and report.md.", ""})
final class ReconstructCommand implements Callable<Integer> {
    /** The forward problems. */
    static final class Problems extends Cli.OneOf {
        Problems() {
            super(List.of("ct", "deblur", "denoise"));
        }
    }

    /** The FBP filters. */
    static final class Filters extends Cli.OneOf {
        Filters() {
            super(java.util.Arrays.stream(Fbp.Filter.values()).map(Fbp.Filter::id).toList());
        }
    }

    private final PrintStream out;

    @Option(names = "--problem", paramLabel = "P", defaultValue = "ct", completionCandidates = Problems.class, converter = Problems.class,
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    String problem;

    @Option(names = "--method", paramLabel = "M", defaultValue = "tv-pdhg", description = "fbp | tv-pdhg | tv-pd | huber-gd |"
            + " huber-gd-momentum (default: ${DEFAULT-VALUE}); with --regulariser: KIND-gd (gradient descent) or KIND-pd (primal-dual),"
            + " e.g. awcr-pd")
    String method;

    @Option(names = "--regulariser", paramLabel = "FILE", description = "a trained regulariser (.safetensors from experiment ct):"
            + " reconstruct with it (ct only)")
    Path regulariser;

    @Option(names = "--angles", paramLabel = "A", defaultValue = "full:180", description = "ct angles: full:N | sparse:N |"
            + " limited:FROM-TO:N (degrees; default: ${DEFAULT-VALUE})")
    String angles;

    @Option(names = "--detectors", paramLabel = "N", defaultValue = "0", description = "ct detector count (default: covers the image"
            + " diagonal)")
    int detectors;

    @Option(names = "--detector-spacing", paramLabel = "S", defaultValue = "1", description = "ct detector spacing in pixels"
            + " (default: ${DEFAULT-VALUE})")
    double detectorSpacing;

    @Option(names = "--filter", paramLabel = "F", defaultValue = "hann", completionCandidates = Filters.class, converter = Filters.class,
            description = "FBP filter: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    String filter;

    @Option(names = "--blur", paramLabel = "B", defaultValue = "gaussian:2", description = "deblur kernel: gaussian:SIGMA | box:SIZE |"
            + " motion:LENGTH[:ANGLE] (default: ${DEFAULT-VALUE})")
    String blur;

    @Option(names = "--noise", paramLabel = "L", defaultValue = "0.01", description = "Gaussian noise, standard deviation = L x max|Ax|"
            + " (default: ${DEFAULT-VALUE})")
    double noise;

    @Option(names = "--lambda", paramLabel = "L", description = "regularisation weight (default: 1 for ct, 0.02 for deblur/denoise;"
            + " the file's lambda with --regulariser)")
    Double lambda;

    @Option(names = "--iterations", paramLabel = "N", description = "iteration budget (default: 300; with --regulariser the budget the file's experiment chose on validation, else 150 for KIND-gd)")
    Integer iterations;

    @Option(names = "--tol", paramLabel = "T", defaultValue = "0", description = "stop when the relative change falls below T"
            + " (default: ${DEFAULT-VALUE}: use the budget)")
    double tol;

    @Option(names = "--huber", paramLabel = "D", defaultValue = "0.01", description = "Huber delta of huber-gd (default: ${DEFAULT-VALUE})")
    double huber;

    @Option(names = "--input", paramLabel = "SRC", defaultValue = "phantom:shepp-logan", description = "phantom[:shepp-logan|ellipses],"
            + " a PNG/.npy file, or a directory (default: ${DEFAULT-VALUE})")
    String input;

    @Option(names = "--size", paramLabel = "N", description = "phantom size (default: 128, or the regulariser's)")
    Integer size;

    @Option(names = "--count", paramLabel = "N", defaultValue = "1", description = "number of phantoms (default: ${DEFAULT-VALUE})")
    int count;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "seed of phantoms and noise (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--parallelism", paramLabel = "N", defaultValue = "1", description = "images solved at once (default: ${DEFAULT-VALUE})")
    int parallelism;

    @Option(names = "--port", paramLabel = "P", description = "serve /metrics while running (0 = any port; default: off)")
    Integer port;

    @Option(names = "--out", paramLabel = "DIR", description = "run directory (default: runs/reconstruct-TIMESTAMP)")
    String outDir;

    ReconstructCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws Exception {
        ForwardModel model = new ForwardModel(problem, angles, detectors, detectorSpacing, blur, noise, Fbp.Filter.fromId(filter), seed);
        // with --regulariser the method names a solver for the file's regulariser (checked when the file is read)
        Reconstructors.Options opts = regulariser != null ? null : new Reconstructors.Options(method,
                lambda != null ? lambda : problem.equals("ct") ? 1 : 0.02, iterations != null ? iterations : 300, tol, huber, model.filter());
        if (method.equals("fbp") && !problem.equals("ct")) {
            throw new Cli.UsageException("fbp reconstructs CT data only (--problem ct)");
        }
        RegulariserFile.Loaded trained = regulariser != null ? RegulariserFile.load(regulariser) : null;
        int size = this.size != null ? this.size : trained != null ? trained.critic().size() : 128;
        Reconstruction recon = trained != null ? learned(trained, model) : Reconstruction.of(opts);
        Source<ImageTask, NotUsed> images = input.startsWith("phantom")
                ? ImageSources.phantoms(input.contains(":") ? input.substring(input.indexOf(':') + 1) : "shepp-logan", size, count, seed)
                : ImageSources.files(Path.of(input));
        Path dir = Path.of(outDir != null ? outDir : "runs/reconstruct-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
        Files.createDirectories(dir);
        Map<String, Object> echo = new LinkedHashMap<>();
        echo.put("forwardModel", model);
        echo.put("method", opts != null ? opts : Map.of("method", method, "regulariser", String.valueOf(regulariser)));
        echo.put("input", input);
        echo.put("size", size);
        echo.put("count", count);
        AtomicFiles.writeString(dir.resolve("config.json"), ConfigLoader.toJson(echo) + "\n");
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "proxstream-reconstruct");
        try {
            Meters meters = new Meters();
            ServerBinding binding = null;
            if (port != null) {
                binding = MetricsServer.bind(system, "127.0.0.1", port,
                        new MetricsServer(meters, Map::of).routes()).toCompletableFuture().get(30, TimeUnit.SECONDS);
                out.println("metrics: http://127.0.0.1:" + binding.localAddress().getPort() + "/metrics");
            }
            out.println("run directory: " + dir.toAbsolutePath());
            int status = 0;
            String described = regulariser != null ? recon.toString() : method + (method.equals("fbp") ? " (filter "
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

    private static int parseBudget(String file, String value) {
        try {
            int k = Integer.parseInt(value);
            if (k > 0) {
                return k;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new Cli.UsageException(file + ": its iteration budget '" + value + "' is not a positive integer; give --iterations");
    }

    /** A reconstruction with a trained regulariser file; its image size and CT geometry must match the run's. */
    private Reconstruction learned(RegulariserFile.Loaded l, ForwardModel model) {
        if (!model.problem().equals("ct")) {
            throw new Cli.UsageException("--regulariser: learned regularisers here are trained for CT (--problem ct)");
        }
        String file = regulariser.toString();
        String kind = l.critic().kind().id();
        boolean pd = method.endsWith("-pd");
        if (!(method.endsWith("-gd") || pd) || !method.substring(0, method.length() - 3).equals(kind)) {
            throw new Cli.UsageException("--method " + method + " does not fit " + file + " (a " + kind + " regulariser): use " + kind
                    + "-gd or " + kind + "-pd");
        }
        int n = l.critic().size();
        RayTransform run = (RayTransform) model.operator(n, n);
        RayTransform trained = l.geometry();
        if (!java.util.Arrays.equals(run.angles(), trained.angles()) || run.detectors() != trained.detectors()
                || run.spacing() != trained.spacing()) {
            throw new Cli.UsageException(String.format(Locale.ROOT, "%s was trained for %d angles over [%.1f°, %.1f°], %d detectors; this "
                    + "run has %d angles over [%.1f°, %.1f°], %d detectors (set --angles/--detectors to match)", file,
                    trained.angles().length, Math.toDegrees(trained.angles()[0]), Math.toDegrees(trained.angles()[trained.angles().length - 1]),
                    trained.detectors(), run.angles().length, Math.toDegrees(run.angles()[0]),
                    Math.toDegrees(run.angles()[run.angles().length - 1]), run.detectors()));
        }
        // experiment ct chooses λ for each solver: the primal-dual one under "lambda_pd"
        double fileLambda = pd && l.metadata().containsKey("lambda_pd") ? Double.parseDouble(l.metadata().get("lambda_pd")) : l.lambda();
        double lambda = this.lambda != null ? this.lambda : fileLambda;
        if (!Double.isFinite(lambda)) {
            throw new Cli.UsageException(file + " holds no chosen lambda (a training checkpoint?); give --lambda");
        }
        // and each solver's iteration budget, chosen with λ on validation images, under "iterations_pd" / "iterations_gd"
        String budget = l.metadata().get(pd ? "iterations_pd" : "iterations_gd");
        int iterations = this.iterations != null ? this.iterations : budget != null ? parseBudget(file, budget) : pd ? 300 : 150;
        if (!pd) {
            return LearnedReconstruction.gradientDescent(method, l.critic(), lambda, iterations);
        }
        // the file's Lipschitz estimate belongs to its lambda; it scales with lambda
        double lip = Double.isFinite(l.lipschitz()) && l.lambda() > 0 ? l.lipschitz() * lambda / l.lambda()
                : 2 * LearnedRegulariser.estimateLipschitz(l.critic().net(), lambda, new float[n * n], 8, 1e-2, 1);
        return LearnedReconstruction.primalDual(method, l.critic(), lambda, lip, iterations);
    }
}
