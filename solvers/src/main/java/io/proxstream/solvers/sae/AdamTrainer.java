package io.proxstream.solvers.sae;

import io.proxstream.solvers.linalg.Vec;

import java.util.Objects;

/**
 * Adam on all parameters of an SAE: the faithful baseline of the SplInterp paper when the model is
 * tied ({@code W_dec = W_encᵀ}, learned {@code b_dec}), plain untied Adam otherwise, and with a
 * {@link Recipe} the strong baseline of the large SAE libraries: decoder atoms kept at unit norm
 * (the gradient component along each atom removed before the step, the atom renormalised after),
 * {@code b_dec} started at the mean or geometric median of the first batch, and the AuxK loss on
 * dead latents. Gradients come from {@link SparseStep}, so a step costs one dense GEMM plus O(B·k·d).
 */
public final class AdamTrainer implements SaeTrainer {

    /**
     * The strong baseline's additions.
     *
     * @param unitNormDecoder keep every decoder atom at unit norm
     * @param decoderBiasInit {@code none}, {@code mean} or {@code median} (geometric) of the first batch
     * @param auxK            dead latents in the auxiliary reconstruction (0 = no AuxK loss)
     * @param auxCoefficient  α of the AuxK loss
     * @param deadWindow      a latent is dead after this many samples without firing
     */
    public record Recipe(boolean unitNormDecoder, String decoderBiasInit, int auxK, double auxCoefficient, long deadWindow) {
        public Recipe {
            if (!java.util.List.of("none", "mean", "median").contains(decoderBiasInit)) {
                throw new IllegalArgumentException("decoderBiasInit must be none, mean or median, got " + decoderBiasInit);
            }
            if (auxK < 0 || !(auxCoefficient >= 0) || deadWindow < 1) {
                throw new IllegalArgumentException("need auxK >= 0, auxCoefficient >= 0, deadWindow >= 1");
            }
        }

        /** No additions: plain Adam. */
        public static Recipe plain() {
            return new Recipe(false, "none", 0, 0, 1);
        }

        /**
         * The strong baseline: unit-norm atoms, b_dec at the geometric median, AuxK with k_aux the
         * power of two nearest d/2 (at most m) and α = 1/32 (Gao et al.).
         */
        public static Recipe strong(SaeSpec spec, long deadWindow) {
            int kAux = Integer.highestOneBit(Math.max(1, spec.inputDim() / 2));
            return new Recipe(true, "median", Math.min(kAux, spec.latents()), 1.0 / 32, deadWindow);
        }

        boolean isPlain() {
            return !unitNormDecoder && decoderBiasInit.equals("none") && auxK == 0;
        }
    }
    private final SaeModel model;
    private final SparseStep sparse;
    private final SaeGradients grads;
    private final Adam adam;
    private final Adam.State wEncState;
    private final Adam.State bEncState;
    private final Adam.State wDecState;
    private final Adam.State bDecState;
    private final Recipe recipe;
    private final AuxK auxK;
    private final long[] lastFired;
    private final boolean[] dead;
    /** Pre-activations of the dead latents of the current batch (rows × dead, in latent order), for AuxK. */
    private float[] deadPre = new float[0];
    private volatile double lastAuxLoss;
    private StepPhases lastPhases;
    /** Written by the training thread, read by monitors: volatile. */
    private volatile long samples;
    private long skippedSteps;

    public AdamTrainer(SaeModel model, Adam.Options options) {
        this(model, options, Recipe.plain());
    }

    public AdamTrainer(SaeModel model, Adam.Options options, Recipe recipe) {
        this.model = Objects.requireNonNull(model, "model");
        this.recipe = Objects.requireNonNull(recipe, "recipe");
        if (!recipe.isPlain() && model.spec().tied()) {
            throw new IllegalArgumentException("the strong-baseline recipe needs an untied model");
        }
        this.auxK = recipe.auxK() > 0 ? new AuxK(model.spec(), recipe.auxK(), recipe.auxCoefficient()) : null;
        this.lastFired = new long[model.spec().latents()];
        this.dead = new boolean[model.spec().latents()];
        if (recipe.unitNormDecoder()) {
            normaliseAtoms(null);
        }
        SaeSpec spec = model.spec();
        int md = spec.latents() * spec.inputDim();
        this.sparse = new SparseStep(spec);
        this.grads = new SaeGradients(spec, true);
        this.adam = new Adam(options);
        this.wEncState = new Adam.State(md);
        this.bEncState = new Adam.State(spec.latents());
        this.wDecState = spec.tied() ? null : new Adam.State(md);
        this.bDecState = new Adam.State(spec.inputDim());
    }

    @Override
    public SaeModel model() {
        return model;
    }

    @Override
    public String algorithm() {
        return model.spec().tied() ? "adam-tied" : recipe.isPlain() ? "adam" : "adam-strong";
    }

    public Recipe recipe() {
        return recipe;
    }

    /**
     * Where the wall time of a step went, in nanoseconds: the encoder sgemm alone, the rest of the encode (the
     * encoder's upload to BLAS, the copy-out, the bias and the sparsifier), the decode, the sparse backward, the AuxK
     * loss, the finiteness guards (with the firing record), Adam on all four blocks, and the decoder's per-atom passes
     * (parallel-component removal and renormalisation).
     */
    public record StepPhases(long gemm, long select, long decode, long backward, long auxK, long guards, long adam, long atoms) {
        public long total() {
            return gemm + select + decode + backward + auxK + guards + adam + atoms;
        }
    }

    /** The most the AuxK loss's BLAS buffers take (off-heap) for batches of {@code rows} rows of width d and m latents. */
    public static long auxKWorkspaceBytes(long rows, long d, long m) {
        return AuxK.denseWorkspaceBytes(rows, d, m);
    }

    /** The parts of the last committed step (null before the first). Read on the training thread. */
    public StepPhases lastPhases() {
        return lastPhases;
    }

    /** The AuxK loss of the last step (0 without AuxK or dead latents). */
    public double lastAuxLoss() {
        return lastAuxLoss;
    }

    @Override
    public long samplesSeen() {
        return samples;
    }

    /**
     * One Adam step. Guarded like PAM-SGD's: a batch whose forward pass (loss, codes), decoder-bias start
     * or gradients (encoder, decoder, biases, AuxK's share) are not finite or hold an entry beyond
     * {@link PamSgdTrainer#MAX_ABS_STEP} is skipped before anything is committed (no parameter, moment,
     * step count, firing record or sample count changes); its result says {@link StepResult#skipped()}.
     * The check scans the gradient rows the step touched (at most 2·min(m, B·k)·d values, beside a
     * 2·B·d·m-flop forward GEMM).
     */
    @Override
    public EncodedBatch encoderStage(float[] x, int rows) {
        SaeSpec spec = model.spec();
        int d = spec.inputDim();
        float[] start = null;
        if (samples == 0 && !recipe.decoderBiasInit().equals("none")) {
            start = recipe.decoderBiasInit().equals("mean") ? DecoderBias.mean(x, rows, d)
                    : DecoderBias.geometricMedian(x, rows, d, 200, 1e-7);
            if (!Vec.allWithin(start, 0, d, PamSgdTrainer.MAX_ABS_STEP)) {
                return skip(x, rows, null);
            }
        }
        float[] biasBefore = start == null ? null : model.decoderBias().clone();
        if (start != null) {
            System.arraycopy(start, 0, model.decoderBias(), 0, d);
        }
        int[] keep = null;
        if (auxK != null) {
            // the dead latents as of the steps before this one: AuxK needs their pre-activations, which the encoder's
            // row-by-row TopK keeps while the full matrix is never formed
            int n = 0;
            for (int j = 0; j < dead.length; j++) {
                dead[j] = samples - lastFired[j] >= recipe.deadWindow();
                n += dead[j] ? 1 : 0;
            }
            if (n > 0) {
                keep = new int[n];
                for (int j = 0, t = 0; j < dead.length; j++) {
                    if (dead[j]) {
                        keep[t++] = j;
                    }
                }
                if (deadPre.length < (long) rows * n) {
                    deadPre = new float[Math.toIntExact((long) rows * n)];
                }
            }
        }
        sparse.encode(model, x, rows, keep, deadPre);
        sparse.decode(model, x, true);
        StepResult result = StepResult.of(sparse);
        if (!Double.isFinite(sparse.loss()) || !Vec.allWithin(sparse.codes().val, 0, sparse.codes().entries(),
                PamSgdTrainer.MAX_ABS_STEP)) {
            return skip(x, rows, biasBefore);
        }
        sparse.backward(model, x, grads, true, true);
        long t0 = System.nanoTime();
        double aux = 0;
        if (auxK != null) {
            aux = auxK.addGradients(model, x, rows, deadPre, sparse.residuals(), dead, grads);
        }
        long t1 = System.nanoTime();
        if (!Double.isFinite(aux) || !gradientsWithinBound(x, rows)) {
            return skip(x, rows, biasBefore);
        }
        lastAuxLoss = aux;
        result.auxLoss = aux;
        markFired(rows);
        long t2 = System.nanoTime();
        if (recipe.unitNormDecoder()) {
            removeParallelComponent();
        }
        long t3 = System.nanoTime();
        adam.beginStep();
        adam.update(model.encoderWeights(), grads.wEnc, grads.touched, d, wEncState, null, 0f, 1f);
        adam.update(model.encoderBias(), grads.bEnc, null, spec.latents(), bEncState, null, 0f, 1f);
        if (!spec.tied()) {
            adam.update(model.decoderWeights(), grads.wDec, grads.touched, d, wDecState, null, 0f, 1f);
        }
        adam.update(model.decoderBias(), grads.bDec, null, d, bDecState, null, 0f, 1f);
        long t4 = System.nanoTime();
        if (recipe.unitNormDecoder()) {
            normaliseAtoms(null);
        }
        model.encoderChanged();
        long[] p = sparse.phaseNanos();
        lastPhases = new StepPhases(p[0], p[1], p[2], p[3], t1 - t0, t2 - t1, t4 - t3, (t3 - t2) + (System.nanoTime() - t4));
        samples += rows;
        return new EncodedBatch(x, rows, null, result);
    }

    /** A skipped step: the decoder bias set for it (first batch) is put back; nothing else was changed. */
    private EncodedBatch skip(float[] x, int rows, float[] biasBefore) {
        if (biasBefore != null) {
            System.arraycopy(biasBefore, 0, model.decoderBias(), 0, biasBefore.length);
        }
        skippedSteps++;
        StepResult r = new StepResult(model.spec().latents());
        r.rows = rows;
        r.loss = Double.NaN;
        r.skipped = true;
        return new EncodedBatch(x, rows, null, r);
    }

    /**
     * Every gradient entry the step would apply is finite and within {@link PamSgdTrainer#MAX_ABS_STEP}.
     * Cheap sufficient test first, as in PAM-SGD: row j of the main encoder gradient is a sum of at most
     * c_j products (code gradient × input, and for a tied model scale × code × residual) and row j of the
     * decoder gradient a sum of c_j products scale × code × residual (scale 2/(B·d)), c_j the latent's
     * code entries; so {@code max c_j · (max|g|·max(1, max|x|) + s·max|z|·max|r|)} bounds both. It reads
     * the batch, the residuals and the B·k code values instead of the m × d gradients. AuxK adds only to
     * the rows of dead latents, so those rows (and the bias gradients) are scanned; when the bound fails,
     * every touched row is.
     */
    boolean gradientsWithinBound(float[] x, int rows) {
        int d = model.spec().inputDim();
        int limit = PamSgdTrainer.MAX_ABS_BITS;
        if (Vec.maxAbsBits(grads.bEnc, 0, grads.bEnc.length) > limit || Vec.maxAbsBits(grads.bDec, 0, d) > limit) {
            return false;
        }
        int entries = sparse.codes().entries();
        int gBits = Vec.maxAbsBits(sparse.codeGradients(), 0, entries);
        int zBits = Vec.maxAbsBits(sparse.codes().val, 0, entries);
        int xBits = Vec.maxAbsBits(x, 0, rows * d);
        int rBits = Vec.maxAbsBits(sparse.residuals(), 0, rows * d);
        boolean bounded = false;
        if (gBits <= limit && zBits <= limit && xBits <= limit && rBits <= limit) {
            double scale = Math.max(1.0, 2.0 / ((double) rows * d));
            double bound = (double) sparse.maxEntriesPerLatent() * (Float.intBitsToFloat(gBits)
                    * Math.max(1.0, Float.intBitsToFloat(xBits)) + scale * Float.intBitsToFloat(zBits) * Float.intBitsToFloat(rBits));
            bounded = bound <= PamSgdTrainer.MAX_ABS_STEP;
        }
        for (int j = 0; j < grads.touched.length; j++) {
            boolean scan = !bounded || auxK != null && dead[j];
            if (scan && grads.touched[j] && (Vec.maxAbsBits(grads.wEnc, j * d, j * d + d) > limit
                    || grads.wDec != null && Vec.maxAbsBits(grads.wDec, j * d, j * d + d) > limit)) {
                return false;
            }
        }
        return true;
    }

    /** Batches skipped because their step was not finite. */
    public long skippedSteps() {
        return skippedSteps;
    }

    private void markFired(int rows) {
        SparseCodes c = sparse.codes();
        long now = samples + rows;
        for (int e = 0, n = c.entries(); e < n; e++) {
            if (c.value(e) != 0f) {
                lastFired[c.index(e)] = now;
            }
        }
    }

    /** Latents that have not fired for the dead window (as of the last step). */
    public int deadLatents() {
        int n = 0;
        for (int j = 0; j < lastFired.length; j++) {
            if (samples - lastFired[j] >= recipe.deadWindow()) {
                n++;
            }
        }
        return n;
    }

    /** g_j ← g_j − (g_j·w_j) w_j for the touched atoms (unit norm assumed). */
    private void removeParallelComponent() {
        int d = model.spec().inputDim();
        float[] w = model.decoderWeights();
        float[] g = grads.wDec;
        boolean[] touched = grads.touched;
        io.proxstream.solvers.parallel.Parallel.forRange(touched.length, 256, (from, to) -> {
            for (int j = from; j < to; j++) {
                if (touched[j]) {
                    float p = io.proxstream.solvers.linalg.Vec.dot(g, j * d, w, j * d, d);
                    io.proxstream.solvers.linalg.Vec.axpy(-p, w, j * d, g, j * d, d);
                }
            }
        });
    }

    /** Rescales the atoms (all, or the touched ones) to unit norm; zero atoms stay zero. */
    private void normaliseAtoms(boolean[] which) {
        int d = model.spec().inputDim();
        float[] w = model.decoderWeights();
        io.proxstream.solvers.parallel.Parallel.forRange(model.spec().latents(), 256, (from, to) -> {
            for (int j = from; j < to; j++) {
                if (which == null || which[j]) {
                    double n = Math.sqrt(io.proxstream.solvers.linalg.Vec.sumSquares(w, j * d, d));
                    if (n > 0) {
                        for (int t = 0; t < d; t++) {
                            w[j * d + t] /= (float) n;
                        }
                    }
                }
            }
        });
    }

    /** Adam has no decoder statistics: the decoder was updated by gradient in the encoder stage. */
    @Override
    public StepResult decoderStage(EncodedBatch batch) {
        return batch.result();
    }

    @Override
    public TrainerState snapshot() {
        TrainerState.Builder b = new TrainerState.Builder(algorithm());
        model.saveTo(b);
        Adam.saveMoments(b, "adam.W_enc", wEncState);
        Adam.saveMoments(b, "adam.b_enc", bEncState);
        if (wDecState != null) {
            Adam.saveMoments(b, "adam.W_dec", wDecState);
        }
        Adam.saveMoments(b, "adam.b_dec", bDecState);
        b.put("adam.steps", adam.steps()).put("samples", samples);
        b.put("lastFired", lastFired.clone());
        return b.build();
    }

    @Override
    public void restore(TrainerState s) {
        s.requireAlgorithm(algorithm());
        model.loadFrom(s);
        Adam.loadMoments(s, "adam.W_enc", wEncState);
        Adam.loadMoments(s, "adam.b_enc", bEncState);
        if (wDecState != null) {
            Adam.loadMoments(s, "adam.W_dec", wDecState);
        }
        Adam.loadMoments(s, "adam.b_dec", bDecState);
        adam.setSteps(s.counter("adam.steps"));
        samples = s.counter("samples");
        if (s.longs().containsKey("lastFired")) {
            System.arraycopy(s.longs().get("lastFired"), 0, lastFired, 0, lastFired.length);
        }
    }

    @Override
    public void close() {
        sparse.close();
        if (auxK != null) {
            auxK.close();
        }
    }
}
