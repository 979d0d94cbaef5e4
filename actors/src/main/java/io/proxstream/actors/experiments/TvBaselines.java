package io.proxstream.actors.experiments;

import io.proxstream.actors.image.ForwardModel;
import io.proxstream.actors.image.ImageOutputs;
import io.proxstream.actors.image.ImagePipeline;
import io.proxstream.actors.image.ImageSources;
import io.proxstream.actors.image.ImageTask;
import io.proxstream.actors.image.Reconstruction;
import io.proxstream.monitoring.ImageMeters;
import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.monitoring.report.ImageGrid;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.LinearOperator;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.inverse.Reconstructors;
import io.proxstream.solvers.inverse.SolverResult;
import io.proxstream.solvers.progress.ProgressListener;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * {@code experiment tv-baselines}: the classical baselines of the learned-regulariser papers.
 * FBP against TV-PDHG on random-ellipse phantoms for sparse-view (60 angles over 180°) and
 * limited-angle (0–120°) parallel-beam CT, and TV deblurring of natural images (Gaussian blur).
 * The FBP filter and the TV weight λ are chosen by mean PSNR on validation images that are not
 * in the test set; the iterative methods run a fixed iteration budget (no stopping on the truth).
 * Writes {@code report.md} (table, parameter searches, pictures, convergence plots),
 * {@code summary.csv}, and per setting {@code results.csv}, {@code validation.csv} and images.
 */
public final class TvBaselines {

    /**
     * @param ctSize            phantom side (pixels)
     * @param ctValidation      validation phantoms per CT setting
     * @param ctTest            test phantoms per CT setting
     * @param deblurSize        side natural images are resampled to
     * @param deblurValidation  scikit-image test images to choose λ on
     * @param deblurTest        scikit-image test images to report on
     * @param blur              the blur of the deblurring setting
     * @param noise             noise level (× max|Ax|) of every setting
     * @param iterations        TV-PDHG iterations
     * @param ctLambdas         λ grid for CT (ascending)
     * @param deblurLambdas     λ grid for deblurring (ascending)
     * @param refine            refine λ between the grid points next to the grid's best
     * @param pictures          test images shown in each setting's picture grid
     * @param seed              phantom and noise seed
     */
    public record Config(int ctSize, int ctValidation, int ctTest, int deblurSize, List<String> deblurValidation,
                         List<String> deblurTest, String blur, double noise, int iterations, double[] ctLambdas,
                         double[] deblurLambdas, boolean refine, int pictures, long seed) {

        /** The reported configuration: 128² CT, 256² deblurring, 300 iterations. */
        public static Config full() {
            return new Config(128, 4, 10, 256, List.of("coins", "chelsea"), List.of("camera", "astronaut", "coffee", "moon"),
                    "gaussian:2", 0.01, 300, new double[] {0.3, 1, 3, 10, 30}, new double[] {0.0001, 0.0003, 0.001, 0.003, 0.01},
                    true, 3, 1);
        }

        /** A small configuration for tests and smoke runs (about a minute on 2 cores). */
        public static Config quick() {
            return new Config(64, 2, 3, 128, List.of("coins"), List.of("camera"), "gaussian:2", 0.01, 100,
                    new double[] {1, 3, 10}, new double[] {0.001, 0.003, 0.01}, false, 3, 1);
        }
    }

    /** One row of the result table. */
    public record Row(String setting, String method, String parameters, int images, double psnrMean, double psnrStd,
                      double ssimMean, double ssimStd, double seconds) {
    }

    private static final long VALIDATION_SEED_OFFSET = 1_000;
    private static final long TEST_SEED_OFFSET = 2_000;

    private final Config config;
    private final Path dataDir;
    private final Path out;
    private final PrintStream log;
    private final String invocation;

    /** @param invocation the command line that runs this (for the report) */
    public TvBaselines(Config config, String invocation, Path dataDir, Path out, PrintStream log) {
        this.config = config;
        this.invocation = invocation;
        this.dataDir = dataDir;
        this.out = out;
        this.log = log;
    }

    /** The settings of the experiment (reads the natural images; errors name a missing file and the fix). */
    public List<ImagingSetting> settings() throws IOException {
        Config c = config;
        List<ImagingSetting> s = new ArrayList<>(ctSettings(c.ctSize(), c.ctValidation(), c.ctTest(), c.noise(), c.seed()));
        s.add(new ImagingSetting("deblur", "deblurring: " + c.blur() + " blur of " + c.deblurSize() + "² natural images (scikit-image)",
                new ForwardModel("deblur", "full:1", 0, 1, c.blur(), c.noise(), Fbp.Filter.HANN, c.seed()),
                naturalImages(c.deblurValidation(), 0), naturalImages(c.deblurTest(), c.deblurValidation().size())));
        return s;
    }

    /**
     * The two CT settings of the learned-regulariser papers on random-ellipse phantoms of side {@code n}:
     * sparse-view (60 angles over 180°) and limited-angle (120 angles over 0–120°), Hann FBP,
     * Gaussian noise {@code noise × max|Ax|}; validation and test phantoms with disjoint seeds.
     */
    static List<ImagingSetting> ctSettings(int n, int validation, int test, double noise, long seed) {
        return ctSettings(n, validation, test, noise, seed, Phantoms.Family.ELLIPSES);
    }

    /** As above on phantoms of {@code family} (image ids {@code <family>-<seed>}). */
    static List<ImagingSetting> ctSettings(int n, int validation, int test, double noise, long seed, Phantoms.Family family) {
        String what = family == Phantoms.Family.ELLIPSES ? "random-ellipse phantoms" : "textured anatomy-like phantoms";
        List<ImagingSetting> s = new ArrayList<>();
        s.add(new ImagingSetting("ct-sparse", "sparse-view CT: 60 angles over 180°, " + n + "² " + what,
                new ForwardModel("ct", "sparse:60", 0, 1, "gaussian:1", noise, Fbp.Filter.HANN, seed),
                phantoms(family, n, validation, seed, VALIDATION_SEED_OFFSET), phantoms(family, n, test, seed, TEST_SEED_OFFSET)));
        s.add(new ImagingSetting("ct-limited", "limited-angle CT: 120 angles over 0–120°, " + n + "² " + what,
                new ForwardModel("ct", "limited:0-120:120", 0, 1, "gaussian:1", noise, Fbp.Filter.HANN, seed),
                phantoms(family, n, validation, seed, VALIDATION_SEED_OFFSET), phantoms(family, n, test, seed, TEST_SEED_OFFSET)));
        return s;
    }

    private static List<ImageTask> phantoms(Phantoms.Family family, int n, int count, long seed, long offset) {
        if (count > 1_000) {
            throw new IllegalArgumentException(count + " images per set; at most 1000 keep validation, test and training seeds apart");
        }
        List<ImageTask> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long s = seed + offset + i;
            out.add(new ImageTask(family.id() + "-" + s, family.draw(n, s), n, n, offset + i));
        }
        return out;
    }

    private List<ImageTask> naturalImages(List<String> names, long firstIndex) throws IOException {
        List<ImageTask> out = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            Path file = dataDir.resolve("skimage").resolve(names.get(i) + ".png");
            if (!Files.isRegularFile(file)) {
                throw new IllegalStateException("missing test image " + file + "; run ./proxstream setup (it fetches the "
                        + "scikit-image test images)");
            }
            out.add(ImageSources.squareGrey(file, config.deblurSize(), firstIndex + i));
        }
        return out;
    }

    /** Runs every setting and writes the report; returns the result table. */
    public List<Row> run(ActorSystem<?> system, ImageMeters meters) throws IOException {
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        List<ImagingSetting> settings = settings();
        Map<String, Object> echo = new LinkedHashMap<>();
        echo.put("experiment", "tv-baselines");
        echo.put("config", config);
        AtomicFiles.writeString(out.resolve("config.json"), ConfigLoader.toJson(echo) + "\n");
        ImagingRuns runs = new ImagingRuns(system, meters, Math.max(1, Runtime.getRuntime().availableProcessors()), log);
        List<Row> rows = new ArrayList<>();
        StringBuilder sections = new StringBuilder();
        for (ImagingSetting s : settings) {
            log.println(s.name() + ": " + s.title());
            rows.addAll(runSetting(s, runs, sections));
        }
        writeSummary(out.resolve("summary.csv"), rows);
        double minutes = (System.nanoTime() - t0) / 60e9;
        AtomicFiles.writeString(out.resolve("report.md"), report(rows, sections.toString(), minutes));
        return rows;
    }

    private List<Row> runSetting(ImagingSetting s, ImagingRuns runs, StringBuilder sections) throws IOException {
        Path dir = out.resolve(s.name());
        Files.createDirectories(dir);
        StringBuilder sec = new StringBuilder();
        sec.append("### ").append(s.name()).append(": ").append(s.title()).append("\n\n");
        sec.append("- data: ").append(s.model().describe()).append('\n');
        sec.append("- validation images: ").append(ids(s.validation())).append('\n');
        sec.append("- test images: ").append(ids(s.test())).append("\n\n");

        List<Reconstruction> methods = new ArrayList<>();
        Map<String, String> parameters = new LinkedHashMap<>();
        Fbp.Filter filter = Fbp.Filter.HANN;
        try (CsvTable csv = new CsvTable(dir.resolve("validation.csv"), List.of("method", "parameter", "value", "psnr_mean", "ssim_mean"))) {
            if (s.isCt()) {
                filter = chooseFbpFilter(s, runs, csv, sec, log);
                methods.add(fbp(filter));
                parameters.put("fbp", "filter " + filter.id());
            } else {
                methods.add(observed());
                parameters.put("observed", "the data itself");
            }
            ImagingRuns.Selection sel = chooseTvLambda(s, runs, s.isCt() ? config.ctLambdas() : config.deblurLambdas(), config.refine(),
                    config.iterations(), filter, csv, sec);
            methods.add(tvPdhg(sel.best().value(), config.iterations(), filter));
            parameters.put("tv-pdhg", String.format(Locale.ROOT, "λ = %.4g, %d iterations", sel.best().value(), config.iterations()));
        }

        List<Row> rows = new ArrayList<>();
        Map<String, List<ImagePipeline.Result>> results = new LinkedHashMap<>();
        try (ImageOutputs outputs = new ImageOutputs(dir, s.name(), "results.csv")) {
            for (Reconstruction m : methods) {
                List<ImagePipeline.Result> rs = runs.run(s, s.test(), m, m.name().equals("tv-pdhg"));
                for (int i = 0; i < rs.size(); i++) {
                    outputs.write(rs.get(i), i < config.pictures());
                }
                results.put(m.name(), rs);
                Row row = row(s.name(), m.name(), parameters.get(m.name()), rs);
                rows.add(row);
                log.printf(Locale.ROOT, "  %-10s %-9s test PSNR %6.2f ± %.2f dB  SSIM %.4f ± %.4f  (%d images)%n", s.name(), m.name(),
                        row.psnrMean(), row.psnrStd(), row.ssimMean(), row.ssimStd(), row.images());
            }
        }
        writeGrid(s, dir.resolve("grid.png"), results, config.pictures());
        sec.append("![").append(s.name()).append(" test images](").append(s.name()).append("/grid.png)\n\n");
        String first = s.test().get(0).id();
        sec.append("Convergence of TV-PDHG on ").append(first).append(" (energy; critical-point residual ‖x⁺ − x‖/τ, ")
                .append("primal and dual residuals):\n\n");
        sec.append("![convergence](").append(s.name()).append('/').append(first).append("-tv-pdhg-convergence.png)\n\n");
        sections.append(sec);
        return rows;
    }

    /** The truths of the first {@code pictures} test images next to each method's reconstruction, one row per image. */
    static void writeGrid(ImagingSetting s, Path file, Map<String, List<ImagePipeline.Result>> results, int pictures) throws IOException {
        ImageGrid grid = new ImageGrid(1 + results.size(), 192);
        int n = Math.min(pictures, s.test().size());
        for (int i = 0; i < n; i++) {
            ImageTask t = s.test().get(i);
            double lo = Arrays.stream(box(t.truth())).min().orElse(0);
            double hi = Arrays.stream(box(t.truth())).max().orElse(1);
            grid.add(t.truth(), t.h(), t.w(), lo, hi, t.id());
            for (var e : results.entrySet()) {
                ImagePipeline.Result r = e.getValue().get(i);
                grid.add(r.x(), t.h(), t.w(), lo, hi, String.format(Locale.ROOT, "%s %.2f dB, SSIM %.3f", e.getKey(), r.psnr(), r.ssim()));
            }
        }
        grid.writePng(file);
    }

    private static double[] box(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }

    static Row row(String setting, String method, String parameters, List<ImagePipeline.Result> rs) {
        double[] p = rs.stream().mapToDouble(ImagePipeline.Result::psnr).toArray();
        double[] q = rs.stream().mapToDouble(ImagePipeline.Result::ssim).toArray();
        double[] t = rs.stream().mapToDouble(ImagePipeline.Result::seconds).toArray();
        return new Row(setting, method, parameters, rs.size(), ImageOutputs.mean(p), ImageOutputs.std(p), ImageOutputs.mean(q),
                ImageOutputs.std(q), ImageOutputs.mean(t));
    }

    private String report(List<Row> rows, String sections, double minutes) {
        StringBuilder sb = new StringBuilder("# TV baselines: FBP and TV-PDHG for CT, TV deblurring\n\n");
        sb.append("Made by `").append(invocation).append("` on ").append(Instant.now().truncatedTo(ChronoUnit.SECONDS)).append(" in ")
                .append(String.format(Locale.ROOT, "%.1f", minutes)).append(" minutes (")
                .append(Runtime.getRuntime().availableProcessors()).append(" cores; ").append(BlasInfo.current().describe())
                .append(").\n\n");
        sb.append("Model: min ½‖Ax − y‖² + λ TV(x) subject to x ≥ 0 (isotropic TV), solved by PDHG with the blocks ")
                .append("balanced, K = [A; μ∇], μ = ‖A‖/‖∇‖, TV weight λ/μ (the same problem; see `Reconstructors`), τ = σ = 0.99/‖K‖, ")
                .append(config.iterations()).append(" iterations from the FBP (CT) or the data (deblurring). Noise: Gaussian, standard ")
                .append("deviation ").append(config.noise()).append(" × max|Ax|, seeded per image. PSNR and SSIM as scikit-image ")
                .append("(data range of the truth). Parameters (FBP filter, λ) are chosen by mean PSNR on validation images; ")
                .append("the table is over the held-out test images, mean ± sample standard deviation. No method looks at the truth.\n\n");
        sb.append("| setting | method | parameters | images | PSNR (dB) | SSIM | seconds / image |\n|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %.2f ± %.2f | %.4f ± %.4f | %.2f |%n", r.setting(), r.method(),
                    r.parameters(), r.images(), r.psnrMean(), r.psnrStd(), r.ssimMean(), r.ssimStd(), r.seconds()));
        }
        sb.append("\nPer-image figures: `<setting>/results.csv`; parameter searches: `<setting>/validation.csv`; ")
                .append("images of the first test images: `<setting>/<id>-<method>.png` (and `.npy`).\n\n## Settings\n\n");
        sb.append(sections);
        return sb.toString();
    }

    private static String ids(List<ImageTask> tasks) {
        return tasks.stream().map(ImageTask::id).collect(Collectors.joining(", "));
    }

    /** The result table as CSV. */
    static void writeSummary(Path file, List<Row> rows) throws IOException {
        try (CsvTable csv = new CsvTable(file, List.of("setting", "method", "parameters", "images", "psnr_mean", "psnr_std", "ssim_mean",
                "ssim_std", "seconds_mean"))) {
            for (Row r : rows) {
                csv.row(r.setting(), r.method(), r.parameters(), (long) r.images(), r.psnrMean(), r.psnrStd(), r.ssimMean(), r.ssimStd(),
                        r.seconds());
            }
        }
    }

    /** Chooses the FBP filter by mean validation PSNR, writing the search to {@code csv} and {@code sec}. */
    static Fbp.Filter chooseFbpFilter(ImagingSetting s, ImagingRuns runs, CsvTable csv, StringBuilder sec, PrintStream log)
            throws IOException {
        sec.append("FBP filter, chosen by mean validation PSNR:\n\n| filter | PSNR (dB) | SSIM |\n|---|---|---|\n");
        double best = Double.NEGATIVE_INFINITY;
        Fbp.Filter filter = Fbp.Filter.HANN;
        for (Fbp.Filter f : Fbp.Filter.values()) {
            List<ImagePipeline.Result> rs = runs.run(s, s.validation(), fbp(f).named("fbp-validation"), false);
            double p = rs.stream().mapToDouble(ImagePipeline.Result::psnr).average().orElseThrow();
            double q = rs.stream().mapToDouble(ImagePipeline.Result::ssim).average().orElseThrow();
            log.printf(Locale.ROOT, "  %-10s fbp filter %-12s validation PSNR %6.2f dB  SSIM %.4f%n", s.name(), f.id(), p, q);
            csv.row("fbp", "filter", f.id(), p, q);
            sec.append(String.format(Locale.ROOT, "| %s | %.2f | %.4f |%n", f.id(), p, q));
            if (p > best) {
                best = p;
                filter = f;
            }
        }
        sec.append("\nChosen: **").append(filter.id()).append("** (also the warm start of the iterative methods).\n\n");
        return filter;
    }

    /** Chooses the TV weight by mean validation PSNR, writing the search to {@code csv} and {@code sec}. */
    static ImagingRuns.Selection chooseTvLambda(ImagingSetting s, ImagingRuns runs, double[] grid, boolean refine, int iterations,
                                                Fbp.Filter warm, CsvTable csv, StringBuilder sec) throws IOException {
        ImagingRuns.Selection sel = runs.select(s, "lambda", grid, refine, v -> tvPdhg(v, iterations, warm));
        sec.append("TV-PDHG weight λ, chosen by mean validation PSNR (").append(iterations)
                .append(" iterations each):\n\n| λ | PSNR (dB) | SSIM |\n|---|---|---|\n");
        List<ImagingRuns.Trial> sorted = new ArrayList<>(sel.trials());
        sorted.sort((a, b) -> Double.compare(a.value(), b.value()));
        for (ImagingRuns.Trial t : sorted) {
            csv.row("tv-pdhg", "lambda", t.value(), t.psnr(), t.ssim());
            sec.append(String.format(Locale.ROOT, "| %.4g | %.2f | %.4f |%n", t.value(), t.psnr(), t.ssim()));
        }
        sec.append(String.format(Locale.ROOT, "%nChosen: **λ = %.4g**.", sel.best().value()));
        if (sel.atEdge()) {
            sec.append(" It lies on the edge of the grid; a wider grid may find a better λ.");
        }
        sec.append("\n\n");
        return sel;
    }

    static Reconstruction fbp(Fbp.Filter f) {
        return Reconstruction.of(new Reconstructors.Options("fbp", 0, 1, 0, 0.01, f));
    }

    static Reconstruction tvPdhg(double lambda, int iterations, Fbp.Filter warm) {
        return Reconstruction.of(new Reconstructors.Options("tv-pdhg", lambda, iterations, 0, 0.01, warm));
    }

    /** The data taken as the image (a baseline for deblurring and denoising, where the data is an image). */
    static Reconstruction observed() {
        return new Reconstruction() {
            @Override
            public String name() {
                return "observed";
            }

            @Override
            public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener) {
                if (a.rangeSize() != a.domainSize()) {
                    throw new IllegalArgumentException("the data is not an image of the reconstruction's size");
                }
                return new SolverResult(y.clone(), 0, false, 0, null);
            }
        };
    }
}
