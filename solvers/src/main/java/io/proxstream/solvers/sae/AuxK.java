package io.proxstream.solvers.sae;

import io.proxstream.solvers.linalg.Vec;
import io.proxstream.solvers.parallel.Parallel;

/**
 * The auxiliary loss on dead latents of Gao et al. ("Scaling and evaluating sparse autoencoders",
 * 2024): per row, the k_aux dead latents with the largest pre-activations (the model's sparsifier
 * convention) reconstruct the main model's residual {@code e = x − x̂}, and
 * <pre>
 *   L_aux = α · Σ_b ‖ê_b − e_b‖² / Σ_b ‖e_b − ē‖²,      ê_b = Σ_{j ∈ aux(b)} z_bj W_dec[j]
 * </pre>
 * with e and the normaliser treated as constants (no gradient reaches the main path through them).
 * Its gradient moves only dead latents' encoder rows, biases and decoder atoms, so they can come
 * back. One instance belongs to one thread.
 */
final class AuxK {
    private final SaeSpec spec;
    private final int kAux;
    private final double alpha;
    private float[] q = new float[0];
    private int[] auxIdx = new int[0];
    private float[] auxVal = new float[0];
    private int[] auxCount = new int[0];
    private float[] auxGa = new float[0];
    private double[] rowLoss = new double[0];
    private int[] colPtr = new int[0];
    private int[] colEntry = new int[0];

    AuxK(SaeSpec spec, int kAux, double alpha) {
        if (!spec.sparsifier().isTopK() || spec.tied()) {
            throw new IllegalArgumentException("AuxK needs an untied TopK model");
        }
        if (kAux < 1 || !(alpha >= 0)) {
            throw new IllegalArgumentException("AuxK needs kAux >= 1 and alpha >= 0, got " + kAux + ", " + alpha);
        }
        this.spec = spec;
        this.kAux = kAux;
        this.alpha = alpha;
    }

    /**
     * Adds the gradient of L_aux to {@code g} (encoder rows, encoder biases and decoder atoms of the
     * dead latents; rows not touched before are initialised and marked touched) and returns L_aux.
     *
     * @param pre   pre-activations of the batch, {@code rows × m}
     * @param resid residuals {@code x̂ − x} of the main model, {@code rows × d}
     * @param dead  which latents count as dead
     */
    double addGradients(SaeModel model, float[] x, int rows, float[] pre, float[] resid, boolean[] dead, SaeGradients g) {
        int m = spec.latents();
        int d = spec.inputDim();
        int deadCount = 0;
        for (boolean b : dead) {
            if (b) {
                deadCount++;
            }
        }
        if (deadCount == 0 || alpha == 0) {
            return 0;
        }
        int k = Math.min(kAux, deadCount);
        boolean abs = spec.sparsifier() == Sparsifier.TOPK_ABS;
        // normaliser Σ‖e_b − ē‖² with e = −resid
        double[] mean = new double[d];
        for (int b = 0; b < rows; b++) {
            for (int t = 0; t < d; t++) {
                mean[t] -= resid[b * d + t];
            }
        }
        double norm = 0;
        for (int b = 0; b < rows; b++) {
            for (int t = 0; t < d; t++) {
                double v = -resid[b * d + t] - mean[t] / rows;
                norm += v * v;
            }
        }
        if (!(norm > 0)) {
            return 0;
        }
        if (q.length < rows * d) {
            q = new float[rows * d];
        }
        if (auxIdx.length < rows * k) {
            auxIdx = new int[rows * k];
            auxVal = new float[rows * k];
        }
        if (auxCount.length < rows) {
            auxCount = new int[rows];
        }
        // aux codes: top-k of the dead latents' keys, then the sparsifier's value rule
        int[] deadIdx = new int[deadCount];
        for (int j = 0, t = 0; j < m; j++) {
            if (dead[j]) {
                deadIdx[t++] = j;
            }
        }
        // forward, rows in parallel (each range its own selection buffers): aux codes, q_b = ∂L/∂ê_b, each row's loss and
        // the code gradients ga = q_b·W_dec[j]; the loss is added in row order, so it does not depend on the threads
        if (rowLoss.length < rows) {
            rowLoss = new double[rows];
        }
        if (auxGa.length < rows * k) {
            auxGa = new float[rows * k];
        }
        final int kk = k;
        final int dc = deadCount;
        final float w = (float) (2 * alpha / norm);
        final float[] wDec = model.decoderWeights();
        final float[] qq = q;
        Parallel.forRange(rows, 16, (from, to) -> {
            float[] keys = new float[dc];
            float[] heapKey = new float[kk];
            int[] heapIdx = new int[kk];
            for (int b = from; b < to; b++) {
                for (int t = 0; t < dc; t++) {
                    keys[t] = pre[b * m + deadIdx[t]];
                }
                Sparsify.selectRow(abs, kk, keys, 0, dc, heapKey, heapIdx);
                int n = 0;
                int qo = b * d;
                System.arraycopy(resid, qo, qq, qo, d);     // ê − e = ê + resid
                for (int t = 0; t < kk; t++) {
                    int j = deadIdx[heapIdx[t]];
                    float a = pre[b * m + j];
                    float z = abs ? a : Math.max(a, 0f);
                    if (z != 0f) {
                        auxIdx[b * kk + n] = j;
                        auxVal[b * kk + n] = z;
                        n++;
                        Vec.axpy(z, wDec, j * d, qq, qo, d);
                    }
                }
                auxCount[b] = n;
                rowLoss[b] = Vec.sumSquares(qq, qo, d);
                for (int t = 0; t < d; t++) {
                    qq[qo + t] *= w;                      // q_b = ∂L/∂ê_b
                }
                for (int t = 0; t < n; t++) {
                    auxGa[b * kk + t] = Vec.dot(qq, qo, wDec, auxIdx[b * kk + t] * d, d);  // σ' = 1 on the support (z ≠ 0)
                }
            }
        });
        double loss = 0;
        for (int b = 0; b < rows; b++) {
            loss += rowLoss[b];
        }
        // backward, latents in parallel: each dead latent's entries in row order (the sums of a serial pass over the rows)
        if (colPtr.length < m + 1) {
            colPtr = new int[m + 1];
        }
        java.util.Arrays.fill(colPtr, 0, m + 1, 0);
        int entries = 0;
        for (int b = 0; b < rows; b++) {
            for (int t = 0; t < auxCount[b]; t++) {
                colPtr[auxIdx[b * kk + t] + 1]++;
            }
            entries += auxCount[b];
        }
        for (int j = 0; j < m; j++) {
            colPtr[j + 1] += colPtr[j];
        }
        if (colEntry.length < entries) {
            colEntry = new int[entries];
        }
        int[] fill = new int[m];
        for (int b = 0; b < rows; b++) {
            for (int t = 0; t < auxCount[b]; t++) {
                int j = auxIdx[b * kk + t];
                colEntry[colPtr[j] + fill[j]++] = b * kk + t;
            }
        }
        final int[] cp = colPtr;
        final int[] ce = colEntry;
        Parallel.forRange(m, 64, (from, to) -> {
            for (int j = from; j < to; j++) {
                int start = cp[j];
                int end = cp[j + 1];
                if (start == end) {
                    continue;
                }
                int row = j * d;
                if (!g.touched[j]) {
                    java.util.Arrays.fill(g.wEnc, row, row + d, 0f);
                    java.util.Arrays.fill(g.wDec, row, row + d, 0f);
                    g.bEnc[j] = 0f;
                }
                for (int p = start; p < end; p++) {
                    int e = ce[p];
                    int b = e / kk;
                    float ga = auxGa[e];
                    Vec.axpy(ga, x, b * d, g.wEnc, row, d);
                    g.bEnc[j] += ga;
                    Vec.axpy(auxVal[e], qq, b * d, g.wDec, row, d);
                }
                g.touched[j] = true;
            }
        });
        return alpha * loss / norm;
    }
}
