package io.proxstream.solvers.sae;

import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.linalg.Vec;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * PAM-SGD: the proximal alternating method with SGD of Budd et al., "SplInterp: Improving our
 * Understanding and Training of Sparse Autoencoders" (arXiv 2505.11836), Algorithm 3.1.
 *
 * <p>The parameters split into the encoder block E = (W_enc, b_enc), trained by Adam with the
 * decoder held fixed, and the decoder block D = (W_dec, b_dec), set in closed form from the decoder
 * statistics ({@link DecoderStatistics#solveInto}) or, for large dictionaries, by the iterative step
 * ({@link IterativeDecoder}), which needs no m × m matrix ({@link Decoder}).
 *
 * <p><b>Offline</b> ({@link #offlineEpoch}): one epoch is an encoder pass of Adam steps over shuffled
 * minibatches and a decoder solve over all rows, in the configured order; the encoder anchor of the
 * proximal term is the encoder at the start of the epoch. <b>Streaming</b> ({@link #step}): the
 * statistics are accumulated batch by batch with exponential forgetting γ and the decoder is
 * re-solved every {@code solveEvery} batches; the encoder anchor is re-set at each solve. A batch
 * runs through the encoder stage (Adam steps on the encoder with the current decoder) and then the
 * decoder-statistics stage (accumulate its codes, solve when due). With
 * {@link BlockOrder#DECODER_FIRST} the statistics take the codes computed before the batch's encoder
 * update, so one forward pass (one GEMM) serves both blocks; with {@link BlockOrder#ENCODER_FIRST}
 * they take the codes of the updated encoder, at the cost of a second GEMM.
 */
public final class PamSgdTrainer implements SaeTrainer {

    /** Which block moves first within an epoch (offline) or a batch (streaming). */
    public enum BlockOrder { ENCODER_FIRST, DECODER_FIRST }

    /**
     * @param adam        Adam settings of the encoder step
     * @param sgdRepeats  s, Adam steps per minibatch (≥ 1)
     * @param muEnc       μ_E of the anchor {@code μ_E‖W_enc − W_enc_prev‖²}
     * @param nuEnc       ν_E of the anchor {@code ν_E‖b_enc − b_enc_prev‖²}
     * @param clipNorm    global gradient-norm clip of the encoder step (0 = off)
     * @param rho         ridge ρ of the decoder solve
     * @param muDec       proximal weight μ_D of the decoder solve
     * @param order       block order
     * @param solveEvery  streaming: batches between decoder solves (≥ 1)
     * @param forgetting  streaming: γ ∈ (0,1] applied to the statistics before each batch
     * @param holdUnfired latents that never fired in the statistics keep their atom (see
     *                    {@link DecoderStatistics#solveInto})
     * @param decoder     which decoder step: exact, iterative, or chosen by the dictionary size
     */
    public record Options(Adam.Options adam, int sgdRepeats, double muEnc, double nuEnc, double clipNorm,
                          double rho, double muDec, BlockOrder order, int solveEvery, double forgetting,
                          boolean holdUnfired, Decoder decoder) {
        public Options {
            Objects.requireNonNull(adam, "adam");
            Objects.requireNonNull(order, "order");
            Objects.requireNonNull(decoder, "decoder");
            if (sgdRepeats < 1) {
                throw new IllegalArgumentException("sgdRepeats must be >= 1, got " + sgdRepeats);
            }
            requireNonNegative("muEnc", muEnc);
            requireNonNegative("nuEnc", nuEnc);
            requireNonNegative("clipNorm", clipNorm);
            requireNonNegative("rho", rho);
            requireNonNegative("muDec", muDec);
            if (solveEvery < 1) {
                throw new IllegalArgumentException("solveEvery must be >= 1, got " + solveEvery);
            }
            if (!(forgetting > 0 && forgetting <= 1)) {
                throw new IllegalArgumentException("forgetting must be in (0,1], got " + forgetting);
            }
        }

        /** The settings with the decoder step chosen by size ({@link Decoder#auto()}). */
        public Options(Adam.Options adam, int sgdRepeats, double muEnc, double nuEnc, double clipNorm, double rho, double muDec,
                       BlockOrder order, int solveEvery, double forgetting, boolean holdUnfired) {
            this(adam, sgdRepeats, muEnc, nuEnc, clipNorm, rho, muDec, order, solveEvery, forgetting, holdUnfired, Decoder.auto());
        }

        /** The same settings with another decoder step. */
        public Options withDecoder(Decoder other) {
            return new Options(adam, sgdRepeats, muEnc, nuEnc, clipNorm, rho, muDec, order, solveEvery, forgetting, holdUnfired, other);
        }

        private static void requireNonNegative(String name, double v) {
            if (!(v >= 0) || Double.isInfinite(v)) {
                throw new IllegalArgumentException(name + " must be finite and >= 0, got " + v);
            }
        }

        /**
         * The settings of the paper's MNIST script (lr 3e-3, μ = ν = 0, ρ = 1e-6, encoder first),
         * with the streaming settings of {@link #experimentDefaults()}.
         */
        public static Options paperMnist() {
            return new Options(Adam.Options.withLr(3e-3), 1, 0, 0, 0, 1e-6, 0, BlockOrder.ENCODER_FIRST, 8, 0.995, true);
        }

        /** The settings of the paper's LLM script (lr 1e-3, μ = ν = 1e-3 with clip 1, ρ = 1e-10, decoder first). */
        public static Options paperLm() {
            return new Options(Adam.Options.withLr(1e-3), 1, 1e-3, 1e-3, 1.0, 1e-10, 0, BlockOrder.DECODER_FIRST, 8, 0.995, true);
        }

        /**
         * The streaming settings of the experiments and the cluster's rounds (solve every 8 batches). Not
         * {@code train}'s or {@code serve}'s defaults: those are {@code TrainerConfig.defaults()} (protocol
         * module), which the command line's help reads.
         */
        public static Options experimentDefaults() {
            return new Options(Adam.Options.withLr(1e-3), 1, 0, 0, 0, 1e-6, 0, BlockOrder.DECODER_FIRST, 8, 0.995, true);
        }
    }

    /**
     * The decoder step.
     *
     * @param step {@code exact} (Cholesky, m² memory), {@code cg} ({@link IterativeDecoder}) or {@code auto}:
     *             exact while m ≤ {@link #AUTO_EXACT_MAX}, cg above
     * @param cg   the iterative step's settings
     */
    public record Decoder(String step, IterativeDecoder.Options cg) {
        /** Largest dictionary that {@code auto} solves exactly: its m × m statistics are 512 MiB, a solve about 4 s on 2 cores. */
        public static final int AUTO_EXACT_MAX = 8192;
        public static final java.util.List<String> STEPS = java.util.List.of("auto", "exact", "cg");

        public Decoder {
            Objects.requireNonNull(cg, "cg");
            if (!STEPS.contains(step)) {
                throw new IllegalArgumentException("decoder step must be one of " + STEPS + ", got '" + step + "'");
            }
        }

        public static Decoder auto() {
            return new Decoder("auto", IterativeDecoder.Options.defaults());
        }

        public static Decoder exact() {
            return new Decoder("exact", IterativeDecoder.Options.defaults());
        }

        public static Decoder cg(IterativeDecoder.Options o) {
            return new Decoder("cg", o);
        }

        /** {@code exact} or {@code cg} for a dictionary of {@code latents}. */
        public String resolve(long latents) {
            return step.equals("auto") ? (latents <= AUTO_EXACT_MAX ? "exact" : "cg") : step;
        }

        /** A new step of the resolved kind for the model. */
        public DecoderStep create(SaeModel model) {
            return resolve(model.spec().latents()).equals("exact")
                    ? new DecoderStatistics(model.spec().latents(), model.spec().inputDim())
                    : new IterativeDecoder(model, cg);
        }
    }

    private final SaeModel model;
    private final Options options;
    private long skippedSteps;
    private long failedSolves;
    private final SparseStep sparse;
    private final SaeGradients grads;
    private final DecoderStep stats;
    private final Adam adam;
    private final Adam.State wEncState;
    private final Adam.State bEncState;
    private final float[] wEncAnchor;
    private final float[] bEncAnchor;
    private int batchesSinceSolve;
    /** Written by the training thread, read by monitors: volatile. */
    private volatile long samples;

    public PamSgdTrainer(SaeModel model, Options options) {
        if (model.spec().tied()) {
            throw new IllegalArgumentException("PAM-SGD needs an untied model");
        }
        this.model = model;
        this.options = Objects.requireNonNull(options, "options");
        SaeSpec spec = model.spec();
        this.sparse = new SparseStep(spec);
        this.grads = new SaeGradients(spec, false);
        this.stats = options.decoder().create(model);
        this.adam = new Adam(options.adam());
        this.wEncState = new Adam.State(spec.latents() * spec.inputDim());
        this.bEncState = new Adam.State(spec.latents());
        this.wEncAnchor = options.muEnc() > 0 ? model.encoderWeights().clone() : null;
        this.bEncAnchor = options.nuEnc() > 0 ? model.encoderBias().clone() : null;
    }

    @Override
    public SaeModel model() {
        return model;
    }

    @Override
    public String algorithm() {
        return "pam";
    }

    public Options options() {
        return options;
    }

    /** The streaming decoder step and what it keeps (live). */
    public DecoderStep statistics() {
        return stats;
    }

    @Override
    public long samplesSeen() {
        return samples;
    }

    /**
     * Largest |value| of a code or gradient entry a step may apply: Adam squares gradients in float, and
     * (1e18)² = 1e36 stays below float's 3.4e38.
     */
    static final float MAX_ABS_STEP = 1e18f;
    static final int MAX_ABS_BITS = Float.floatToRawIntBits(MAX_ABS_STEP);

    /**
     * The encoder half of a step. Guarded: a batch whose forward pass (loss, codes) or encoder gradient
     * is not finite, or holds a code or gradient entry beyond 1e18 in magnitude, is skipped before
     * anything is committed (no Adam step, no moments, no statistics, not counted in
     * {@link #samplesSeen()}); its result says {@link StepResult#skipped()}. The checks read the codes,
     * the batch and the code gradients (B·d + B·k values); the m × d gradient only when the cheap bound
     * of {@link #gradientIsFinite} fails.
     */
    @Override
    public EncodedBatch encoderStage(float[] x, int rows) {
        StepResult result;
        SparseCodes forStatistics;
        sparse.forward(model, x, rows, true);
        result = StepResult.of(sparse);
        if (!forwardIsFinite()) {
            result.skipped = true;
            skippedSteps++;
            return new EncodedBatch(x, rows, sparse.codes().copy(), result);
        }
        if (options.order() == BlockOrder.DECODER_FIRST) {
            forStatistics = sparse.codes().copy();
            result.skipped = !encoderSteps(x, rows);
        } else {
            result.skipped = !encoderSteps(x, rows);
            sparse.encode(model, x, rows);
            forStatistics = sparse.codes().copy();
            result.skipped |= !codesAreFinite(forStatistics);
        }
        if (result.skipped) {
            skippedSteps++;
        } else {
            samples += rows;
        }
        return new EncodedBatch(x, rows, forStatistics, result);
    }

    /**
     * The decoder half: statistics and, when due, the closed-form solve. A skipped batch adds nothing.
     * A solve that fails (not positive definite after the jitter retries, non-finite solution) keeps the
     * previous decoder, is counted in {@link #failedSolves()} and reported in {@link StepResult#solveError()};
     * training goes on and the next solve is tried {@code solveEvery} batches later.
     */
    @Override
    public StepResult decoderStage(EncodedBatch batch) {
        if (batch.result().skipped) {
            return batch.result();
        }
        stats.forget(options.forgetting());
        stats.accumulate(batch.codes(), batch.x(), batch.rows());
        if (++batchesSinceSolve >= options.solveEvery()) {
            batchesSinceSolve = 0;
            try {
                batch.result().solve = solveDecoder();
            } catch (ArithmeticException | IllegalArgumentException e) {
                failedSolves++;
                batch.result().solveError = e.getMessage();
            }
        }
        return batch.result();
    }

    /** The sparse kernel's state (for the overhead measurement of the checks). */
    SparseStep sparseForTest() {
        return sparse;
    }

    /** Batches skipped because their step was not finite. */
    public long skippedSteps() {
        return skippedSteps;
    }

    /** Decoder solves that failed and kept the previous decoder. */
    public long failedSolves() {
        return failedSolves;
    }

    private boolean forwardIsFinite() {
        return Double.isFinite(sparse.loss()) && Double.isFinite(sparse.sse()) && codesAreFinite(sparse.codes());
    }

    private static boolean codesAreFinite(SparseCodes c) {
        return Vec.allWithin(c.val, 0, c.entries(), MAX_ABS_STEP);
    }

    /** Solves the decoder from the current statistics and re-anchors the encoder's proximal term. */
    public DecoderStatistics.SolveReport solveDecoder() {
        DecoderStatistics.SolveReport r = stats.solveInto(model, options.rho(), options.muDec(), options.holdUnfired());
        reanchor();
        return r;
    }

    private void reanchor() {
        if (wEncAnchor != null) {
            System.arraycopy(model.encoderWeights(), 0, wEncAnchor, 0, wEncAnchor.length);
        }
        if (bEncAnchor != null) {
            System.arraycopy(model.encoderBias(), 0, bEncAnchor, 0, bEncAnchor.length);
        }
    }

    /**
     * s Adam steps on the encoder; the first reuses the forward pass held by {@code sparse}. Returns
     * false (and stops) at the first step whose gradient is not finite or has an entry beyond 1e18,
     * before it is applied.
     */
    private boolean encoderSteps(float[] x, int rows) {
        for (int r = 0; r < options.sgdRepeats(); r++) {
            if (r > 0) {
                sparse.forward(model, x, rows, true);
            }
            sparse.backward(model, x, grads, true, false);
            if (!gradientIsFinite(x, rows)) {
                return false;
            }
            encoderAdamStep();
        }
        return true;
    }

    /**
     * Whether every encoder gradient entry is finite and within {@link #MAX_ABS_STEP}. Cheap sufficient
     * test first: an entry of latent j's weight gradient is a sum of at most c_j products (code gradient
     * × input), c_j its number of code entries, and its bias gradient a sum of c_j code gradients, so
     * {@code max c_j · max|code gradient| · max(1, max|x|) ≤ 1e18} bounds them all; it reads the batch and
     * the code gradients (B·d + B·k values) instead of the m × d gradient. Only when it fails is the
     * gradient scanned itself.
     */
    private boolean gradientIsFinite(float[] x, int rows) {
        int d = model.spec().inputDim();
        int gBits = Vec.maxAbsBits(sparse.codeGradients(), 0, sparse.codes().entries());
        int xBits = Vec.maxAbsBits(x, 0, rows * d);
        if (gBits <= MAX_ABS_BITS && xBits <= MAX_ABS_BITS) {
            double bound = (double) sparse.maxEntriesPerLatent() * Float.intBitsToFloat(gBits)
                    * Math.max(1.0, Float.intBitsToFloat(xBits));
            if (bound <= MAX_ABS_STEP) {
                return true;
            }
        }
        int m = model.spec().latents();
        int mx = Vec.maxAbsBits(grads.bEnc, 0, m);
        for (int j = 0; j < m && mx <= MAX_ABS_BITS; j++) {
            if (grads.touched[j]) {
                mx = Math.max(mx, Vec.maxAbsBits(grads.wEnc, j * d, j * d + d));
            }
        }
        return mx <= MAX_ABS_BITS;
    }

    private void encoderAdamStep() {
        int d = model.spec().inputDim();
        float cw = (float) (2 * options.muEnc());
        float cb = (float) (2 * options.nuEnc());
        float scale = 1f;
        if (options.clipNorm() > 0) {
            double norm = Math.sqrt(Adam.gradNormSq(model.encoderWeights(), grads.wEnc, grads.touched, d, wEncAnchor, cw)
                    + Adam.gradNormSq(model.encoderBias(), grads.bEnc, null, model.spec().latents(), bEncAnchor, cb));
            if (norm > options.clipNorm()) {
                scale = (float) (options.clipNorm() / (norm + 1e-6));
            }
        }
        adam.beginStep();
        adam.update(model.encoderWeights(), grads.wEnc, grads.touched, d, wEncState, wEncAnchor, cw, scale);
        adam.update(model.encoderBias(), grads.bEnc, null, model.spec().latents(), bEncState, bEncAnchor, cb, scale);
        model.encoderChanged();
    }

    /**
     * One offline epoch of Algorithm 3.1 on {@code data}: an encoder pass of Adam steps over
     * minibatches in a seeded random order and a decoder solve over all rows (fresh statistics, no
     * forgetting), in the configured order. The proximal anchor is the encoder at the start of the
     * epoch.
     *
     * @return the decoder solve's report
     */
    public DecoderStatistics.SolveReport offlineEpoch(Dataset data, int batchSize, SplittableRandom rnd) {
        if (data.dim() != model.spec().inputDim()) {
            throw new IllegalArgumentException("data width " + data.dim() + " != model input " + model.spec().inputDim());
        }
        reanchor();
        DecoderStatistics.SolveReport report;
        if (options.order() == BlockOrder.DECODER_FIRST) {
            report = fullDecoderSolve(data, batchSize);
            encoderPass(data, batchSize, rnd);
        } else {
            encoderPass(data, batchSize, rnd);
            report = fullDecoderSolve(data, batchSize);
        }
        return report;
    }

    private void encoderPass(Dataset data, int batchSize, SplittableRandom rnd) {
        int[] perm = data.permutation(rnd);
        float[] buf = new float[batchSize * data.dim()];
        for (int from = 0; from < data.rows(); from += batchSize) {
            int to = Math.min(data.rows(), from + batchSize);
            data.gather(perm, from, to, buf);
            sparse.forward(model, buf, to - from);
            encoderSteps(buf, to - from);
            samples += to - from;
        }
    }

    private DecoderStatistics.SolveReport fullDecoderSolve(Dataset data, int chunk) {
        stats.clear();
        float[] buf = new float[chunk * data.dim()];
        for (int from = 0; from < data.rows(); from += chunk) {
            int to = Math.min(data.rows(), from + chunk);
            data.copyRows(from, to, buf);
            sparse.encode(model, buf, to - from);
            stats.accumulate(sparse.codes(), buf, to - from);
        }
        return stats.solveInto(model, options.rho(), options.muDec(), options.holdUnfired());
    }

    /**
     * The encoder's optimiser alone — Adam's moments and step count, the anchors, the sample and solve counters —
     * without the model or the decoder step: what a round of a data-parallel worker changes besides the model, which it
     * loads afresh every round (a third of {@link #snapshot}'s bytes when the decoder step is the cg step's).
     */
    public TrainerState encoderOptimiser() {
        TrainerState.Builder b = new TrainerState.Builder(algorithm() + "-encoder-optimiser");
        saveEncoderOptimiser(b);
        return b.build();
    }

    /** Puts back an {@link #encoderOptimiser} state. */
    public void restoreEncoderOptimiser(TrainerState s) {
        s.requireAlgorithm(algorithm() + "-encoder-optimiser");
        loadEncoderOptimiser(s);
    }

    private void saveEncoderOptimiser(TrainerState.Builder b) {
        Adam.saveMoments(b, "adam.W_enc", wEncState);
        Adam.saveMoments(b, "adam.b_enc", bEncState);
        if (wEncAnchor != null) {
            b.put("anchor.W_enc", wEncAnchor);
        }
        if (bEncAnchor != null) {
            b.put("anchor.b_enc", bEncAnchor);
        }
        b.put("adam.steps", adam.steps()).put("samples", samples).put("batchesSinceSolve", batchesSinceSolve);
    }

    private void loadEncoderOptimiser(TrainerState s) {
        Adam.loadMoments(s, "adam.W_enc", wEncState);
        Adam.loadMoments(s, "adam.b_enc", bEncState);
        if (wEncAnchor != null) {
            s.copy("anchor.W_enc", wEncAnchor);
        }
        if (bEncAnchor != null) {
            s.copy("anchor.b_enc", bEncAnchor);
        }
        adam.setSteps(s.counter("adam.steps"));
        samples = s.counter("samples");
        batchesSinceSolve = (int) s.counter("batchesSinceSolve");
    }

    @Override
    public TrainerState snapshot() {
        TrainerState.Builder b = new TrainerState.Builder(algorithm());
        model.saveTo(b);
        saveEncoderOptimiser(b);
        stats.saveTo(b);
        return b.build();
    }

    @Override
    public void restore(TrainerState s) {
        s.requireAlgorithm(algorithm());
        model.loadFrom(s);
        loadEncoderOptimiser(s);
        stats.loadFrom(s);
    }

    @Override
    public void close() {
        sparse.close();
    }
}
