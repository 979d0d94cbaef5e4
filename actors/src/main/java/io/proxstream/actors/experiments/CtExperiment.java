package io.proxstream.actors.experiments;

import io.proxstream.actors.image.ImageOutputs;
import io.proxstream.actors.image.ImagePipeline;
import io.proxstream.actors.image.ImageTask;
import io.proxstream.actors.image.Reconstruction;
import io.proxstream.actors.learned.CriticTraining;
import io.proxstream.actors.learned.LearnedReconstruction;
import io.proxstream.actors.learned.RegulariserFile;
import io.proxstream.monitoring.CriticMeters;
import io.proxstream.monitoring.ImageMeters;
import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.monitoring.report.Plot;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.nn.Convexity;
import io.proxstream.solvers.nn.Critic;
import io.proxstream.solvers.nn.Iwcnn;
import io.proxstream.solvers.nn.LearnedRegulariser;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * {@code experiment ct}: learned regularisers for sparse-view and limited-angle CT (spec/inverse.md).
 * Per setting: FBP (filter chosen on validation) and TV-PDHG (λ chosen on validation) as baselines;
 * AR, ACR, AWCR and ACNCR critics trained adversarially on (phantom, FBP) pairs of training phantoms
 * disjoint from validation and test; λ = factor × the spec's heuristic, the factor chosen on
 * validation; reconstruction by gradient descent (all) and the primal-dual method (AWCR-PD);
 * convexity checks; the trained regularisers saved for {@code reconstruct --regulariser}.
 */
public final class CtExperiment {

    /**
     * @param size          phantom side
     * @param validation    validation phantoms per setting
     * @param test          test phantoms per setting
     * @param noise         Gaussian noise × max|Ax|
     * @param tvIterations  TV-PDHG iterations
     * @param tvLambdas     TV λ grid
     * @param tvRefine      refine TV's λ between the grid points next to the best
     * @param kinds         regularisers to train (ar, acr, awcr, acncr)
     * @param architecture  every critic's architecture (but AWCR's with {@code publicAwcr})
     * @param publicAwcr    AWCR at the public code's widths for each setting ({@link #publicIwcnn})
     * @param training      the adversarial training
     * @param gdIterations  gradient-descent iterations with a learned R
     * @param pdIterations  primal-dual iterations (AWCR-PD)
     * @param lambdaFactors multiples of the λ heuristic tried on validation (ascending)
     * @param lines         random lines per convexity check
     * @param pictures      test images in the picture grid
     * @param seed          phantoms, noise, initialisation
     */
    public record Config(int size, int validation, int test, double noise, int tvIterations, double[] tvLambdas, boolean tvRefine,
                         List<String> kinds,
                         Critic.Architecture architecture, boolean publicAwcr, CriticTraining.Config training, int gdIterations,
                         int pdIterations, double[] lambdaFactors, int lines, int pictures, long seed) {

        /**
         * The public code's IWCNN for each setting (spec/inverse.md): ICNN 5 layers × 16 channels on a smooth map of 5×5
         * convolutions + SiLU, for sparse view six of them (1→16→32→32→64→64→128, four at stride 2: the second and the
         * last three, our reading of "four with stride 2"), for limited angle one (1→128). The ICNN's kernel (3×3) and the
         * quadratic term are ours.
         */
        public static Critic.Architecture publicIwcnn(String setting) {
            return switch (setting) {
                case "ct-sparse" -> new Critic.Architecture(5, 16, 3, new int[] {16, 32, 32, 64, 64, 128}, 1e-4,
                        new int[] {1, 2, 1, 2, 2, 2});
                case "ct-limited" -> new Critic.Architecture(5, 16, 3, new int[] {128}, 1e-4);
                default -> throw new IllegalArgumentException("no public IWCNN for setting " + setting);
            };
        }

        /** The architecture of {@code kind}'s critic in {@code setting}: AWCR's the public one when asked for, else every critic's. */
        public Critic.Architecture architectureFor(Critic.Kind kind, String setting) {
            return publicAwcr && kind == Critic.Kind.AWCR ? publicIwcnn(setting) : architecture;
        }

        /**
         * The step size of the public-width AWCR's training: the public code's (RMSprop at 10⁻⁴, spec/inverse.md; here Adam
         * at the same size). At the CPU step size 2·10⁻³ the 500 000-parameter sparse-view critic blew up its gradient
         * penalty within 4 steps (4.8) and then sat at a Wasserstein estimate of about 0 for the 60 steps we watched.
         */
        public static final double PUBLIC_AWCR_LEARNING_RATE = 1e-4;

        /**
         * The training of {@code kind}'s critic: the configured one; for the public-width AWCR at
         * {@link #PUBLIC_AWCR_LEARNING_RATE} and ending with its best held-out parameters (the CPU-width critics keep the
         * last step's, as the default run trained them).
         */
        public CriticTraining.Config trainingFor(Critic.Kind kind) {
            if (!(publicAwcr && kind == Critic.Kind.AWCR)) {
                return training;
            }
            CriticTraining.Config t = training.withLearningRate(PUBLIC_AWCR_LEARNING_RATE);
            // it collapsed after its best held-out measurement (1.91 at step 100, 0.04 at step 120): keep the best
            return training.stopping().enabled() ? t.withStopping(training.stopping().restoringBest()) : t;
        }

        /** The same configuration with AWCR's critic at the public code's widths ({@link #publicIwcnn}). */
        public Config withPublicAwcr() {
            return new Config(size, validation, test, noise, tvIterations, tvLambdas, tvRefine, kinds, architecture, true, training,
                    gdIterations, pdIterations, lambdaFactors, lines, pictures, seed);
        }

        /**
         * The full run (several hours on 2 cores; resumable): 128² random ellipses, critics trained on 120 phantoms
         * until the held-out Wasserstein estimate (16 pairs, measured every 20 steps) has not risen by 1 % for 5
         * measurements, at most 40 epochs (1 200 steps of 4 pairs); 2 validation and 50 test phantoms per setting.
         */
        public static Config full() {
            return new Config(128, 2, 50, 0.01, 300, new double[] {1, 3, 10, 30, 100}, true, List.of("ar", "acr", "awcr", "acncr"),
                    Critic.Architecture.defaults(), false, new CriticTraining.Config(120, 40, 4, 2e-3, Double.NaN, 2, 20, 1)
                    .withStopping(new CriticTraining.Stopping(20, 16, 5, 0.01)), 100, 200,
                    new double[] {0.1, 0.3, 1, 3, 10, 30}, 12, 2, 1);
        }

        /**
         * The same configuration with critics trained a fixed {@code steps} steps (no stopping rule); {@code steps} must be
         * a whole number of epochs.
         */
        public Config withFixedTraining(long steps) {
            CriticTraining.Config t = training;
            long perEpoch = t.images() / t.batch();
            if (steps < 1 || steps % perEpoch != 0) {
                throw new IllegalArgumentException("critic steps must be a positive multiple of " + perEpoch + " (one epoch), got " + steps);
            }
            CriticTraining.Config fixed = new CriticTraining.Config(t.images(), (int) (steps / perEpoch), t.batch(), t.learningRate(), t.mu(),
                    t.threads(), t.checkpointEvery(), t.seed(), CriticTraining.Stopping.NONE, t.phantoms());
            return new Config(size, validation, test, noise, tvIterations, tvLambdas, tvRefine, kinds, architecture, publicAwcr, fixed,
                    gdIterations, pdIterations, lambdaFactors, lines, pictures, seed);
        }

        /** The same configuration on phantoms of {@code family} (training, validation and test). */
        public Config withPhantoms(Phantoms.Family family) {
            return new Config(size, validation, test, noise, tvIterations, tvLambdas, tvRefine, kinds, architecture, publicAwcr,
                    training.withPhantoms(family), gdIterations, pdIterations, lambdaFactors, lines, pictures, seed);
        }

        /** The same configuration with {@code images} test images per setting. */
        public Config withTestImages(int images) {
            if (images < 1) {
                throw new IllegalArgumentException("test images must be >= 1, got " + images);
            }
            return new Config(size, validation, images, noise, tvIterations, tvLambdas, tvRefine, kinds, architecture, publicAwcr, training,
                    gdIterations, pdIterations, lambdaFactors, lines, pictures, seed);
        }

        /** The same configuration with only the regularisers {@code ids} (of ar, acr, awcr, acncr; no repeats). */
        public Config withKinds(List<String> ids) {
            if (ids == null || ids.isEmpty()) {
                throw new IllegalArgumentException("no regularisers given; choose from ar, acr, awcr, acncr");
            }
            for (String id : ids) {
                Critic.Kind.fromId(id);
            }
            if (ids.stream().distinct().count() != ids.size()) {
                throw new IllegalArgumentException("a regulariser is named twice: " + ids);
            }
            return new Config(size, validation, test, noise, tvIterations, tvLambdas, tvRefine, List.copyOf(ids), architecture, publicAwcr, training,
                    gdIterations, pdIterations, lambdaFactors, lines, pictures, seed);
        }

        /**
         * The same structure at 32² with a few training steps (for CI; about a minute); the held-out estimate is measured
         * (at steps 4 and 8) but cannot stop 8 steps.
         */
        public static Config quick() {
            return new Config(32, 2, 2, 0.01, 50, new double[] {1, 10}, false, List.of("ar", "acr", "awcr", "acncr"),
                    new Critic.Architecture(2, 4, 3, new int[] {4}, 1e-4), false, new CriticTraining.Config(16, 2, 4, 1e-3, Double.NaN, 2, 4, 1)
                            .withStopping(new CriticTraining.Stopping(4, 2, 3, 0.01)),
                    20, 30, new double[] {1, 3}, 4, 1, 1);
        }
    }

    private final Config config;
    private final Path out;
    private final PrintStream log;
    private final String invocation;
    private final MeterRegistry registry;

    public CtExperiment(Config config, String invocation, Path out, PrintStream log, MeterRegistry registry) {
        this.config = config;
        this.invocation = invocation;
        this.out = out;
        this.log = log;
        this.registry = registry;
    }

    /** Trains, reconstructs and writes the report; returns the result table. */
    public List<TvBaselines.Row> run(ActorSystem<?> system) throws IOException {
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        Map<String, Object> echo = new LinkedHashMap<>();
        echo.put("experiment", "ct");
        echo.put("config", config);
        AtomicFiles.writeString(out.resolve("config.json"), ConfigLoader.toJson(echo) + "\n");
        // the work is parallel over samples and images: one BLAS thread per worker thread
        int blasBefore = BlasInfo.setThreads(1);
        String blas = BlasInfo.current().describe();
        List<TvBaselines.Row> rows = new ArrayList<>();
        StringBuilder sections = new StringBuilder();
        List<String[]> convexity = new ArrayList<>();
        try {
            ImagingRuns runs = new ImagingRuns(system, new ImageMeters(registry), Math.max(1, Runtime.getRuntime().availableProcessors()), log);
            for (ImagingSetting s : TvBaselines.ctSettings(config.size(), config.validation(), config.test(), config.noise(), config.seed(),
                    config.training().phantoms())) {
                log.println(s.name() + ": " + s.title());
                rows.addAll(runSetting(system, s, runs, sections, convexity));
            }
        } finally {
            if (blasBefore > 0) {
                BlasInfo.setThreads(blasBefore);
            }
        }
        TvBaselines.writeSummary(out.resolve("summary.csv"), rows);
        double minutes = (System.nanoTime() - t0) / 60e9;
        AtomicFiles.writeString(out.resolve("report.md"), report(rows, convexity, sections.toString(), minutes, blas));
        return rows;
    }

    private List<TvBaselines.Row> runSetting(ActorSystem<?> system, ImagingSetting s, ImagingRuns runs, StringBuilder sections,
                                             List<String[]> convexity) throws IOException {
        Path dir = out.resolve(s.name());
        Files.createDirectories(dir);
        int n = config.size();
        RayTransform a = (RayTransform) s.model().operator(n, n);
        double norm = a.normEstimate(40, 13);
        StringBuilder sec = new StringBuilder();
        sec.append("### ").append(s.name()).append(": ").append(s.title()).append("\n\n");
        sec.append("- data: ").append(s.model().describe()).append(String.format(Locale.ROOT, "; ‖A‖ = %.2f%n", norm));
        sec.append("- validation images: ").append(ids(s.validation())).append('\n');
        sec.append("- test images: ").append(ids(s.test())).append("\n\n");

        List<Reconstruction> methods = new ArrayList<>();
        Map<String, String> parameters = new LinkedHashMap<>();
        Map<String, Critic> critics = new LinkedHashMap<>();
        Map<String, Double> lambdas = new LinkedHashMap<>();
        Fbp.Filter filter;
        List<float[]> valTruths = s.validation().stream().map(ImageTask::truth).toList();
        List<float[]> valData = s.validation().stream().map(t -> s.model().measure(a, t)).toList();
        Fbp fbp = s.model().fbp(a);
        Map<String, List<CriticTraining.Step>> previous = previousTraining(dir.resolve("training.csv"));
        List<String> reused = new ArrayList<>();
        try (CsvTable csv = new CsvTable(dir.resolve("validation.csv"), List.of("method", "parameter", "value", "psnr_mean", "ssim_mean"));
             CsvTable train = new CsvTable(dir.resolve("training.csv"), List.of("regulariser", "step", "epoch", "loss", "wasserstein",
                     "penalty", "seconds", "validation_wasserstein"));
             ValidationLedger validated = ValidationLedger.open(dir.resolve("validation-ledger.csv"))) {
            if (validated.size() > 0) {
                log.printf(Locale.ROOT, "  %-10s %d validation scores in %s from an earlier run; search points scored for the same "
                        + "critic are not solved again%n", s.name(), validated.size(), dir.resolve("validation-ledger.csv"));
            }
            filter = TvBaselines.chooseFbpFilter(s, runs, csv, sec, log);
            methods.add(TvBaselines.fbp(filter));
            parameters.put("fbp", "filter " + filter.id());
            ImagingRuns.Selection tv = TvBaselines.chooseTvLambda(s, runs, config.tvLambdas(), config.tvRefine(), config.tvIterations(), filter, csv, sec);
            methods.add(TvBaselines.tvPdhg(tv.best().value(), config.tvIterations(), filter));
            parameters.put("tv-pdhg", String.format(Locale.ROOT, "λ = %.4g, %d iterations", tv.best().value(), config.tvIterations()));

            methods.add(LearnedReconstruction.dataOnly("data-gd", false, config.gdIterations()));
            parameters.put("data-gd", String.format(Locale.ROOT, "λ = 0 (no regulariser), %d iterations", config.gdIterations()));
            methods.add(LearnedReconstruction.dataOnly("data-pd", true, config.pdIterations()));
            parameters.put("data-pd", String.format(Locale.ROOT, "λ = 0, x ≥ 0, %d iterations", config.pdIterations()));
            double heuristic = LearnedRegulariser.lambdaHeuristic(a, valTruths, valData);
            sec.append(String.format(Locale.ROOT, "λ heuristic (mean ‖Aᵀ(A x_true − y)‖ over the validation images): %.4g. "
                    + "Learned regularisers: %s, critics trained for %d steps of %d pairs (%d training phantoms × %d epochs), "
                    + "Adam(%.0e, 0.5, 0.99).%n%n", heuristic, config.architecture()
                    + (config.publicAwcr() && config.kinds().contains("awcr") ? "; AWCR at the public code's widths: "
                    + Config.publicIwcnn(s.name()) + String.format(Locale.ROOT, " trained at the public step size %.0e",
                    Config.PUBLIC_AWCR_LEARNING_RATE) : ""), config.training().steps(), config.training().batch(),
                    config.training().images(), config.training().epochs(), config.training().learningRate()));
            sec.append("| regulariser | training (s) | steps (stop) | final Wasserstein estimate (train / held-out) | λ factor @ iterations (per factor: best validation PSNR dB @ its iterations) |\n|---|---|---|---|---|\n");
            Plot curves = new Plot(s.name() + ": critic training", "step", "Wasserstein estimate (mean R(FBP) - mean R(truth))");
            for (String id : config.kinds()) {
                Critic.Kind kind = Critic.Kind.fromId(id);
                Critic critic = new Critic(kind, config.architectureFor(kind, s.name()), n, a, norm, config.seed() * 1_000 + kind.ordinal());
                Path file = dir.resolve(id + ".safetensors");
                List<CriticTraining.Step> steps;
                RegulariserFile.Loaded done = reusable(file, critic, s);
                if (done != null && previous.containsKey(id)) {
                    // a finished regulariser of this very configuration from an earlier run into the same directory
                    critic.setParams(done.critic().params());
                    steps = previous.get(id);
                    reused.add(id);
                    log.printf(Locale.ROOT, "  %-10s reusing %s (trained %d steps by an earlier run of this configuration)%n", s.name(),
                            file, done.steps());
                } else {
                    // a training checkpoint of this configuration continues; any other file is moved aside, never lost
                    long from = resumableCheckpoint(file, critic, s);
                    List<CriticTraining.Step> earlier = from <= 0 ? List.of()
                            : previous.getOrDefault(id, List.of()).stream().filter(st -> st.step() <= from).toList();
                    for (CriticTraining.Step st : earlier) {
                        trainingRow(train, id, st);
                    }
                    log.printf(Locale.ROOT, "  %-10s training %s (step size %.0e): at most %d steps%s%s%n", s.name(), critic,
                            config.trainingFor(kind).learningRate(), config.training().steps(),
                            config.training().stopping().enabled() ? ", until the held-out Wasserstein estimate levels off" : "",
                            from > 0 ? ", continuing from the checkpoint after step " + from : "");
                    List<CriticTraining.Step> fresh = CriticTraining.run(system, critic, s.model(), a, norm, config.trainingFor(kind),
                            new CriticMeters(registry, s.name() + "/" + id), file, st -> {
                                trainingRow(train, id, st);
                                if (st.step() % 20 == 0 || st.step() == config.training().steps()) {
                                    log.printf(Locale.ROOT, "  %-10s %-6s step %4d  loss %9.4f  W %8.4f  penalty %8.4f  held-out W %8.4f  %6.1f s%n",
                                            s.name(), id, st.step(), st.loss(), st.wasserstein(), st.penalty(), st.validation(), st.seconds());
                                }
                            });
                    steps = new ArrayList<>(earlier);
                    steps.addAll(fresh);
                }
                if (reused.contains(id)) {
                    for (CriticTraining.Step st : steps) {
                        trainingRow(train, id, st);
                    }
                }
                double[] x = new double[steps.size()];
                double[] w = new double[steps.size()];
                for (int i = 0; i < steps.size(); i++) {
                    CriticTraining.Step st = steps.get(i);
                    x[i] = st.step();
                    w[i] = st.wasserstein();
                }
                curves.add(id, x, smooth(w, 10));
                String gdName = id + "-gd";
                // what a validation score depends on besides λ: the critic's parameters, the data and the validation images
                String validationKey = s.model().describe() + "; validation " + ids(s.validation()) + crc(critic);
                ImagingRuns.BudgetSelection sel = runs.selectWithBudget(s, "lambda", scale(config.lambdaFactors(), heuristic),
                        budgets(config.gdIterations()), (v, k) -> LearnedReconstruction.gradientDescent(gdName, critic, v, k), validated,
                        validationKey);
                for (ImagingRuns.BudgetTrial t : sel.trials()) {
                    csv.row(gdName, "lambda@" + t.iterations(), t.value(), t.psnr(), t.ssim());
                }
                double lambda = sel.best().value();
                int gdBudget = sel.best().iterations();
                // the Lipschitz constant of ∇(λR) is λ times that of ∇R. A reused critic keeps the estimate stored with it: the
                // power iteration's last digits differ between CPUs (AVX-512 and AVX2 kernels), and the validation ledger's key
                // holds it, so a re-estimate on another machine would re-run every AWCR-PD validation search
                String storedUnit = done != null && reused.contains(id) ? done.metadata().get("lipschitz_unit") : null;
                double lipUnit = storedUnit != null ? Double.parseDouble(storedUnit)
                        : 2 * LearnedRegulariser.estimateLipschitz(critic.net(), 1, fbp.reconstruct(valData.get(0)), 8, 1e-2, config.seed());
                double lip = lambda * lipUnit;
                Map<String, String> meta = new LinkedHashMap<>(Map.of("setting", s.name(), "data", s.model().describe(), "training",
                        config.trainingFor(kind).toString()));
                meta.put("iterations_gd", Integer.toString(gdBudget));
                meta.put("lipschitz_unit", Double.toString(lipUnit));
                ImagingRuns.BudgetSelection pdSel = null;
                if (kind == Critic.Kind.AWCR) {
                    // each solver gets its own λ and iteration budget, both chosen on the validation images
                    pdSel = runs.selectWithBudget(s, "lambda", scale(config.lambdaFactors(), heuristic), budgets(config.pdIterations()),
                            (v, k) -> LearnedReconstruction.primalDual("awcr-pd", critic, v, v * lipUnit, k), validated,
                            validationKey + String.format(Locale.ROOT, "; Lipschitz unit %.17g", lipUnit));
                    for (ImagingRuns.BudgetTrial t : pdSel.trials()) {
                        csv.row("awcr-pd", "lambda@" + t.iterations(), t.value(), t.psnr(), t.ssim());
                    }
                    meta.put("lambda_pd", Double.toString(pdSel.best().value()));
                    meta.put("iterations_pd", Integer.toString(pdSel.best().iterations()));
                }
                RegulariserFile.save(file, critic, a, norm, lambda, lip, steps.isEmpty() ? 0 : steps.get(steps.size() - 1).step(), meta);
                critics.put(id, critic);
                lambdas.put(id, lambda);
                sec.append(String.format(Locale.ROOT, "| %s | %.0f | %s | %.4f / %.4f | **%.3g @ %d** (%s)%s |%n", id,
                        steps.isEmpty() ? 0 : steps.get(steps.size() - 1).seconds(), stopNote(steps), steps.isEmpty() ? Double.NaN
                                : steps.get(steps.size() - 1).wasserstein(), lastHeldOut(steps), lambda / heuristic, gdBudget,
                        sel.summary(heuristic), edges(sel)));
                methods.add(LearnedReconstruction.gradientDescent(gdName, critic, lambda, gdBudget));
                parameters.put(gdName, String.format(Locale.ROOT, "λ = %.4g, %d of %d iterations", lambda, gdBudget, config.gdIterations()));
                if (pdSel != null) {
                    double lpd = pdSel.best().value();
                    int pdBudget = pdSel.best().iterations();
                    sec.append(String.format(Locale.ROOT, "| awcr (primal-dual) | | | **%.3g @ %d** (%s)%s |%n", lpd / heuristic, pdBudget,
                            pdSel.summary(heuristic), edges(pdSel)));
                    methods.add(LearnedReconstruction.primalDual("awcr-pd", critic, lpd, lpd * lipUnit, pdBudget));
                    parameters.put("awcr-pd", String.format(Locale.ROOT, "λ = %.4g, L from %.3g by backtracking, %d of %d iterations", lpd,
                            lpd * lipUnit, pdBudget, config.pdIterations()));
                    // the same λ run for the whole budget: how the method converges (the convergence plot) and what the
                    // energy's critical points are worth as images
                    methods.add(LearnedReconstruction.primalDual("awcr-pd-all", critic, lpd, lpd * lipUnit, config.pdIterations()));
                    parameters.put("awcr-pd-all", String.format(Locale.ROOT, "awcr-pd's λ, all %d iterations", config.pdIterations()));
                }
            }
            curves.writePng(dir.resolve("training.png"));
        }
        if (!reused.isEmpty()) {
            sec.append("\nReused from an earlier run of this configuration into the same directory (not retrained): ")
                    .append(String.join(", ", reused)).append(".\n");
        }
        sec.append("\nCritic training (moving average over 10 steps):\n\n![training](").append(s.name()).append("/training.png)\n\n");

        List<TvBaselines.Row> rows = new ArrayList<>();
        Map<String, List<ImagePipeline.Result>> results = new LinkedHashMap<>();
        try (ImageOutputs outputs = new ImageOutputs(dir, s.name(), "results.csv");
             TestLedger ledger = TestLedger.open(dir.resolve("test-ledger.csv"))) {
            if (ledger.size() > 0) {
                log.printf(Locale.ROOT, "  %-10s %d test scores in %s from an earlier run; images scored under the same parameters "
                        + "are not solved again%n", s.name(), ledger.size(), dir.resolve("test-ledger.csv"));
            }
            for (Reconstruction m : methods) {
                boolean trace = !m.name().equals("fbp");
                String key = parameters.get(m.name()) + fingerprint(m.name(), critics);
                // the picture images are always solved (their reconstructions are drawn); the rest only if not yet scored
                List<ImageTask> todo = new ArrayList<>();
                for (int i = 0; i < s.test().size(); i++) {
                    if (i < config.pictures() || ledger.get(m.name(), key, s.test().get(i)) == null) {
                        todo.add(s.test().get(i));
                    }
                }
                Map<String, ImagePipeline.Result> solved = new LinkedHashMap<>();
                for (ImagePipeline.Result r : runs.run(s, todo, m, trace, new int[0], true, r -> {
                    try {
                        ledger.add(key, r);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                })) {
                    solved.put(r.task().id(), r);
                }
                List<ImagePipeline.Result> rs = new ArrayList<>();
                for (ImageTask t : s.test()) {
                    ImagePipeline.Result r = solved.get(t.id());
                    rs.add(r != null ? r : ledger.get(m.name(), key, t));
                }
                for (int i = 0; i < rs.size(); i++) {
                    outputs.write(rs.get(i), i < config.pictures());
                }
                results.put(m.name(), rs);
                TvBaselines.Row row = TvBaselines.row(s.name(), m.name(), parameters.get(m.name()), rs);
                rows.add(row);
                log.printf(Locale.ROOT, "  %-10s %-9s test PSNR %6.2f ± %.2f dB  SSIM %.4f ± %.4f  (%d images)%n", s.name(), m.name(),
                        row.psnrMean(), row.psnrStd(), row.ssimMean(), row.ssimStd(), row.images());
            }
        }
        sec.append(pairedTable(results));
        sec.append(oracleTable(results));
        TvBaselines.writeGrid(s, dir.resolve("grid.png"), results, config.pictures());
        sec.append("![").append(s.name()).append(" test images](").append(s.name()).append("/grid.png)\n\n");
        String first = s.test().get(0).id();
        sec.append("Convergence on ").append(first).append(" of AWCR-PD over its whole budget (energy; critical-point residual ‖x⁺ − x‖/τ and "
                + "its ergodic mean against the O(log k / k) reference) and of AWCR-GD (gradient norm):\n\n");
        sec.append("![awcr-pd](").append(s.name()).append('/').append(first).append("-awcr-pd-all-convergence.png)\n");
        sec.append("![awcr-gd](").append(s.name()).append('/').append(first).append("-awcr-gd-convergence.png)\n\n");
        convexity.addAll(convexityChecks(s, a, fbp, critics, lambdas));
        sections.append(sec);
        return rows;
    }

    /**
     * The iteration budgets tried on validation for a solver given at most {@code max} iterations: 10, 25, 50, 100,
     * 200, … below {@code max}, and {@code max}.
     */
    static int[] budgets(int max) {
        List<Integer> out = new ArrayList<>();
        for (int b : new int[] {10, 25, 50}) {
            if (b < max) {
                out.add(b);
            }
        }
        for (long b = 100; b < max; b *= 2) {
            out.add((int) b);
        }
        out.add(max);
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Paired differences on the test images (PSNR and SSIM, 95 % t-intervals) for the comparisons the report makes:
     * AWCR-PD against AWCR-GD and against its own full budget, each learned method against FBP and TV-PDHG, and
     * each learned method against the same solver without a regulariser.
     */
    static String pairedTable(Map<String, List<ImagePipeline.Result>> results) {
        List<String[]> pairs = new ArrayList<>();
        pairs.add(new String[] {"awcr-pd", "awcr-gd"});
        pairs.add(new String[] {"awcr-pd", "awcr-pd-all"});
        for (String m : results.keySet()) {
            if (m.endsWith("-gd") && !m.startsWith("data-") || m.equals("awcr-pd")) {
                pairs.add(new String[] {m, "fbp"});
                pairs.add(new String[] {m, "tv-pdhg"});
                pairs.add(new String[] {m, m.endsWith("-gd") ? "data-gd" : "data-pd"});
            }
        }
        StringBuilder sb = new StringBuilder("Paired differences on the test images (mean [95 % t-interval]; resolved when the interval "
                + "excludes 0):\n\n| comparison | images | PSNR difference (dB) | SSIM difference |\n|---|---|---|---|\n");
        int added = 0;
        for (String[] p : pairs) {
            List<ImagePipeline.Result> a = results.get(p[0]);
            List<ImagePipeline.Result> b = results.get(p[1]);
            if (a == null || b == null) {
                continue;
            }
            PairedDifference psnr = PairedDifference.of(a.stream().mapToDouble(ImagePipeline.Result::psnr).toArray(),
                    b.stream().mapToDouble(ImagePipeline.Result::psnr).toArray());
            PairedDifference ssim = PairedDifference.of(a.stream().mapToDouble(ImagePipeline.Result::ssim).toArray(),
                    b.stream().mapToDouble(ImagePipeline.Result::ssim).toArray());
            sb.append(String.format(Locale.ROOT, "| %s − %s | %d | %s | %s |%n", p[0], p[1], psnr.n(), psnr.format(3), ssim.format(3)));
            added++;
        }
        return added == 0 ? "" : sb.append('\n').toString();
    }

    /**
     * The best-iterate protocol (labelled so): for each method that shows its iterates, the iterate closest to the truth
     * by PSNR, as the public code reports; not a method (it looks at the truth), but comparable with published figures.
     * With paired differences for AWCR-PD against AWCR-GD under this protocol.
     */
    static String oracleTable(Map<String, List<ImagePipeline.Result>> results) {
        StringBuilder sb = new StringBuilder();
        for (var e : results.entrySet()) {
            List<ImagePipeline.Result> rs = e.getValue();
            if (rs.isEmpty() || rs.stream().anyMatch(r -> r.best() == null)) {
                continue;
            }
            double[] p = rs.stream().mapToDouble(r -> r.best().psnr()).toArray();
            double[] q = rs.stream().mapToDouble(r -> r.best().ssim()).toArray();
            double[] it = rs.stream().mapToDouble(r -> r.best().iteration()).toArray();
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.2f ± %.2f | %.4f ± %.4f | %.0f (%.0f–%.0f) |%n", e.getKey(), rs.size(),
                    ImageOutputs.mean(p), ImageOutputs.std(p), ImageOutputs.mean(q), ImageOutputs.std(q), ImageOutputs.mean(it),
                    java.util.Arrays.stream(it).min().orElseThrow(), java.util.Arrays.stream(it).max().orElseThrow()));
        }
        if (sb.length() == 0) {
            return "";
        }
        StringBuilder out = new StringBuilder("Oracle protocol, labelled as such: the best iterate against the truth (every iteration "
                + "scored by PSNR, the best kept). It is not a method — it looks at the truth — but it is how the public code reports, "
                + "so these figures compare with published ones. Validation-chosen budgets above are the honest figures.\n\n"
                + "| method (best iterate) | images | PSNR (dB) | SSIM | iteration of the best (range) |\n|---|---|---|---|---|\n");
        out.append(sb).append('\n');
        List<ImagePipeline.Result> pd = results.get("awcr-pd-all");
        List<ImagePipeline.Result> gd = results.get("awcr-gd");
        if (pd != null && gd != null && pd.stream().allMatch(r -> r.best() != null) && gd.stream().allMatch(r -> r.best() != null)) {
            PairedDifference d = PairedDifference.of(pd.stream().mapToDouble(r -> r.best().psnr()).toArray(),
                    gd.stream().mapToDouble(r -> r.best().psnr()).toArray());
            out.append(String.format(Locale.ROOT, "Best iterate, awcr-pd (whole budget) − awcr-gd: %s dB (n = %d).%n%n", d.format(3), d.n()));
        }
        return out.toString();
    }

    /** For learned methods, a fingerprint of the critic's parameters (a retrained critic never reuses old test scores). */
    private static String fingerprint(String method, Map<String, Critic> critics) {
        String id = method.indexOf('-') < 0 ? method : method.substring(0, method.indexOf('-'));
        Critic c = critics.get(id);
        return c == null ? "" : crc(c);
    }

    /** A CRC-32C of the critic's parameters, as a key suffix. */
    private static String crc(Critic c) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4);
        for (io.proxstream.solvers.nn.Param p : c.params()) {
            for (float v : p.value()) {
                b.clear();
                b.putFloat(v);
                crc.update(b.array(), 0, 4);
            }
        }
        return String.format(Locale.ROOT, "; critic crc32c %08x", crc.getValue());
    }

    /** How many steps the critic took and why it stopped. */
    private String stopNote(List<CriticTraining.Step> steps) {
        if (steps.isEmpty()) {
            return "0";
        }
        long last = steps.get(steps.size() - 1).step();
        return last < config.training().steps() ? last + " (plateau)" : last + " (all epochs)";
    }

    private static double lastHeldOut(List<CriticTraining.Step> steps) {
        for (int i = steps.size() - 1; i >= 0; i--) {
            if (Double.isFinite(steps.get(i).validation())) {
                return steps.get(i).validation();
            }
        }
        return Double.NaN;
    }

    private static String edges(ImagingRuns.BudgetSelection sel) {
        if (sel.valueAtEdge() && sel.budgetAtEdge()) {
            return ", λ at the grid's edge, the largest budget";
        }
        return sel.valueAtEdge() ? ", λ at the grid's edge" : sel.budgetAtEdge() ? ", the largest budget" : "";
    }

    /** A finished regulariser file of exactly this critic's kind, architecture, size, data and training configuration, else null. */
    private RegulariserFile.Loaded reusable(Path file, Critic critic, ImagingSetting s) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            RegulariserFile.Loaded l = RegulariserFile.load(file);
            boolean same = l.critic().kind() == critic.kind() && l.critic().size() == critic.size()
                    && l.critic().architecture().toString().equals(critic.architecture().toString())
                    && Double.isFinite(l.lambda())
                    && s.model().describe().equals(l.metadata().get("data"))
                    && config.trainingFor(critic.kind()).toString().equals(l.metadata().get("training"));
            return same ? l : null;
        } catch (IOException | RuntimeException e) {
            log.println("  not reusing " + file + ": " + e.getMessage());
            return null;
        }
    }

    private static void trainingRow(CsvTable train, String id, CriticTraining.Step st) {
        try {
            train.row(id, st.step(), (long) st.epoch(), st.loss(), st.wasserstein(), st.penalty(), st.seconds(), st.validation());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * The steps of a training checkpoint at {@code file} of this critic, data and training configuration (to continue
     * from), else 0 — after moving any other file there aside ({@code <name>.superseded-<time>}), so nothing is lost.
     */
    private long resumableCheckpoint(Path file, Critic critic, ImagingSetting s) throws IOException {
        if (!Files.exists(file)) {
            return 0;
        }
        String why;
        try {
            RegulariserFile.Loaded l = RegulariserFile.load(file);
            boolean same = "training checkpoint".equals(l.metadata().get("state")) && l.critic().kind() == critic.kind()
                    && l.critic().size() == critic.size() && l.critic().architecture().toString().equals(critic.architecture().toString())
                    && s.model().describe().equals(l.metadata().get("data"))
                    && config.trainingFor(critic.kind()).toString().equals(l.metadata().get("training"));
            if (same) {
                return l.steps();
            }
            why = "of another configuration";
        } catch (IOException | RuntimeException e) {
            why = "unreadable (" + e.getMessage() + ")";
        }
        Path aside = file.resolveSibling(file.getFileName() + ".superseded-" + System.currentTimeMillis());
        Files.move(file, aside);
        log.printf(Locale.ROOT, "  %s is %s: moved to %s, training afresh%n", file, why, aside.getFileName());
        return 0;
    }

    /** The training rows of an earlier run in this directory, by regulariser (empty if none). */
    private static Map<String, List<CriticTraining.Step>> previousTraining(Path csv) throws IOException {
        Map<String, List<CriticTraining.Step>> out = new LinkedHashMap<>();
        if (!Files.isRegularFile(csv)) {
            return out;
        }
        for (Map<String, String> r : CsvTable.read(csv)) {
            String name = r.get("regulariser");
            try {
                out.computeIfAbsent(name, k -> new ArrayList<>()).add(new CriticTraining.Step(Long.parseLong(r.get("step")),
                        Integer.parseInt(r.get("epoch")), Double.parseDouble(r.get("loss")), Double.parseDouble(r.get("wasserstein")),
                        Double.parseDouble(r.get("penalty")), Double.parseDouble(r.get("seconds")),
                        r.get("validation_wasserstein") == null ? Double.NaN : Double.parseDouble(r.get("validation_wasserstein"))));
            } catch (NumberFormatException | NullPointerException e) {
                // a torn line: that regulariser is retrained
                out.remove(name);
            }
        }
        return out;
    }

    /** Convexity of the regularisers (and of ACNCR's whole energy) along random lines through test FBPs. */
    private List<String[]> convexityChecks(ImagingSetting s, RayTransform a, Fbp fbp, Map<String, Critic> critics, Map<String, Double> lambdas) {
        List<float[]> data = s.test().stream().map(t -> s.model().measure(a, t)).toList();
        List<float[]> centres = data.stream().map(fbp::reconstruct).toList();
        List<String[]> out = new ArrayList<>();
        double radius = 0.05;
        for (var e : critics.entrySet()) {
            Critic c = e.getValue().copy();
            Convexity.Report r = Convexity.alongLines(x -> c.net().forward(x)[0], centres, config.lines(), radius, 9, 1e-5, config.seed());
            String extra = "";
            Iwcnn iw = c.weaklyConvexPart();
            if (iw != null) {
                extra = String.format(Locale.ROOT, "ρ estimate of the IWCNN%s %.3g (softplus(p) = %.3g)",
                        c.kind() == Critic.Kind.ACNCR ? " (data space)" : "", iw.weakConvexityEstimate(config.lines(), 0.05, config.seed()),
                        iw.quadraticWeight());
            }
            out.add(new String[] {s.name(), e.getKey(), "R", pct(r), String.format(Locale.ROOT, "%.2e", r.worstSecondDifference()), extra});
            if (c.kind() == Critic.Kind.ACNCR) {
                double lambda = lambdas.get(e.getKey());
                for (int i = 0; i < 1; i++) {
                    float[] y = data.get(i);
                    Convexity.Report er = Convexity.alongLines(x -> energy(a, y, c, lambda, x), List.of(centres.get(i)), config.lines(), radius,
                            9, 1e-5, config.seed() + 1);
                    out.add(new String[] {s.name(), e.getKey(), String.format(Locale.ROOT, "½‖Ax − y‖² + λR, λ = %.3g (%s)", lambda,
                            s.test().get(i).id()), pct(er), String.format(Locale.ROOT, "%.2e", er.worstSecondDifference()), ""});
                }
            }
        }
        for (String[] row : out) {
            log.printf(Locale.ROOT, "  %-10s convexity %-6s %-40s convex on %s lines%n", row[0], row[1], row[2], row[3]);
        }
        return out;
    }

    private static double energy(RayTransform a, float[] y, Critic c, double lambda, float[] x) {
        float[] r = a.apply(x);
        double d = 0;
        for (int i = 0; i < r.length; i++) {
            double v = r[i] - y[i];
            d += v * v;
        }
        return 0.5 * d + lambda * c.net().forward(x)[0];
    }

    private static String pct(Convexity.Report r) {
        return r.convexLines() + "/" + r.lines();
    }

    private static double[] scale(double[] v, double s) {
        double[] o = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            o[i] = v[i] * s;
        }
        return o;
    }

    private static double[] smooth(double[] v, int k) {
        double[] o = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            double s = 0;
            int c = 0;
            for (int j = Math.max(0, i - k + 1); j <= i; j++) {
                s += v[j];
                c++;
            }
            o[i] = s / c;
        }
        return o;
    }

    private String report(List<TvBaselines.Row> rows, List<String[]> convexity, String sections, double minutes, String blas) {
        StringBuilder sb = new StringBuilder("# Learned regularisers for CT: AR, ACR, AWCR (GD and primal-dual), ACNCR against FBP and TV\n\n");
        sb.append("Made by `").append(invocation).append("` on ").append(Instant.now().truncatedTo(ChronoUnit.SECONDS)).append(" in ")
                .append(String.format(Locale.ROOT, "%.1f", minutes)).append(" minutes (")
                .append(Runtime.getRuntime().availableProcessors()).append(" cores; ").append(blas).append(").\n\n");
        sb.append("Energy ½‖Ax − y‖² + λR(x), R a critic trained adversarially (Wasserstein loss with gradient penalty: one-sided μ = 10 ")
                .append("for AR and AWCR, two-sided μ = 5 for ACR and ACNCR) to score FBP reconstructions of training phantoms above the ")
                .append("phantoms; AR = unconstrained CNN, ACR = ICNN + q‖x‖², AWCR = IWCNN, ACNCR = ½[IWCNN(Ax/‖A‖) + ICNN(x)] (its data-space ")
                .append("critic trained on (A·truth, noisy data)/‖A‖ pairs). λ = factor × heuristic, the factor chosen by mean validation PSNR ")
                .append("with gradient descent, and for AWCR-PD separately with the primal-dual method, which carries, like TV-PDHG, the constraint x ≥ 0. ")
                .append("The iteration budget is chosen with λ on the validation images (the iterates after 10, 25, 50, 100, … iterations ")
                .append("of one solve scored), for each solver separately: stopping early regularises as λ does. `awcr-pd-all` runs ")
                .append("AWCR-PD's λ for the whole budget (its convergence plot is the one shown). ")
                .append("`data-gd` and `data-pd` run the same solvers with λ = 0: what iterating on the data term from the FBP (and x ≥ 0) ")
                .append("gives without any regulariser, the yardstick for what the learned R adds. All iterative methods start from the FBP; ")
                .append("nothing stops on the truth of a test image. Table: held-out test phantoms, mean ± sample standard deviation.\n\n");
        sb.append("| setting | method | parameters | images | PSNR (dB) | SSIM | seconds / image |\n|---|---|---|---|---|---|---|\n");
        for (TvBaselines.Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %.2f ± %.2f | %.4f ± %.4f | %.2f |%n", r.setting(), r.method(),
                    r.parameters(), r.images(), r.psnrMean(), r.psnrStd(), r.ssimMean(), r.ssimStd(), r.seconds()));
        }
        sb.append("\n").append(verdict(rows)).append("\n## Convexity checks\n\n")
                .append("Random lines through test FBPs (radius 0.05·√n, 9 points each); a line counts as convex when every second ")
                .append("difference is ≥ −1e-5 × the largest |value| on it (float32 rounding). ACR's ICNN is convex by construction; ")
                .append("AR has no such constraint; the IWCNN's ρ is a lower estimate from second differences along random lines.\n\n")
                .append("| setting | regulariser | function | convex lines | worst relative second difference | notes |\n|---|---|---|---|---|---|\n");
        for (String[] c : convexity) {
            sb.append("| ").append(String.join(" | ", c)).append(" |\n");
        }
        sb.append("\nTrained regularisers: `<setting>/<kind>.safetensors` (with λ and the Lipschitz estimate); use them with ")
                .append("`proxstream reconstruct ct --method awcr-pd --regulariser FILE`. Per-image figures: `<setting>/results.csv`; ")
                .append("parameter searches: `<setting>/validation.csv`; critic losses per step: `<setting>/training.csv`.\n\n## Settings\n\n");
        sb.append(sections);
        return sb.toString();
    }

    /** One sentence per setting: the best learned method against TV-PDHG. */
    static String verdict(List<TvBaselines.Row> rows) {
        StringBuilder sb = new StringBuilder();
        Map<String, List<TvBaselines.Row>> by = new LinkedHashMap<>();
        for (TvBaselines.Row r : rows) {
            by.computeIfAbsent(r.setting(), k -> new ArrayList<>()).add(r);
        }
        for (var e : by.entrySet()) {
            TvBaselines.Row tv = null;
            TvBaselines.Row best = null;
            TvBaselines.Row fbp = null;
            for (TvBaselines.Row r : e.getValue()) {
                if (r.method().equals("tv-pdhg")) {
                    tv = r;
                } else if (r.method().startsWith("data-")) {
                    continue;
                } else if (r.method().equals("fbp")) {
                    fbp = r;
                } else if (best == null || r.psnrMean() > best.psnrMean()) {
                    best = r;
                }
            }
            if (tv == null || best == null || fbp == null) {
                continue;
            }
            sb.append(String.format(Locale.ROOT, "- %s: the best learned method, %s, reaches %.2f dB; TV-PDHG %.2f dB; FBP %.2f dB. "
                            + "Learned %s TV by %.2f dB (SSIM %.4f vs %.4f).%n", e.getKey(), best.method(), best.psnrMean(), tv.psnrMean(),
                    fbp.psnrMean(), best.psnrMean() > tv.psnrMean() ? "beats" : "fails to beat", Math.abs(best.psnrMean() - tv.psnrMean()),
                    best.ssimMean(), tv.ssimMean()));
        }
        return sb.toString();
    }

    private static String ids(List<ImageTask> tasks) {
        return String.join(", ", tasks.stream().map(ImageTask::id).toList());
    }
}
