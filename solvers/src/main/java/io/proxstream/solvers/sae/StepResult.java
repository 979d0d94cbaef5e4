package io.proxstream.solvers.sae;

/**
 * What one training step measured on its minibatch, before its own parameter update: the numbers a
 * metrics window needs, and the decoder solve the step triggered (if any).
 */
public final class StepResult {
    int rows;
    double sse;
    double loss;
    long nonZeros;
    final boolean[] fired;
    DecoderStatistics.SolveReport solve;
    double auxLoss;
    boolean skipped;
    String solveError;

    public StepResult(int latents) {
        fired = new boolean[latents];
    }

    /** Rows in the minibatch. */
    public int rows() {
        return rows;
    }

    /** Σ‖x̂ − x‖² over the minibatch. */
    public double sse() {
        return sse;
    }

    /** The training objective on the minibatch (MSE over entries plus penalties of the loss). */
    public double loss() {
        return loss;
    }

    /** The AuxK loss on dead latents of this step (strong baseline; 0 for other trainers). */
    public double auxLoss() {
        return auxLoss;
    }

    /** Non-zero code entries over the minibatch (L0 × rows). */
    public long nonZeros() {
        return nonZeros;
    }

    /** {@code fired[j]}: latent j was non-zero on at least one row of the minibatch. */
    public boolean[] fired() {
        return fired;
    }

    /**
     * The step was not applied: its forward pass, codes or gradients were not finite (or beyond 1e18),
     * so nothing of it was committed to the parameters, the optimiser moments or the decoder statistics.
     */
    public boolean skipped() {
        return skipped;
    }

    /** Why the decoder solve due at this step failed (the previous decoder was kept), or null. */
    public String solveError() {
        return solveError;
    }

    /** The decoder solve performed during this step, or null. */
    public DecoderStatistics.SolveReport solve() {
        return solve;
    }

    /** The measurements of the forward pass held by {@code step}. */
    static StepResult of(SparseStep step) {
        StepResult r = new StepResult(step.spec().latents());
        r.capture(step);
        return r;
    }

    void capture(SparseStep step) {
        rows = step.rows();
        sse = step.sse();
        loss = step.loss();
        java.util.Arrays.fill(fired, false);
        SparseCodes c = step.codes();
        long nz = 0;
        for (int e = 0, n = c.entries(); e < n; e++) {
            if (c.val[e] != 0f) {
                nz++;
                fired[c.idx[e]] = true;
            }
        }
        nonZeros = nz;
        solve = null;
        skipped = false;
        solveError = null;
    }
}
