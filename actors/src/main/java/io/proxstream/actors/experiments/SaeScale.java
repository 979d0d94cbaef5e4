package io.proxstream.actors.experiments;

import io.proxstream.actors.train.MemoryPlan;
import io.proxstream.actors.train.Trainers;
import io.proxstream.monitoring.TaskProgress;
import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.monitoring.report.Plot;
import io.proxstream.protocol.config.DecoderConfig;
import io.proxstream.protocol.config.SaeConfig;
import io.proxstream.protocol.config.TrainConfig;
import io.proxstream.protocol.config.TrainerConfig;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.protocol.format.Npy;
import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.data.PlantedDictionary;
import io.proxstream.solvers.sae.AdamTrainer;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeEvaluator;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeTrainer;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * {@code experiment sae-scale}: PAM-SGD with the large-dictionary decoder step (conjugate gradients on
 * a window of stored codes, {@code trainer.decoder.step = cg}) against the strong Adam baseline at the
 * sizes interpretability users train: 384 → 16 384 on MiniLM activations and 768 → 16 384 on the
 * planted-dictionary stream, TopK k = 32, batch 4096, the {@code train} command's default settings,
 * 3 seeds each. Both trainers of a seed see the same stream; the held-out FVU and dead latents are
 * measured at fixed sample counts, so the curves compare at equal samples and, through the
 * training time (evaluation excluded), at equal wall time.
 *
 * <p>{@code experiment sae-steps} ({@link #steps()}) runs the same comparison between PAM-SGD's two decoder
 * steps, the iterative one against the exact Cholesky step, at 4 096 latents where the exact step is cheap:
 * does the approximation cost held-out FVU on MiniLM activations and on the planted stream?
 */
public final class SaeScale implements Experiment {
    static final long SEED = 42;
    static final String PAM = "PAM-SGD (cg step)";
    static final String PAM_EXACT = "PAM-SGD (exact step)";
    static final String ADAM = "Adam, strong";

    private final boolean steps;

    /** {@code sae-scale}: PAM-SGD (cg step) against strong Adam at 16 384 latents. */
    public SaeScale() {
        this(false);
    }

    private SaeScale(boolean steps) {
        this.steps = steps;
    }

    /** {@code sae-steps}: PAM-SGD's cg step against its exact step at 4 096 latents. */
    public static SaeScale steps() {
        return new SaeScale(true);
    }

    /**
     * One data setting.
     *
     * @param features planted features (planted stream only)
     * @param baseRate planted stream: expected firings scale (p_i = decay^i · baseRate / features)
     * @param decay    planted stream: geometric decay of the firing probabilities
     */
    record Setting(String id, String title, boolean minilm, int d, int m, int k, int batch, long samples, long every, int features,
                   double baseRate, double decay, String algoA, String algoB) {
        Setting(String id, String title, boolean minilm, int d, int m, int k, int batch, long samples, long every, int features,
                double baseRate, double decay) {
            this(id, title, minilm, d, m, k, batch, samples, every, features, baseRate, decay, "pam", "adam-strong");
        }

        /** The same setting comparing PAM-SGD's cg step with its exact step. */
        Setting steps() {
            return new Setting(id, title, minilm, d, m, k, batch, samples, every, features, baseRate, decay, "pam", "pam-exact");
        }
    }

    record Config(List<Setting> settings, int seeds, int lmRows, int evalRows) {
        static Config full() {
            return new Config(List.of(
                    new Setting("minilm", "MiniLM block 3, 384 → 16 384", true, 384, 16_384, 32, 4096, 409_600, 40_960, 0, 0, 0),
                    new Setting("planted", "planted dictionary, 768 → 16 384", false, 768, 16_384, 32, 4096, 409_600, 40_960, 4096, 20,
                            0.999)),
                    3, 200_000, 8192);
        }

        static Config quick() {
            return new Config(List.of(
                    new Setting("minilm", "MiniLM block 3, 384 → 1 024 (quick)", true, 384, 1024, 16, 256, 16_384, 4096, 0, 0, 0),
                    new Setting("planted", "planted dictionary, 128 → 1 024 (quick)", false, 128, 1024, 16, 256, 16_384, 4096, 512, 5, 0.99)),
                    3, 6_000, 1024);
        }

        /** sae-steps: 4 096 latents, where the exact step is cheap enough to run beside the cg step. */
        static Config stepsFull() {
            return new Config(List.of(
                    new Setting("minilm", "MiniLM block 3, 384 → 4 096", true, 384, 4096, 32, 1024, 307_200, 30_720, 0, 0, 0).steps(),
                    new Setting("planted", "planted dictionary, 256 → 4 096", false, 256, 4096, 32, 1024, 307_200, 30_720, 4096, 20,
                            0.999).steps()),
                    3, 200_000, 8192);
        }

        static Config stepsQuick() {
            return new Config(List.of(
                    new Setting("minilm", "MiniLM block 3, 384 → 512 (quick)", true, 384, 512, 16, 256, 8_192, 2048, 0, 0, 0).steps(),
                    new Setting("planted", "planted dictionary, 128 → 512 (quick)", false, 128, 512, 16, 256, 8_192, 2048, 512, 5,
                            0.99).steps()),
                    3, 6_000, 1024);
        }
    }

    /** Held-out measurements after {@code samples} vectors and {@code seconds} of training (evaluation excluded). */
    record Point(long samples, double seconds, double fvu, int dead, double l0) {
    }

    /** One trainer on one seed: its curve and memory. */
    record Run(String algo, long seed, List<Point> points, long liveHeap, long planned) {
        Point last() {
            return points.get(points.size() - 1);
        }

        double rate() {
            return last().samples() / last().seconds();
        }

        /** FVU at {@code t} seconds of training, interpolated linearly between measurements (NaN past the end). */
        double fvuAtSeconds(double t) {
            for (int i = 1; i < points.size(); i++) {
                Point a = points.get(i - 1);
                Point b = points.get(i);
                if (t <= b.seconds() + 1e-9) {
                    double w = b.seconds() > a.seconds() ? (t - a.seconds()) / (b.seconds() - a.seconds()) : 1;
                    return a.fvu() + Math.max(0, Math.min(1, w)) * (b.fvu() - a.fvu());
                }
            }
            return Double.NaN;
        }
    }

    @Override
    public void run(boolean quick, Path out, PrintStream log, ActorSystem<?> system) throws Exception {
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        Config c = steps ? (quick ? Config.stepsQuick() : Config.stepsFull()) : quick ? Config.quick() : Config.full();
        StringBuilder body = new StringBuilder();
        List<String[]> summary = new ArrayList<>();
        try (CsvTable csv = new CsvTable(out.resolve("curves.csv"),
                List.of("setting", "trainer", "seed", "samples", "seconds", "fvu", "dead", "l0"))) {
            for (Setting s : c.settings()) {
                Data data = data(s, c, log);
                log.println(s.title() + ": " + data.describe());
                List<Run> runs = new ArrayList<>();
                for (int seed = 1; seed <= c.seeds(); seed++) {
                    for (String algo : List.of(s.algoA(), s.algoB())) {
                        Run r = train(s, algo, seed, data, log);
                        runs.add(r);
                        for (Point p : r.points()) {
                            csv.row(s.id(), label(algo), (long) seed, p.samples(), p.seconds(), p.fvu(), (long) p.dead(), p.l0());
                        }
                    }
                }
                plots(out.resolve("fvu-" + s.id() + ".png"), s, runs);
                body.append(section(s, data, runs, c.seeds(), summary));
            }
        }
        double minutes = (System.nanoTime() - t0) / 60e9;
        String name = steps ? "sae-steps" : "sae-scale";
        StringBuilder rep = new StringBuilder(SaeReport.header(steps ? "sae-steps: PAM-SGD's iterative decoder step against its exact step"
                        : "sae-scale: PAM-SGD's large-dictionary step against Adam at 16 384 latents",
                "proxstream experiment " + name + (quick ? " --quick" : ""), SEED, minutes));
        if (steps) {
            rep.append("The exact step solves the decoder's normal equations by a Cholesky factorisation of the m × m statistics ")
                    .append("(`trainer.decoder.step = exact`); the cg step by at most 8 conjugate-gradient products on a window of 65 536 ")
                    .append("stored code rows, older rows kept as a gradient and per-latent curvature (`cg`, the default above 8 192 ")
                    .append("latents). Everything else is the same for both, including the stream and the initial model of a seed. ");
        }
        rep.append("Each trainer starts from the same unit-norm initialisation for a seed and sees the same stream; both use the `train` ")
                .append("command's defaults (PAM-SGD: decoder first, closed-form decoder every 16 batches with forgetting 0.995, ")
                .append(steps ? "solved by the step each row names, and Adam lr 1e-3 on the encoder). "
                        : "here solved by `trainer.decoder.step = cg` — window 65 536 rows, 8 products, tolerance 1e-3 — and Adam lr 1e-3 "
                        + "on the encoder; Adam, strong: unit-norm atoms, median b_dec, AuxK with dead = silent for 1 000 000 samples). ")
                .append("Held-out FVU and dead latents (never firing on the held-out rows) are measured every few batches; the time axis ")
                .append("is training time only. Paired differences are the first trainer minus the second over the seeds, with 95 % ")
                .append("Student-t intervals. ")
                .append("Memory: the live heap after training (after a full GC, trainer still held) and the `MemoryPlan` estimate; ")
                .append(String.format(Locale.ROOT, "peak RSS of the whole experiment process: %s.%n%n", MemoryPlan.size(MemoryPlan.peakRss())));
        rep.append("| setting | trainer | FVU at end (mean ± sd) | vectors/s | dead at end | live heap | planned |\n|---|---|---|---|---|---|---|\n");
        for (String[] row : summary) {
            rep.append("| ").append(String.join(" | ", row)).append(" |\n");
        }
        rep.append('\n').append(body);
        AtomicFiles.writeString(out.resolve("report.md"), rep.toString());
    }

    static String label(String algo) {
        return switch (algo) {
            case "pam" -> PAM;
            case "pam-exact" -> PAM_EXACT;
            default -> ADAM;
        };
    }

    /** Training and held-out data of a setting. */
    private record Data(Dataset train, Dataset test, PlantedDictionary planted, String description) {
        String describe() {
            return description;
        }
    }

    private static Data data(Setting s, Config c, PrintStream log) throws Exception {
        if (s.minilm()) {
            Path file = SaeLm.activations(c.lmRows(), 128, log);
            float[] all = Npy.readAll(file);
            int n = all.length / s.d();
            int nTrain = (int) Math.round(0.9 * n);
            Dataset train = new Dataset(Arrays.copyOfRange(all, 0, nTrain * s.d()), nTrain, s.d());
            Dataset test = new Dataset(Arrays.copyOfRange(all, nTrain * s.d(), n * s.d()), n - nTrain, s.d());
            SaeStudy.zScore(train, test);
            return new Data(train, test, null, String.format(Locale.ROOT, "%,d training and %,d held-out residual vectors after block %d of "
                    + "all-MiniLM-L6-v2 (fortunes corpus, z-scored with the training statistics); the training rows are streamed in a "
                    + "fresh seeded order each pass (%.1f passes)", nTrain, n - nTrain, SaeLm.BLOCK, (double) s.samples() / nTrain));
        }
        PlantedDictionary gen = new PlantedDictionary(new PlantedDictionary.Options(s.d(), s.features(), s.baseRate(), s.decay(), 0,
                SEED));
        Dataset test = gen.sample(c.evalRows(), SEED + 1);
        return new Data(null, test, gen, String.format(Locale.ROOT, "%,d planted unit features in %d dimensions (p_i = %s^i · %s/%d, "
                + "%.2f active per sample, magnitude U(0,1), no noise; the dictionary of seed %d for every run), fresh samples "
                + "(%,d per trainer), %,d held-out samples", s.features(), s.d(), s.decay(), s.baseRate(), s.features(),
                gen.expectedActive(), SEED, s.samples(), test.rows()));
    }

    static TrainerConfig trainerConfig(String algo) {
        boolean exact = algo.equals("pam-exact");
        TrainerConfig t = TrainerConfig.defaults().withAlgo(exact ? "pam" : algo);
        DecoderConfig dc = DecoderConfig.defaults();
        return t.withDecoder(new DecoderConfig(exact ? "exact" : "cg", dc.window(), dc.iterations(), dc.tolerance()));
    }

    private static Run train(Setting s, String algo, long seed, Data data, PrintStream log) {
        long before = liveHeap();
        SaeConfig saeConfig = new SaeConfig(s.m(), "topk", s.k(), 0.0, "unit");
        TrainerConfig t = trainerConfig(algo);
        long planned = MemoryPlan.of(t, saeConfig, s.d(), s.batch(), false, 0).total();
        SaeModel model = Trainers.initialModel(saeConfig, t, s.d(), seed);
        SaeTrainer trainer = algo.startsWith("pam") ? new PamSgdTrainer(model, Trainers.pam(t))
                : new AdamTrainer(model, Trainers.adam(t), AdamTrainer.Recipe.strong(model.spec(), TrainConfig.defaults().deadWindow()));
        List<Point> points = new ArrayList<>();
        points.add(measure(0, 0, model, data.test()));
        SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + 7);   // the same stream for both trainers of a seed
        float[] x = new float[s.batch() * s.d()];
        int[] perm = data.train() != null ? data.train().permutation(rnd) : null;
        int pos = 0;
        long seen = 0;
        double seconds = 0;
        long live;
        String name = label(algo) + " seed " + seed;
        try (trainer; TaskProgress progress = TaskProgress.start(s.id() + ": " + name, s.samples(), "samples")) {
            long s0 = System.nanoTime();
            while (seen < s.samples()) {
                if (data.planted() != null) {
                    data.planted().fill(x, s.batch(), rnd);
                } else {
                    int filled = 0;
                    while (filled < s.batch()) {
                        if (pos == perm.length) {
                            perm = data.train().permutation(rnd);
                            pos = 0;
                        }
                        int take = Math.min(s.batch() - filled, perm.length - pos);
                        float[] part = new float[take * s.d()];
                        data.train().gather(perm, pos, pos + take, part);
                        System.arraycopy(part, 0, x, filled * s.d(), part.length);
                        filled += take;
                        pos += take;
                    }
                }
                trainer.decoderStage(trainer.encoderStage(x, s.batch()));
                seen += s.batch();
                progress.stepBy(s.batch());
                if (seen % s.every() < s.batch() || seen >= s.samples()) {
                    seconds += (System.nanoTime() - s0) / 1e9;
                    if (!model.isFinite()) {
                        throw new IllegalStateException(s.id() + ": " + name + ": parameters became non-finite after " + seen + " samples");
                    }
                    Point p = measure(seen, seconds, model, data.test());
                    points.add(p);
                    progress.note(String.format(Locale.ROOT, "held-out FVU %.4f", p.fvu()));
                    s0 = System.nanoTime();
                }
            }
            live = Math.max(0, liveHeap() - before);
        }
        Run r = new Run(algo, seed, List.copyOf(points), live, planned);
        Point last = r.last();
        log.printf(Locale.ROOT, "  %-28s %,9d samples  FVU %.4f  dead %5d  L0 %5.1f  %,7.0f vec/s  live heap %s%n", name, last.samples(),
                last.fvu(), last.dead(), last.l0(), r.rate(), MemoryPlan.size(live));
        return r;
    }

    private static Point measure(long samples, double seconds, SaeModel model, Dataset test) {
        SaeEvaluator.Result r = SaeEvaluator.evaluate(model, test, 1024);
        return new Point(samples, seconds, r.fvu(), r.dead(), r.l0());
    }

    private static long liveHeap() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static void plots(Path file, Setting s, List<Run> runs) throws IOException {
        String first = s.algoA();
        Plot bySamples = new Plot(s.title() + ": held-out FVU", "samples", "FVU").logY(true).size(640, 420);
        Plot byTime = new Plot(s.title() + ": held-out FVU", "training seconds", "FVU").logY(true).size(640, 420);
        for (Run r : runs) {
            List<Point> pts = r.points().subList(1, r.points().size());
            String name = label(r.algo()) + " seed " + r.seed();
            boolean dashed = !r.algo().equals(first);
            bySamples.add(name, pts.stream().mapToDouble(Point::samples).toArray(), pts.stream().mapToDouble(Point::fvu).toArray(), dashed);
            byTime.add(name, pts.stream().mapToDouble(Point::seconds).toArray(), pts.stream().mapToDouble(Point::fvu).toArray(), dashed);
        }
        Plot.writePngRow(file, bySamples, byTime);
    }

    private static String section(Setting s, Data data, List<Run> runs, int seeds, List<String[]> summary) {
        // the two trainers compared: A and B of the setting
        List<Run> first = runs.stream().filter(r -> r.algo().equals(s.algoA())).toList();
        List<Run> second = runs.stream().filter(r -> r.algo().equals(s.algoB())).toList();
        String la = label(s.algoA());
        String lb = label(s.algoB());
        StringBuilder sb = new StringBuilder("## ").append(s.title()).append("\n\n");
        sb.append(String.format(Locale.ROOT, "Data: %s. SAE: %d → %d, TopK k = %d, batch %d, %,d samples per trainer, %d seeds.%n%n",
                data.describe(), s.d(), s.m(), s.k(), s.batch(), s.samples(), seeds));
        for (List<Run> group : List.of(first, second)) {
            double[] fvu = group.stream().mapToDouble(r -> r.last().fvu()).toArray();
            summary.add(new String[] {s.title(), label(group.get(0).algo()), meanSd(fvu, "%.4f"),
                    String.format(Locale.ROOT, "%,.0f", group.stream().mapToDouble(Run::rate).average().orElse(Double.NaN)),
                    String.format(Locale.ROOT, "%.0f", group.stream().mapToDouble(r -> r.last().dead()).average().orElse(Double.NaN)),
                    MemoryPlan.size(group.stream().mapToLong(Run::liveHeap).max().orElse(0)),
                    MemoryPlan.size(group.get(0).planned())});
        }
        sb.append("**Held-out FVU at equal samples** (mean ± sd over seeds; paired difference ").append(la).append(" − ").append(lb)
                .append(" with its 95 % interval):\n\n");
        sb.append("| samples | ").append(la).append(" | ").append(lb).append(" | paired difference | dead (first / second) |\n|---|---|---|---|---|\n");
        int points = first.get(0).points().size();
        for (int i = 1; i < points; i++) {
            int at = i;
            double[] a = first.stream().mapToDouble(r -> r.points().get(at).fvu()).toArray();
            double[] b = second.stream().mapToDouble(r -> r.points().get(at).fvu()).toArray();
            PairedDifference diff = PairedDifference.of(a, b);
            sb.append(String.format(Locale.ROOT, "| %,d | %s | %s | %s%s | %.0f / %.0f |%n", first.get(0).points().get(i).samples(),
                    meanSd(a, "%.4f"), meanSd(b, "%.4f"), diff.format(3), diff.resolved() ? "" : " (not resolved)",
                    first.stream().mapToDouble(r -> r.points().get(at).dead()).average().orElse(Double.NaN),
                    second.stream().mapToDouble(r -> r.points().get(at).dead()).average().orElse(Double.NaN)));
        }
        // equal wall time: at the training time the faster-finishing trainer of each seed used in all
        double[] a = new double[first.size()];
        double[] b = new double[first.size()];
        double tEnd = Double.POSITIVE_INFINITY;
        for (int i = 0; i < first.size(); i++) {
            tEnd = Math.min(tEnd, Math.min(first.get(i).last().seconds(), second.get(i).last().seconds()));
        }
        double startFirst = first.stream().mapToDouble(r -> r.points().get(1).seconds()).max().orElse(0);
        double startSecond = second.stream().mapToDouble(r -> r.points().get(1).seconds()).max().orElse(0);
        sb.append("\n**At equal wall time** (held-out FVU interpolated between measurements, at fractions of the shortest run's ")
                .append("training time where every run has been measured):\n\n");
        StringBuilder rows = new StringBuilder();
        for (double frac : new double[] {0.25, 0.5, 0.75, 1.0}) {
            double t = frac * tEnd;
            if (t < Math.max(startFirst, startSecond)) {
                continue;
            }
            for (int i = 0; i < first.size(); i++) {
                a[i] = first.get(i).fvuAtSeconds(t);
                b[i] = second.get(i).fvuAtSeconds(t);
            }
            rows.append(String.format(Locale.ROOT, "| %.3g | %s | %s | %s |%n", t, meanSd(a, "%.4f"), meanSd(b, "%.4f"),
                    PairedDifference.of(a, b).format(3)));
        }
        sb.append(rows.isEmpty() ? String.format(Locale.ROOT, "No common time: a trainer's first measurement (%.3g s) came after the "
                + "shortest run ended (%.3g s).%n", Math.max(startFirst, startSecond), tEnd)
                : "| training seconds | " + la + " | " + lb + " | paired difference |\n|---|---|---|---|\n" + rows);
        double rateFirst = first.stream().mapToDouble(Run::rate).average().orElse(Double.NaN);
        double rateSecond = second.stream().mapToDouble(Run::rate).average().orElse(Double.NaN);
        double[] pf = first.stream().mapToDouble(r -> r.last().fvu()).toArray();
        double[] af = second.stream().mapToDouble(r -> r.last().fvu()).toArray();
        PairedDifference end = PairedDifference.of(pf, af);
        sb.append(String.format(Locale.ROOT, "%nThroughput: %s %,.0f vectors/s, %s %,.0f (ratio %.2f). After %,d samples the first's "
                        + "held-out FVU is %s the second's by %s%s.%n%n![FVU](fvu-%s.png)%n%n", la, rateFirst, lb, rateSecond, rateFirst / rateSecond,
                s.samples(), end.mean() < 0 ? "below" : "above", end.format(3), end.resolved() ? "" : " — not resolved by these seeds",
                s.id()));
        return sb.toString();
    }

    static String meanSd(double[] v, String fmt) {
        double mean = Arrays.stream(v).average().orElse(Double.NaN);
        double ss = 0;
        for (double x : v) {
            ss += (x - mean) * (x - mean);
        }
        double sd = v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0;
        return String.format(Locale.ROOT, fmt + " ± " + fmt, mean, sd);
    }
}
