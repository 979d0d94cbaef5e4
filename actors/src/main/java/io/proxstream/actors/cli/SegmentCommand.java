package io.proxstream.actors.cli;

import io.proxstream.actors.segment.Composites;
import io.proxstream.actors.segment.SegmentOutputs;
import io.proxstream.actors.segment.Segmentation;
import io.proxstream.actors.train.DataPaths;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.MetricsServer;
import io.proxstream.monitoring.SegmentMeters;
import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.protocol.format.Png;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.graph.GraphMbo;
import io.proxstream.solvers.graph.JointSegmentation;
import io.proxstream.solvers.graph.Labels;
import io.proxstream.solvers.graph.Nystrom;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.stream.javadsl.Source;

/** {@code proxstream segment}: joint reconstruction-segmentation (or a baseline) of one image. */
@Command(name = "segment", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        header = "joint reconstruction-segmentation on graphs (Nystrom-QR, graph MBO) of an image", sortOptions = false, usageHelpAutoWidth = true,
        description = {"Distorts an image (noise or blur), then segments it from a few labelled pixels on a patch graph"
                + " (Nystrom-QR eigenpairs, fidelity-forced MBO): joint reconstruction-segmentation, the sequential baseline"
                + " (TV, then MBO), MBO on the distorted image, or MBO on the clean image. Writes per method the segmentation"
                + " overlay, the label map and the reconstruction (PNG), results.csv and report.md.", ""})
final class SegmentCommand implements Callable<Integer> {
    /** The methods; {@code all} runs the four and compares them. */
    static final class Methods extends Cli.OneOf {
        Methods() {
            super(List.of("joint", "sequential", "mbo", "clean", "all"));
        }
    }

    private final PrintStream out;

    @Option(names = "--input", paramLabel = "IMG", defaultValue = "composite:brick:grass", description = "PNG image (grey or colour),"
            + " or composite:INSIDE:OUTSIDE (scikit-image textures under the horse, with exact truth; default: ${DEFAULT-VALUE})")
    String input;

    @Option(names = "--labels", paramLabel = "SPEC", description = "labelled pixels: CLASS:X0,Y0,X1,Y1[;...] or a mask PNG"
            + " (0 = unlabelled, levels = classes); composites default to 4 squares per class drawn from the truth")
    String labels;

    @Option(names = "--truth", paramLabel = "PNG", description = "true label map (levels = classes) for the accuracy")
    Path truthFile;

    @Option(names = "--distortion", paramLabel = "D", defaultValue = "blur:2", description = "noise:SIGMA | blur:SIGMA[:NOISE]"
            + " (default: ${DEFAULT-VALUE}, i.e. blur 2 px + noise 0.02)")
    String distortionSpec;

    @Option(names = "--method", paramLabel = "M", defaultValue = "all", completionCandidates = Methods.class, converter = Methods.class,
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}: the four, a comparison table)")
    String method;

    @Option(names = "--scale", paramLabel = "S", description = "use every S-th pixel of the input (default: 1; composites 2)")
    Integer scale;

    @Option(names = "--alpha", paramLabel = "A", description = "TV weight (default: 0.08 under noise, 0.005 under blur)")
    Double alpha;

    @Option(names = "--beta", paramLabel = "B", defaultValue = "0.5", description = "coupling of the reconstruction to the class means"
            + " (default: ${DEFAULT-VALUE})")
    double beta;

    @Option(names = "--gamma", paramLabel = "G", defaultValue = "0.5", description = "region forcing in MBO (default: ${DEFAULT-VALUE})")
    double gamma;

    @Option(names = "--outer", paramLabel = "N", defaultValue = "5", description = "joint rounds after the sequential start"
            + " (default: ${DEFAULT-VALUE})")
    int outer;

    @Option(names = "--samples", paramLabel = "M", defaultValue = "300", description = "Nystrom samples m (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--eigenpairs", paramLabel = "K", defaultValue = "50", description = "eigenpairs K (default: ${DEFAULT-VALUE})")
    int eigenpairs;

    @Option(names = "--patch", paramLabel = "P", defaultValue = "3", description = "patch half-width (default: ${DEFAULT-VALUE})")
    int patch;

    @Option(names = "--mask", paramLabel = "S", defaultValue = "2", description = "Gaussian spatial mask of the patches, in pixels"
            + " (default: ${DEFAULT-VALUE}; 0 = none)")
    double mask;

    @Option(names = "--sigma", paramLabel = "S", description = "graph kernel width (default: 1/2 the RMS feature distance)")
    Double sigma;

    @Option(names = "--texture", paramLabel = "R:W", description = "add local-deviation channels of radius R and weight W before the"
            + " patches (default: 3:2 for composites, 0:0 = raw patches for files)")
    String texture;

    @Option(names = "--tau", paramLabel = "T", defaultValue = "0.3", description = "MBO diffusion time (default: ${DEFAULT-VALUE})")
    double tau;

    @Option(names = "--mu", paramLabel = "M", defaultValue = "300", description = "MBO fidelity weight (default: ${DEFAULT-VALUE})")
    double mu;

    @Option(names = "--sdie", paramLabel = "LAMBDA", description = "two classes: the SDIE soft threshold with this lambda in (0, 1]"
            + " instead of MBO's")
    Double sdie;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Nystrom sampling and noise seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--parallelism", paramLabel = "N", defaultValue = "2", description = "images (methods) segmented at once with"
            + " --method all (default: ${DEFAULT-VALUE})")
    int parallelism;

    @Option(names = "--port", paramLabel = "P", description = "serve /metrics while running (0 = any port; default: off)")
    Integer port;

    @Option(names = "--out", paramLabel = "DIR", description = "run directory (default: runs/segment-TIMESTAMP)")
    String outDir;

    SegmentCommand(PrintStream out) {
        this.out = out;
    }

    JointSegmentation.Options options() {
        Nystrom.Options no = new Nystrom.Options(samples, eigenpairs, sigma != null ? sigma : Double.NaN, seed, Nystrom.Method.QR, 1e-7);
        GraphMbo.Options mo = GraphMbo.Options.defaults().withTau(tau).withMu(mu);
        if (sdie != null) {
            mo = mo.sdie(sdie);
        }
        double[] t = texture();
        return new JointSegmentation.Options(alpha != null ? alpha : distortionSpec.startsWith("noise") ? 0.08 : 0.005, beta, gamma,
                outer, 1e-3, 200, patch, mask, (int) t[0], t[1], no, mo, JointSegmentation.Segmenter.MBO);
    }

    /** {@code --texture R:W} (default 3:2 for composites, off for files). */
    private double[] texture() {
        String spec = texture != null ? texture : input.startsWith("composite:") ? "3:2" : "0:0";
        String[] t = spec.split(":");
        if (t.length != 2) {
            throw new Cli.UsageException("--texture " + spec + ": expected RADIUS:WEIGHT, e.g. 3:2 (0:0 = raw patches)");
        }
        return new double[] {Integer.parseInt(t[0]), Double.parseDouble(t[1])};
    }

    @Override
    public Integer call() throws Exception {
        List<String> methods = method.equals("all") ? List.of("clean", "mbo", "sequential", "joint") : List.of(method);
        for (String m : methods) {
            if (!List.of("joint", "sequential", "mbo", "clean").contains(m)) {
                throw new Cli.UsageException("unknown method '" + m + "'; use joint, sequential, mbo, clean or all");
            }
        }
        Segmentation.Distortion distortion = Segmentation.Distortion.parse(distortionSpec);
        // the options are checked before any image is read
        JointSegmentation.Options opts = options();
        float[] clean;
        int channels;
        int h;
        int w;
        int[] truth = null;
        int[] fid;
        if (input.startsWith("composite:")) {
            String[] parts = input.split(":");
            if (parts.length != 3) {
                throw new Cli.UsageException("--input composite:INSIDE:OUTSIDE, e.g. composite:brick:grass");
            }
            Composites.Composite c = Composites.horse(DataPaths.dataDir().resolve("skimage"), parts[1], parts[2],
                    scale != null ? scale : 2);
            clean = c.image();
            channels = 1;
            h = c.h();
            w = c.w();
            truth = c.truth();
            fid = labels != null ? labels(labels, h, w) : Labels.fromRects(Composites.squaresFromTruth(truth, h, w, 2, 4, 6, seed), h, w);
        } else {
            Path file = Path.of(input);
            if (!Files.isRegularFile(file)) {
                throw new Cli.UsageException("--input " + input + ": no such file");
            }
            int step = scale != null ? scale : 1;
            Png.Image rgb = Png.readRgb(file);
            boolean grey = isGrey(rgb);
            channels = grey ? 1 : 3;
            Png.Image scaled = rgb.subsample(step);
            h = scaled.h();
            w = scaled.w();
            clean = java.util.Arrays.copyOf(scaled.data(), channels * h * w);
            if (labels == null) {
                throw new Cli.UsageException("--labels is required for an image file (rectangles CLASS:X0,Y0,X1,Y1;... or a mask PNG)");
            }
            fid = labels(labels, h, w);
            if (truthFile != null) {
                Png.Image t = Png.readGrey(truthFile);
                if (t.h() / step != h || t.w() / step != w) {
                    throw new Cli.UsageException("--truth is " + t.h() + "x" + t.w() + ", the image " + rgb.h() + "x" + rgb.w());
                }
                truth = Labels.fromLevels(t.subsample(step).data());
            }
        }
        int classes = Labels.classes(fid);
        Labels.requireEveryClass(fid, classes);
        float[] observed = distortion.apply(clean, channels, h, w, seed);
        Path dir = Path.of(outDir != null ? outDir : "runs/segment-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
        Files.createDirectories(dir);
        Map<String, Object> echo = new LinkedHashMap<>();
        echo.put("input", input);
        echo.put("distortion", distortion.toString());
        echo.put("methods", methods);
        echo.put("options", opts);
        AtomicFiles.writeString(dir.resolve("config.json"), ConfigLoader.toJson(echo) + "\n");
        SegmentOutputs.writeImage(dir.resolve("clean.png"), clean, channels, h, w);
        SegmentOutputs.writeImage(dir.resolve("observed.png"), observed, channels, h, w);
        List<Segmentation.Task> tasks = new ArrayList<>();
        for (String m : methods) {
            tasks.add(new Segmentation.Task(input, clean, observed, channels, h, w, distortion, fid, classes, truth, m, opts));
        }
        out.printf(Locale.ROOT, "%s, %dx%d, %d channel(s), %d classes, %s; %d labelled pixels; run directory %s%n", input, w, h, channels,
                classes, distortion, java.util.Arrays.stream(fid).filter(v -> v >= 0).count(), dir.toAbsolutePath());
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "proxstream-segment");
        try {
            Meters meters = new Meters();
            ServerBinding binding = null;
            if (port != null) {
                binding = MetricsServer.bind(system, "127.0.0.1", port,
                        new MetricsServer(meters, Map::of).routes()).toCompletableFuture().get(30, TimeUnit.SECONDS);
                out.println("metrics: http://127.0.0.1:" + binding.localAddress().getPort() + "/metrics");
            }
            List<String> errors = new ArrayList<>();
            List<Segmentation.Result> results = Segmentation.stream(system, Source.from(tasks), parallelism,
                    new SegmentMeters(meters.registry()), errors).toCompletableFuture().get();
            results.sort(java.util.Comparator.comparingInt(r -> methods.indexOf(r.task().method())));
            StringBuilder table = new StringBuilder("| method | accuracy | PSNR (dB) | SSIM | rounds | MBO iterations | seconds |\n"
                    + "|---|---|---|---|---|---|---|\n");
            try (CsvTable csv = new CsvTable(dir.resolve("results.csv"),
                    List.of("method", "accuracy", "psnr", "ssim", "rounds", "mbo_iterations", "seconds", "graph_s", "eigen_s", "mbo_s", "recon_s"))) {
                for (Segmentation.Result r : results) {
                    String m = r.task().method();
                    JointSegmentation.Outcome o = r.outcome();
                    SegmentOutputs.writeOverlay(dir.resolve(m + "-segmentation.png"), m.equals("clean") ? clean : observed, channels, h, w,
                            o.labels());
                    SegmentOutputs.writeLabels(dir.resolve(m + "-labels.png"), o.labels(), classes, h, w);
                    if (m.equals("joint") || m.equals("sequential")) {
                        SegmentOutputs.writeImage(dir.resolve(m + "-reconstruction.png"), o.image(), channels, h, w);
                    }
                    var tm = o.timings();
                    csv.row(m, r.accuracy(), r.psnr(), r.ssim(), o.changes().size(), o.mboIterations(), o.seconds(), tm.graph(), tm.eigen(),
                            tm.mbo(), tm.reconstruction());
                    boolean recon = m.equals("joint") || m.equals("sequential");
                    table.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %d | %d | %.2f |%n", m,
                            Double.isNaN(r.accuracy()) ? "—" : String.format(Locale.ROOT, "%.4f", r.accuracy()),
                            recon ? String.format(Locale.ROOT, "%.2f", r.psnr()) : "—", recon ? String.format(Locale.ROOT, "%.4f", r.ssim()) : "—",
                            o.changes().size(), o.mboIterations(), o.seconds()));
                }
            }
            out.print(table);
            StringBuilder report = new StringBuilder("# Segmentation\n\n");
            report.append("- input: ").append(input).append(String.format(Locale.ROOT, " (%dx%d, %d channel(s), %d classes)%n", w, h,
                    channels, classes));
            report.append("- distortion: ").append(distortion).append('\n');
            report.append("- options: ").append(opts).append('\n');
            report.append("- machine: ").append(Runtime.getRuntime().availableProcessors()).append(" cores; ")
                    .append(BlasInfo.current().describe()).append("\n\n").append(table).append('\n');
            for (Segmentation.Result r : results) {
                report.append("![").append(r.task().method()).append("](").append(r.task().method()).append("-segmentation.png)\n");
            }
            for (String e : errors) {
                report.append("\nrejected: ").append(e).append('\n');
                out.println("rejected: " + e);
            }
            AtomicFiles.writeString(dir.resolve("report.md"), report.toString());
            if (binding != null) {
                binding.unbind();
            }
            return results.isEmpty() ? 1 : 0;
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    private static int[] labels(String spec, int h, int w) throws java.io.IOException {
        if (spec.toLowerCase(Locale.ROOT).endsWith(".png")) {
            Png.Image m = Png.readGrey(Path.of(spec));
            if (m.h() != h || m.w() != w) {
                throw new Cli.UsageException("--labels mask is " + m.w() + "x" + m.h() + ", the (scaled) image " + w + "x" + h);
            }
            return Labels.fromMask(m.data(), h, w);
        }
        return Labels.fromRects(Labels.parseRects(spec), h, w);
    }

    private static boolean isGrey(Png.Image rgb) {
        int n = rgb.h() * rgb.w();
        for (int i = 0; i < n; i++) {
            if (rgb.data()[i] != rgb.data()[n + i] || rgb.data()[i] != rgb.data()[2 * n + i]) {
                return false;
            }
        }
        return true;
    }
}
