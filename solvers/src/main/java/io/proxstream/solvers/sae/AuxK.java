package io.proxstream.solvers.sae;

import io.proxstream.solvers.linalg.Vec;
import io.proxstream.solvers.parallel.Parallel;
import java.nio.FloatBuffer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

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
    private int[] auxPos = new int[0];
    /**
     * The dense route (four GEMMs) is taken while the batch's rows × dead latents stay within this many elements
     * (128 MiB a matrix): at B = 4 096 up to 8 192 dead latents; beyond, the sparse route. Its workspace
     * ({@link #denseWorkspaceBytes}) is at most two such matrices with a quarter more room, two rows × d and three
     * dead × d.
     */
    static final long DENSE_MAX_ELEMENTS = 1L << 25;

    /** The most the dense route's BLAS buffers take for batches of {@code rows} rows of width {@code d} and m latents. */
    static long denseWorkspaceBytes(long rows, long d, long m) {
        long dead = Math.min(m, DENSE_MAX_ELEMENTS / Math.max(1, rows));
        long cap = dead + dead / 4;
        return 4 * (2 * rows * cap + 2 * rows * d + 3 * cap * d);
    }
    /** {@link #DENSE_MAX_ELEMENTS}; tests set 0 to take the sparse route. */
    long denseMaxElements = DENSE_MAX_ELEMENTS;
    private Workspace ws;
    private float[] denseEnc = new float[0];
    private float[] denseDec = new float[0];

    /** The columns of the dead latents of a whole {@code rows × m} pre-activation matrix, as {@link #addGradients} takes them. */
    static float[] deadPreActivations(float[] pre, int rows, int m, boolean[] dead) {
        int[] idx = java.util.stream.IntStream.range(0, m).filter(j -> dead[j]).toArray();
        float[] out = new float[rows * idx.length];
        for (int b = 0; b < rows; b++) {
            for (int t = 0; t < idx.length; t++) {
                out[b * idx.length + t] = pre[b * m + idx[t]];
            }
        }
        return out;
    }

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
     * @param deadPre pre-activations of the dead latents, {@code rows × (number of dead latents)}, column t for the
     *                t-th dead latent in index order ({@link #deadPreActivations} cuts them from the whole matrix)
     * @param resid residuals {@code x̂ − x} of the main model, {@code rows × d}
     * @param dead  which latents count as dead
     */
    double addGradients(SaeModel model, float[] x, int rows, float[] deadPre, float[] resid, boolean[] dead, SaeGradients g) {
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
        if (deadPre.length < (long) rows * deadCount) {
            throw new IllegalArgumentException("dead latents' pre-activations hold " + deadPre.length + " values, need " + rows
                    + "x" + deadCount);
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
        // the dense route keeps q_b in its BLAS buffer; the row-by-row route in this array
        boolean dense = (long) rows * deadCount <= denseMaxElements;
        if (!dense && q.length < rows * d) {
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
        if (rowLoss.length < rows) {
            rowLoss = new double[rows];
        }
        if (auxGa.length < rows * k) {
            auxGa = new float[rows * k];
            auxPos = new int[rows * k];
        }
        final int kk = k;
        final int dc = deadCount;
        final float w = (float) (2 * alpha / norm);
        final float[] wDec = model.decoderWeights();
        final float[] qq = q;
        // aux codes, rows in parallel (each range its own selection buffers): top-k of the row's dead keys, the
        // sparsifier's value rule; entries with z = 0 are dropped (σ' = 0 there)
        Parallel.forRange(rows, 16, (from, to) -> {
            float[] heapKey = new float[kk];
            int[] heapIdx = new int[kk];
            for (int b = from; b < to; b++) {
                Sparsify.selectRow(abs, kk, deadPre, b * dc, dc, heapKey, heapIdx);
                int n = 0;
                for (int t = 0; t < kk; t++) {
                    int pos = heapIdx[t];
                    float a = deadPre[b * dc + pos];
                    float z = abs ? a : Math.max(a, 0f);
                    if (z != 0f) {
                        auxIdx[b * kk + n] = deadIdx[pos];
                        auxPos[b * kk + n] = pos;
                        auxVal[b * kk + n] = z;
                        n++;
                    }
                }
                auxCount[b] = n;
            }
        });
        float[][] denseRows = dense ? denseProducts(x, rows, d, resid, wDec, deadIdx, kk, w) : null;
        if (!dense) {
            // q_b = ∂L/∂ê_b, each row's loss and the code gradients ga = q_b·W_dec[j], row by row from the atoms
            Parallel.forRange(rows, 16, (from, to) -> {
                for (int b = from; b < to; b++) {
                    int qo = b * d;
                    System.arraycopy(resid, qo, qq, qo, d);     // ê − e = ê + resid
                    int n = auxCount[b];
                    for (int t = 0; t < n; t++) {
                        Vec.axpy(auxVal[b * kk + t], wDec, auxIdx[b * kk + t] * d, qq, qo, d);
                    }
                    rowLoss[b] = Vec.sumSquares(qq, qo, d);
                    for (int t = 0; t < d; t++) {
                        qq[qo + t] *= w;                      // q_b = ∂L/∂ê_b
                    }
                    for (int t = 0; t < n; t++) {
                        auxGa[b * kk + t] = Vec.dot(qq, qo, wDec, auxIdx[b * kk + t] * d, d);  // σ' = 1 on the support
                    }
                }
            });
        }
        double loss = 0;
        for (int b = 0; b < rows; b++) {
            loss += rowLoss[b];       // in row order: the loss does not depend on the threads
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
                    g.bEnc[j] += auxGa[ce[p]];
                }
                if (denseRows != null) {
                    // the dead latent's rows of Gᵀ X and Zᵀ Q (its position in the dead list: that of any of its entries)
                    int at = auxPos[ce[start]] * d;
                    for (int t = 0; t < d; t++) {
                        g.wEnc[row + t] += denseRows[0][at + t];
                        g.wDec[row + t] += denseRows[1][at + t];
                    }
                } else {
                    for (int p = start; p < end; p++) {
                        int e = ce[p];
                        int b = e / kk;
                        Vec.axpy(auxGa[e], x, b * d, g.wEnc, row, d);
                        Vec.axpy(auxVal[e], qq, b * d, g.wDec, row, d);
                    }
                }
                g.touched[j] = true;
            }
        });
        return alpha * loss / norm;
    }

    /**
     * The dense route for a batch whose aux codes are not very sparse (k_aux of a few thousand dead latents per row):
     * with Z the rows × dead aux codes (zero off the support), W the dead latents' atoms and G the code gradients on the
     * support, four GEMMs through BLAS give ê = Z W, the code gradients Q Wᵀ (read on the support), Zᵀ Q and Gᵀ X,
     * where gathering the B·k_aux atoms of 3 KB row by row (twice) and scattering the rows back ran at a few GFLOP/s
     * (1.7 s of a 2.5 s step with 3 130 of 16 384 latents dead at 768 -> 16 384, k_aux 256). Fills q (the rows' ∂L/∂ê),
     * rowLoss and auxGa as the sparse route does (not q), and returns {Gᵀ X, Zᵀ Q}, dead × d row-major.
     */
    private float[][] denseProducts(float[] x, int rows, int d, float[] resid, float[] wDec, int[] deadIdx, int kk, float w) {
        int dc = deadIdx.length;
        if (ws == null || !ws.holds(rows, dc, d)) {
            close();
            ws = new Workspace(rows, dc + dc / 4, d);   // room for the dead count to grow by a quarter before a new one
        }
        INDArray zs = ws.view(ws.z, rows, dc);
        INDArray wd = ws.view(ws.wd, dc, d);
        INDArray xs = ws.view(ws.x, rows, d);
        INDArray qs = ws.view(ws.q, rows, d);
        INDArray ga = ws.view(ws.ga, rows, dc);
        INDArray dWe = ws.view(ws.dWe, dc, d);
        INDArray dWd = ws.view(ws.dWd, dc, d);
        zs.assign(0);
        FloatBuffer zb = ws.z.asNioFloat();
        FloatBuffer wb = ws.wd.asNioFloat();
        Parallel.forRange(dc, 64, (from, to) -> {
            for (int t = from; t < to; t++) {
                wb.put(t * d, wDec, deadIdx[t] * d, d);
            }
        });
        Parallel.forRange(rows, 16, (from, to) -> {
            for (int b = from; b < to; b++) {
                for (int t = 0; t < auxCount[b]; t++) {
                    zb.put(b * dc + auxPos[b * kk + t], auxVal[b * kk + t]);
                }
            }
        });
        Nd4j.gemm(zs, wd, qs, false, false, 1.0, 0.0);            // ê = Z W
        FloatBuffer qb = ws.q.asNioFloat();
        Parallel.forRange(rows, 16, (from, to) -> {
            float[] row = new float[d];
            for (int b = from; b < to; b++) {
                int qo = b * d;
                qb.get(qo, row, 0, d);
                for (int t = 0; t < d; t++) {
                    row[t] += resid[qo + t];                          // ê − e = ê + resid
                }
                rowLoss[b] = Vec.sumSquares(row, 0, d);
                for (int t = 0; t < d; t++) {
                    row[t] *= w;                                      // q_b = ∂L/∂ê_b
                }
                qb.put(qo, row, 0, d);
            }
        });
        Nd4j.gemm(qs, wd, ga, false, true, 1.0, 0.0);             // Q Wᵀ: every code gradient, read on the support
        Nd4j.gemm(zs, qs, dWd, true, false, 1.0, 0.0);            // Zᵀ Q
        FloatBuffer gab = ws.ga.asNioFloat();
        Parallel.forRange(rows, 16, (from, to) -> {
            for (int b = from; b < to; b++) {
                for (int t = 0; t < auxCount[b]; t++) {
                    int at = b * dc + auxPos[b * kk + t];
                    float g = gab.get(at);
                    auxGa[b * kk + t] = g;
                    zb.put(at, g);                                    // Z becomes G: the same support
                }
            }
        });
        ws.x.asNioFloat().put(0, x, 0, rows * d);
        Nd4j.gemm(zs, xs, dWe, true, false, 1.0, 0.0);            // Gᵀ X
        if (denseEnc.length < dc * d) {
            denseEnc = new float[dc * d];
            denseDec = new float[dc * d];
        }
        ws.dWe.asNioFloat().get(0, denseEnc, 0, dc * d);
        ws.dWd.asNioFloat().get(0, denseDec, 0, dc * d);
        return new float[][] {denseEnc, denseDec};
    }

    /** Frees the dense route's BLAS buffers (a later call allocates them again). */
    void close() {
        if (ws != null) {
            ws.close();
            ws = null;
        }
    }

    /**
     * The dense route's BLAS buffers, kept from step to step and sized with room for the dead count to grow (allocating
     * them per step took as long as the four GEMMs); each step takes row-major arrays of its exact shape at their start.
     */
    private static final class Workspace implements AutoCloseable {
        final int rows;
        final int deadCapacity;
        final int d;
        final DataBuffer z;
        final DataBuffer ga;
        final DataBuffer wd;
        final DataBuffer dWe;
        final DataBuffer dWd;
        final DataBuffer x;
        final DataBuffer q;

        Workspace(int rows, int deadCapacity, int d) {
            this.rows = rows;
            this.deadCapacity = deadCapacity;
            this.d = d;
            z = Nd4j.createBuffer(DataType.FLOAT, (long) rows * deadCapacity, true);
            ga = Nd4j.createBuffer(DataType.FLOAT, (long) rows * deadCapacity, true);
            wd = Nd4j.createBuffer(DataType.FLOAT, (long) deadCapacity * d, true);
            dWe = Nd4j.createBuffer(DataType.FLOAT, (long) deadCapacity * d, true);
            dWd = Nd4j.createBuffer(DataType.FLOAT, (long) deadCapacity * d, true);
            x = Nd4j.createBuffer(DataType.FLOAT, (long) rows * d, true);
            q = Nd4j.createBuffer(DataType.FLOAT, (long) rows * d, true);
        }

        boolean holds(int rows, int dead, int d) {
            return rows == this.rows && d == this.d && dead <= deadCapacity;
        }

        /** A row-major {@code r × c} array over the first r·c values of {@code buffer}. */
        INDArray view(DataBuffer buffer, int r, int c) {
            return Nd4j.create(buffer, new long[] {r, c}, new long[] {c, 1}, 0, 'c');
        }

        @Override
        public void close() {
            for (DataBuffer b : new DataBuffer[] {z, ga, wd, dWe, dWd, x, q}) {
                b.close();
            }
        }
    }
}
