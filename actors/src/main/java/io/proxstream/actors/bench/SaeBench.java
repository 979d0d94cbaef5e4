package io.proxstream.actors.bench;

import io.proxstream.actors.train.MemoryPlan;
import io.proxstream.monitoring.TaskProgress;
import io.proxstream.protocol.config.TrainerConfig;
import io.proxstream.actors.stream.Chunk;
import io.proxstream.actors.stream.TrainingStages;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.StreamMeters;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.parallel.Parallel;
import io.proxstream.solvers.sae.Adam;
import io.proxstream.solvers.sae.AdamTrainer;
import io.proxstream.solvers.sae.DecoderStatistics;
import io.proxstream.solvers.sae.DenseEncoderStep;
import io.proxstream.solvers.sae.EncodedBatch;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeGradients;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.SparseStep;
import io.proxstream.solvers.sae.Sparsifier;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code proxstream bench sae}: throughput of the SAE training kernels at two shapes, measured in
 * one process so that every comparison shares the machine state:
 * <ul>
 *   <li>the PAM-SGD encoder step on the sparse path (one GEMM + O(B·k·d) work + Adam) against a
 *       dense implementation of the same step (four GEMMs + Adam);</li>
 *   <li>decoder-statistics accumulation and the closed-form decoder solve;</li>
 *   <li>a 1024³ float32 GEMM, for the machine's BLAS throughput;</li>
 *   <li>the whole training stream against the same trainer driven by a plain loop on the same
 *       in-memory data.</li>
 * </ul>
 * Each timing is the median of {@code repeats} runs after a warm-up.
 */
public final class SaeBench {

    /** One benchmark shape. */
    public record Shape(String name, int d, int m, int k, int batch) {
    }

    public static final Shape MNIST = new Shape("MNIST", 784, 256, 15, 128);
    public static final Shape TRANSFORMER = new Shape("transformer", 384, 3072, 32, 256);

    /** Results of one shape. */
    public record Result(Shape shape, double sparseStep, double denseStep, double statsRate, double solveMs,
                         double streamRate, double loopRate, double streamToLoop, double adamRate, double gemmBound, double adamToBound) {
    }

    private final boolean quick;
    private final PrintStream out;
    private final ActorSystem<?> system;
    private final StreamMeters meters = new StreamMeters(new Meters().registry(), "bench");

    private final List<Shape> shapes;

    public SaeBench(ActorSystem<?> system, boolean quick, PrintStream out) {
        this(system, quick, out, List.of());
    }

    /** With {@code shapes} empty: the MNIST and transformer shapes and their targets; else those shapes only. */
    public SaeBench(ActorSystem<?> system, boolean quick, PrintStream out, List<Shape> shapes) {
        this.system = system;
        this.quick = quick;
        this.out = out;
        this.shapes = shapes;
    }

    /** A shape from {@code D,M,K,B} (input width, latents, k, batch). */
    public static Shape parseShape(String spec) {
        String[] p = spec.trim().split("\\s*,\\s*");
        if (p.length != 4) {
            throw new IllegalArgumentException("--shape " + spec + ": expected D,M,K,B (input width, latents, k, batch), e.g. 768,16384,32,4096");
        }
        try {
            int d = Integer.parseInt(p[0]);
            int m = Integer.parseInt(p[1]);
            int k = Integer.parseInt(p[2]);
            int b = Integer.parseInt(p[3]);
            if (d < 1 || m < 1 || k < 1 || k > m || b < 1) {
                throw new IllegalArgumentException("--shape " + spec + ": every size must be positive and k <= latents");
            }
            return new Shape(d + "x" + m, d, m, k, b);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--shape " + spec + ": expected four integers D,M,K,B");
        }
    }

    public List<Result> run() throws Exception {
        BlasInfo blas = BlasInfo.current();
        out.println("== proxstream bench sae ==");
        out.printf(Locale.ROOT, "machine: %d cores (%s), Java %s, heap max %d MiB%n", Runtime.getRuntime().availableProcessors(),
                System.getProperty("os.arch"), System.getProperty("java.version"), Runtime.getRuntime().maxMemory() >> 20);
        out.println("BLAS: " + blas.describe());
        out.printf(Locale.ROOT, "Java kernel threads: %d; Java float kernels: %s; mode: %s%n", Parallel.threads(),
                io.proxstream.solvers.linalg.Vec.describeKernels(), quick ? "quick" : "full");
        double gflops = gemmGflops();
        out.printf(Locale.ROOT, "GEMM 1024x1024x1024 float32: %.1f GFLOP/s%n%n", gflops);
        List<Result> results = new ArrayList<>();
        List<Shape> todo = shapes.isEmpty() ? List.of(MNIST, TRANSFORMER) : shapes;
        TaskProgress progress = TaskProgress.start("bench sae", todo.size(), "shapes");
        for (Shape s : todo) {
            // the PAM-SGD trainer and the Adam baseline of the shape, planned before they allocate
            for (String algo : List.of("pam", "adam")) {
                io.proxstream.actors.train.MemoryPlan.require("bench " + s.name(), io.proxstream.protocol.config.TrainerConfig.defaults().withAlgo(algo),
                        new io.proxstream.protocol.config.SaeConfig(s.m(), "topk", s.k(), 0, "unit"), s.d(), s.batch(), false,
                        batchBytes(s) * batchCount(s), 0, Runtime.getRuntime().maxMemory());
            }
            results.add(shape(s));
            progress.step();
        }
        progress.close();
        out.println();
        out.println("| shape | d | m | k | batch | sparse encoder step (vec/s) | dense encoder step (vec/s) | sparse/dense "
                + "| decoder stats (vec/s) | decoder solve (ms) | stream (vec/s) | plain loop (vec/s) | stream/loop "
                + "| adam-strong (vec/s) | GEMM bound (vec/s) | adam/bound |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (Result r : results) {
            Shape s = r.shape();
            out.printf(Locale.ROOT, "| %s | %d | %d | %d | %d | %,.0f | %,.0f | %.2f | %,.0f | %.1f | %,.0f | %,.0f | %.3f | %,.0f | %,.0f | %.2f |%n",
                    s.name(), s.d(), s.m(), s.k(), s.batch(), r.sparseStep(), r.denseStep(), r.sparseStep() / r.denseStep(),
                    r.statsRate(), r.solveMs(), r.streamRate(), r.loopRate(), r.streamToLoop(), r.adamRate(), r.gemmBound(),
                    r.adamToBound());
        }
        out.println();
        if (!shapes.isEmpty()) {
            return results;
        }
        Result mn = results.get(0);
        Result tr = results.get(1);
        target("PAM-SGD encoder step at the MNIST shape >= 20000 vec/s", mn.sparseStep() >= 20_000);
        target("PAM-SGD encoder step at the transformer shape >= 5000 vec/s", tr.sparseStep() >= 5_000);
        target("sparse step >= 2x dense step at the transformer shape", tr.sparseStep() >= 2 * tr.denseStep());
        target("stream >= 0.9 x plain loop (MNIST shape)", mn.streamToLoop() >= 0.9);
        target("stream >= 0.9 x plain loop (transformer shape)", tr.streamToLoop() >= 0.9);
        return results;
    }

    /**
     * What a served run's latent-health evaluation costs at this shape with the default settings
     * ({@link io.proxstream.protocol.config.HealthConfig#defaults()}): one evaluation of a full reservoir, against
     * the time training the same rows takes, and the share of training time at one evaluation per interval.
     */
    private void latentHealth(Shape s, SaeModel model, float[][] batches, double stepRate) {
        io.proxstream.protocol.config.HealthConfig hc = io.proxstream.protocol.config.HealthConfig.defaults();
        int rows = hc.rows();
        float[] x = new float[rows * s.d()];
        for (int r = 0, i = 0; r < rows; r += s.batch(), i++) {
            float[] b = batches[i % batches.length];
            System.arraycopy(b, 0, x, r * s.d(), Math.min(s.batch(), rows - r) * s.d());
        }
        io.proxstream.solvers.sae.LatentHealth.Settings settings = new io.proxstream.solvers.sae.LatentHealth.Settings(
                hc.denseFraction(), hc.cosineFlops(), 1);
        double best = Double.MAX_VALUE;
        io.proxstream.solvers.sae.LatentHealth.Result res = null;
        for (int i = 0; i < 2; i++) {
            long t0 = System.nanoTime();
            res = io.proxstream.solvers.sae.LatentHealth.evaluate(model, x, rows, 256, settings);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        long t0 = System.nanoTime();
        io.proxstream.solvers.sae.LatentHealth.maxCosine(model.decoderWeights(), s.m(), s.d(), hc.cosineFlops(), 1);
        double cosineOnly = (System.nanoTime() - t0) / 1e9;
        out.printf(Locale.ROOT, "  latent-health evaluation, %,d held-out rows: %.2f s (of it the decoder-cosine scan over %s: %.2f s);"
                        + " training those rows: %.2f s; at one evaluation per %.0f s: %.1f %% of training time%n",
                rows, best, res.cosineAtoms() == s.m() ? "all " + s.m() + " atoms" : res.cosineAtoms() + " sampled atoms", cosineOnly,
                rows / stepRate, hc.everySeconds(), 100 * best / hc.everySeconds());
    }

    private static long batchBytes(Shape s) {
        return 4L * s.batch() * s.d();
    }

    /** Distinct batches cycled through: 32, fewer for large shapes (at most 256 MiB of them). */
    private static int batchCount(Shape s) {
        return (int) Math.max(2, Math.min(32, (256L << 20) / batchBytes(s)));
    }

    private void target(String what, boolean met) {
        out.println((met ? "[met]     " : "[NOT MET] ") + what);
    }

    private static double gemmGflops() {
        int n = 1024;
        try (INDArray a = Nd4j.rand(DataType.FLOAT, n, n); INDArray b = Nd4j.rand(DataType.FLOAT, n, n);
             INDArray c = Nd4j.create(DataType.FLOAT, n, n)) {
            for (int i = 0; i < 3; i++) {
                Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
            }
            double[] t = new double[5];
            for (int r = 0; r < t.length; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < 4; i++) {
                    Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
                }
                t[r] = (System.nanoTime() - t0) / 4e9;
            }
            return 2.0 * n * n * n / median(t) / 1e9;
        }
    }

    private Result shape(Shape s) throws Exception {
        out.printf(Locale.ROOT, "-- %s shape: d=%d m=%d k=%d batch=%d (topk, untied, Adam lr 1e-3)%n", s.name(), s.d(), s.m(), s.k(), s.batch());
        SaeSpec spec = new SaeSpec(s.d(), s.m(), Sparsifier.TOPK, s.k(), 0, false);
        int nb = batchCount(s);
        float[][] batches = new float[nb][];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < nb; i++) {
            batches[i] = new float[s.batch() * s.d()];
            for (int j = 0; j < batches[i].length; j++) {
                batches[i][j] = (float) SaeModel.gaussian(rnd);
            }
        }
        int repeats = quick ? 3 : 5;

        // sparse PAM encoder step, as the stream runs it (no decoder solve in the timed part)
        SaeModel model = SaeModel.initialise(spec, SaeModel.Init.UNIT, 1);
        PamSgdTrainer.Options noSolve = new PamSgdTrainer.Options(Adam.Options.withLr(1e-3), 1, 0, 0, 0, 1e-6, 0,
                PamSgdTrainer.BlockOrder.DECODER_FIRST, Integer.MAX_VALUE, 1.0, true);
        double sparse;
        try (PamSgdTrainer t = new PamSgdTrainer(model, noSolve)) {
            sparse = rate(s.batch(), repeats, i -> t.encoderStage(batches[i % nb], s.batch()));
        }
        out.printf(Locale.ROOT, "  PAM-SGD encoder step, sparse path:  %,10.0f vec/s%n", sparse);
        latentHealth(s, model, batches, sparse);

        // dense implementation of the same step: gradient by four ND4J GEMMs, same Adam update
        SaeModel dm = SaeModel.initialise(spec, SaeModel.Init.UNIT, 1);
        SaeGradients g = new SaeGradients(spec, false);
        Adam adam = new Adam(Adam.Options.withLr(1e-3));
        Adam.State sw = new Adam.State(s.m() * s.d());
        Adam.State sb = new Adam.State(s.m());
        double dense;
        try (DenseEncoderStep ds = new DenseEncoderStep(spec, s.batch())) {
            dense = rate(s.batch(), repeats, i -> {
                ds.encoderGradient(dm, batches[i % nb], g);
                adam.beginStep();
                adam.update(dm.encoderWeights(), g.wEnc, null, s.d(), sw, null, 0f, 1f);
                adam.update(dm.encoderBias(), g.bEnc, null, s.m(), sb, null, 0f, 1f);
                dm.encoderChanged();
            });
        }
        out.printf(Locale.ROOT, "  same step, dense implementation:    %,10.0f vec/s  (sparse/dense %.2fx)%n", dense, sparse / dense);

        // decoder statistics and solve, in their own method: their m x m arrays (4 GiB at m = 16 384) are garbage
        // before the stream measurement builds trainers of its own
        double statsRate = Double.NaN;
        double solveMs = Double.NaN;
        if (exactStepFits(s)) {
            double[] statsAndSolve = decoderStatistics(s, spec, model, batches, repeats);
            statsRate = statsAndSolve[0];
            solveMs = statsAndSolve[1];
        } else {
            out.printf(Locale.ROOT, "  exact decoder step: not measured, its m x m statistics (%s twice) do not fit this heap%s%n",
                    io.proxstream.actors.train.MemoryPlan.size(8L * s.m() * s.m()),
                    s.m() > DecoderStatistics.MAX_LATENTS ? " or one Java array" : "");
        }
        // the iterative (cg) decoder step against the exact solve on the same stream, in this run
        DecoderStepBench.run(s, batches, model, TrainerConfig.defaults().solveEvery(), exactStepFits(s), out);

        // the whole stream vs a plain loop of the same trainer on the same data; this machine's speed
        // drifts (shared host), so loop and stream segments alternate and each stream segment is
        // compared with the loop segment right before it: the median of those paired ratios
        int solveEvery = 32;
        int segment = (int) Math.max(solveEvery, (quick ? 0.5 : 1.5) * sparse / s.batch() / 2);
        segment = (segment + solveEvery - 1) / solveEvery * solveEvery; // the same number of solves in every segment
        PamSgdTrainer.Options opts = new PamSgdTrainer.Options(Adam.Options.withLr(1e-3), 1, 0, 0, 0, 1e-6, 0,
                PamSgdTrainer.BlockOrder.DECODER_FIRST, solveEvery, 0.995, true);
        int pairs = quick ? 3 : 9;
        double[] loops = new double[pairs];
        double[] streams = new double[pairs];
        double[] ratios = new double[pairs];
        for (int r = -1; r < pairs; r++) {
            SaeModel lm = SaeModel.initialise(spec, SaeModel.Init.UNIT, 2);
            long t0 = System.nanoTime();
            try (PamSgdTrainer t = new PamSgdTrainer(lm, opts)) {
                for (int i = 0; i < segment; i++) {
                    t.step(batches[i % nb], s.batch());
                }
            }
            double lr = segment * (double) s.batch() / ((System.nanoTime() - t0) / 1e9);
            SaeModel sm = SaeModel.initialise(spec, SaeModel.Init.UNIT, 2);
            double sr;
            try (PamSgdTrainer t = new PamSgdTrainer(sm, opts)) {
                sr = streamRate(t, batches, s, segment);
            }
            if (r >= 0) {
                loops[r] = lr;
                streams[r] = sr;
                ratios[r] = sr / lr;
            }
        }
        double loop = median(loops);
        double stream = median(streams);
        double ratio = median(ratios);
        out.printf(Locale.ROOT, "  stream vs loop: %d alternating pairs of %d batches; paired ratios %s%n", pairs, segment,
                Arrays.stream(ratios).mapToObj(v -> String.format(Locale.ROOT, "%.2f", v)).toList());
        out.printf(Locale.ROOT, "  training stream (solve every %d):   %,10.0f vec/s%n", solveEvery, stream);
        out.printf(Locale.ROOT, "  same trainer, plain loop:           %,10.0f vec/s  (median paired stream/loop %.3f)%n", loop, ratio);
        double[] adamVsGemm = adamAgainstGemm(s, spec, batches, repeats);
        long peak = MemoryPlan.peakRss();
        out.printf(Locale.ROOT, "  peak RSS of this process so far (VmHWM): %s%s%n", peak > 0 ? MemoryPlan.size(peak) : "not available",
                exactStepFits(s) ? " (it includes the exact step's m x m statistics)" : "");
        return new Result(s, sparse, dense, statsRate, solveMs, stream, loop, ratio, adamVsGemm[0], adamVsGemm[1], adamVsGemm[2]);
    }

    /**
     * The strong Adam baseline's whole training step against the encoder-forward bound: the vectors/s that one
     * sgemm of the batch's own shape (B x d times (m x d)^T, the BLAS threads the trainer uses) allows. The step
     * and the GEMM alternate, so that the machine's drift hits both; the ratio is the median of the paired ratios.
     * Returns {adam-strong vec/s, bound vec/s, median ratio}.
     */
    private double[] adamAgainstGemm(Shape s, SaeSpec spec, float[][] batches, int repeats) throws Exception {
        int nb = batches.length;
        int pairs = repeats + 2;
        double[] gemm = new double[pairs];
        double[] step = new double[pairs];
        double[] ratio = new double[pairs];
        AdamTrainer.StepPhases[] phases = new AdamTrainer.StepPhases[pairs];
        SaeModel am = SaeModel.initialise(spec, SaeModel.Init.UNIT, 3);
        try (AdamTrainer t = new AdamTrainer(am, Adam.Options.withLr(1e-3), AdamTrainer.Recipe.strong(spec, 1_000_000));
             INDArray xs = Nd4j.create(DataType.FLOAT, s.batch(), s.d()); INDArray w = Nd4j.create(DataType.FLOAT, s.m(), s.d());
             INDArray c = Nd4j.create(DataType.FLOAT, s.batch(), s.m())) {
            xs.data().asNioFloat().put(0, batches[0], 0, s.batch() * s.d());
            w.data().asNioFloat().put(0, am.encoderWeights(), 0, s.m() * s.d());
            for (int i = 0; i < 2; i++) {
                Nd4j.gemm(xs, w, c, false, true, 1.0, 0.0);
                t.decoderStage(t.encoderStage(batches[i % nb], s.batch()));
            }
            for (int r = 0; r < pairs; r++) {
                long t0 = System.nanoTime();
                Nd4j.gemm(xs, w, c, false, true, 1.0, 0.0);
                gemm[r] = (System.nanoTime() - t0) / 1e9;
                t0 = System.nanoTime();
                t.decoderStage(t.encoderStage(batches[(r + 2) % nb], s.batch()));
                step[r] = (System.nanoTime() - t0) / 1e9;
                ratio[r] = gemm[r] / step[r];
                phases[r] = t.lastPhases();
            }
        }
        double rate = s.batch() / median(step);
        double bound = s.batch() / median(gemm);
        double r = median(ratio);
        out.printf(Locale.ROOT, "  adam-strong training step:           %,10.0f vec/s; encoder-forward bound (sgemm %dx%d times (%dx%d)^T,"
                        + " %d BLAS threads): %,.0f vec/s; ratio %.2f (median of %d paired ratios; target >= 0.80)%n", rate, s.batch(),
                s.d(), s.m(), s.d(), BlasInfo.current().threads(), bound, r, pairs);
        adamPhases(phases, median(step), median(gemm));
        adamWithDeadLatents(s, spec, batches, quick ? 3 : 5);
        return new double[] {rate, bound, r};
    }

    /**
     * Where the Adam step's time goes beside the GEMM: the trainer times the parts of each step itself
     * ({@link AdamTrainer#lastPhases()}); printed are the medians over the timed steps of each part, beside the
     * step's median and the bare sgemm's.
     */
    private void adamPhases(AdamTrainer.StepPhases[] all, double stepSeconds, double gemmSeconds) {
        // a skipped step (not finite) commits nothing and leaves the phases of the one before (or none)
        AdamTrainer.StepPhases[] phases = java.util.Arrays.stream(all).filter(java.util.Objects::nonNull)
                .toArray(AdamTrainer.StepPhases[]::new);
        if (phases.length == 0) {
            out.println("  adam-strong step: no step committed, no breakdown");
            return;
        }
        java.util.function.ToLongFunction<AdamTrainer.StepPhases> f;
        double[] v = new double[phases.length];
        String[] names = {"sgemm", "upload + copy-out + bias + TopK", "decode", "backward", "AuxK", "guards", "Adam", "atom passes"};
        java.util.List<java.util.function.ToLongFunction<AdamTrainer.StepPhases>> parts = java.util.List.of(
                AdamTrainer.StepPhases::gemm, AdamTrainer.StepPhases::select, AdamTrainer.StepPhases::decode,
                AdamTrainer.StepPhases::backward, AdamTrainer.StepPhases::auxK, AdamTrainer.StepPhases::guards,
                AdamTrainer.StepPhases::adam, AdamTrainer.StepPhases::atoms);
        StringBuilder line = new StringBuilder();
        for (int p = 0; p < parts.size(); p++) {
            f = parts.get(p);
            for (int r = 0; r < phases.length; r++) {
                v[r] = f.applyAsLong(phases[r]) / 1e6;
            }
            line.append(p == 0 ? "" : ", ").append(names[p]).append(String.format(Locale.ROOT, " %.0f", median(v)));
        }
        out.printf(Locale.ROOT, "  adam-strong step %.0f ms (bare sgemm %.0f ms), medians of its parts in ms: %s%n", stepSeconds * 1e3,
                gemmSeconds * 1e3, line);
    }

    /**
     * The same step once latents have died, as they do in a long run (the step above has none: its dead window is not
     * reached): a quarter of the latents start with encoder bias -1, so they hardly ever reach the TopK but still have
     * positive pre-activations, and the dead window is one batch, so AuxK (k_aux dead latents per row) runs in every step.
     */
    private void adamWithDeadLatents(Shape s, SaeSpec spec, float[][] batches, int repeats) {
        int nb = batches.length;
        SaeModel dm = SaeModel.initialise(spec, SaeModel.Init.UNIT, 4);
        for (int j = s.m() - s.m() / 4; j < s.m(); j++) {
            dm.encoderBias()[j] = -1f;
        }
        AdamTrainer.Recipe recipe = AdamTrainer.Recipe.strong(spec, s.batch());
        double[] step = new double[repeats];
        double[] aux = new double[repeats];
        int dead;
        try (AdamTrainer t = new AdamTrainer(dm, Adam.Options.withLr(1e-3), recipe)) {
            for (int i = 0; i < 2; i++) {
                t.decoderStage(t.encoderStage(batches[i % nb], s.batch()));
            }
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                t.decoderStage(t.encoderStage(batches[(r + 2) % nb], s.batch()));
                step[r] = (System.nanoTime() - t0) / 1e9;
                aux[r] = t.lastPhases() == null ? Double.NaN : t.lastPhases().auxK() / 1e9;   // null: no step committed yet
            }
            dead = t.deadLatents();
        }
        out.printf(Locale.ROOT, "  adam-strong step with dead latents (%,d of %,d dead, k_aux %d): %.0f ms, of it AuxK %.0f ms (medians of %d)%n",
                dead, s.m(), recipe.auxK(), median(step) * 1e3, median(aux) * 1e3, repeats);
    }

    /** Whether the exact step's two m x m double arrays fit in 60 % of this JVM's heap (and in Java arrays). */
    private static boolean exactStepFits(Shape s) {
        return s.m() <= DecoderStatistics.MAX_LATENTS && 16.0 * s.m() * s.m() <= 0.6 * Runtime.getRuntime().maxMemory();
    }

    /** Decoder-statistics accumulation (vectors/s) and the closed-form solve (ms, median) at shape {@code s}. */
    private double[] decoderStatistics(Shape s, SaeSpec spec, SaeModel model, float[][] batches, int repeats) throws Exception {
        int nb = batches.length;
        DecoderStatistics stats = new DecoderStatistics(s.m(), s.d());
        SparseStep step = new SparseStep(spec);
        EncodedBatch[] encoded = new EncodedBatch[nb];
        for (int i = 0; i < nb; i++) {
            step.encode(model, batches[i], s.batch());
            encoded[i] = new EncodedBatch(batches[i], s.batch(), step.codes().copy(), null);
        }
        step.close();
        double rate = rate(s.batch(), repeats, i -> {
            stats.forget(0.999);
            stats.accumulate(encoded[i % nb].codes(), encoded[i % nb].x(), s.batch());
        });
        out.printf(Locale.ROOT, "  decoder statistics accumulation:    %,10.0f vec/s%n", rate);

        // closed-form decoder solve (m x m Cholesky in double + right-hand sides)
        stats.solveInto(model, 1e-6, 0, true); // warm-up (JIT, LAPACK buffers)
        double[] solve = new double[quick ? 2 : 3];
        for (int r = 0; r < solve.length; r++) {
            solve[r] = stats.solveInto(model, 1e-6, 0, true).millis();
        }
        double solveMs = median(solve);
        out.printf(Locale.ROOT, "  decoder solve (m=%d):               %10.1f ms%n", s.m(), solveMs);
        return new double[] {rate, solveMs};
    }

    private double streamRate(PamSgdTrainer t, float[][] batches, Shape s, int streamBatches) throws Exception {
        // the same chunks as the loop's batches; the stream adds validation, rebatching, the island
        // boundary, metrics aggregation and the sink
        int nb = batches.length;
        Source<Chunk, ?> chunks = Source.range(0, streamBatches - 1)
                .map(i -> new Chunk(batches[i % nb], s.batch(), s.d(), (long) i * s.batch(), "bench"));
        long t0 = System.nanoTime();
        TrainingStages.graph(chunks, t, s.batch(), 0, 0, 10_000, 1_000_000, meters)
                .runWith(Sink.ignore(), system)
                .toCompletableFuture().get(10, TimeUnit.MINUTES);
        return streamBatches * (double) s.batch() / ((System.nanoTime() - t0) / 1e9);
    }

    @FunctionalInterface
    private interface Step {
        void run(int i) throws Exception;
    }

    /**
     * Vectors per second of {@code f}: warm-up for {@code warmSeconds} (the JIT compiles the kernels
     * only after many calls), then {@code repeats} timings of at least {@code minSeconds} each; median.
     */
    private double rate(int batch, int repeats, Step f) throws Exception {
        double warmSeconds = quick ? 1.0 : 3.0;
        double minSeconds = quick ? 0.5 : 1.5;
        int i = 0;
        long warmEnd = System.nanoTime() + (long) (warmSeconds * 1e9);
        while (System.nanoTime() < warmEnd) {
            f.run(i++);
        }
        double[] r = new double[repeats];
        for (int k = 0; k < repeats; k++) {
            long t0 = System.nanoTime();
            long end = t0 + (long) (minSeconds * 1e9);
            int n = 0;
            do {
                f.run(i++);
                n++;
            } while (System.nanoTime() < end);
            r[k] = n * (double) batch / ((System.nanoTime() - t0) / 1e9);
        }
        return median(r);
    }

    static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : 0.5 * (c[c.length / 2 - 1] + c[c.length / 2]);
    }
}
