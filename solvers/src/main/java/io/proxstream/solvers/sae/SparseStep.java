package io.proxstream.solvers.sae;

import io.proxstream.solvers.linalg.Vec;
import io.proxstream.solvers.parallel.Parallel;

/**
 * Forward and backward pass of an SAE on one minibatch, exploiting the sparsity of the code.
 *
 * <p>Only the encoder product {@code X W_encᵀ} is dense (one GEMM, {@link EncoderGemm}). Everything
 * after the sparsifier touches only the stored entries of the code: with TopK that is k latents per
 * row, so the decode costs O(B·k·d) instead of O(B·m·d), and so do the gradients with respect to the
 * code, the encoder rows and the decoder atoms.
 *
 * <p>The loss is {@code L = (1/(B·d)) Σ_b ‖x̂_b − x_b‖² + (λ/B) Σ_b ‖z_b‖₁}: the mean over all
 * entries, as {@code torch.nn.MSELoss}, plus the optional L1 term of the spec. With
 * {@code r_b = x̂_b − x_b} and {@code c = 2/(B·d)} the backward pass is
 * <pre>
 *   ∂L/∂a_bj   = σ'(a_bj) · (c · r_b·W_dec[j] + (λ/B) sign z_bj)     for j in the support of row b
 *   ∂L/∂W_enc[j] = Σ_b ∂L/∂a_bj · x_b          ∂L/∂b_enc[j] = Σ_b ∂L/∂a_bj
 *   ∂L/∂W_dec[j] = c Σ_b z_bj · r_b            ∂L/∂b_dec    = c Σ_b r_b
 * </pre>
 * and for a tied model both weight terms land on the shared rows. The TopK support is piecewise
 * constant in the parameters, so these are the gradients almost everywhere.
 *
 * <p>An instance owns its work buffers and belongs to one thread.
 */
public final class SparseStep implements AutoCloseable {
    private final SaeSpec spec;
    private final int d;
    private final int m;
    private final EncoderGemm gemm;
    private float[] pre = new float[0];
    /** Whether {@link #pre} holds the last encode's pre-activations (the TopK encode does not form them). */
    private boolean preValid;
    private float[] resid = new float[0];
    private float[] gradA = new float[0];
    private double[] rowSse = new double[0];
    /** Whether {@link #gradA} holds the last decode's code gradients ({@link #decode(SaeModel, float[], boolean)}). */
    private boolean gradAValid;
    /** The code's entries in compressed-column order: their row, ∂L/∂a and c·z (the decoder gradient's coefficient). */
    private int[] rowOf = new int[0];
    private float[] gaCol = new float[0];
    private float[] cvCol = new float[0];
    private final int[] colPtr;
    private final int[] fill;
    private final SparseCodes codes = new SparseCodes();
    private int rows;
    private double sse;
    private double l1Sum;
    /** Nanoseconds of the last encode's sgemm, the rest of it (upload, copy-out, bias, sparsifier), the last decode and backward. */
    private long gemmNanos;
    private long selectNanos;
    private long decodeNanos;
    private long backwardNanos;

    public SparseStep(SaeSpec spec) {
        this.spec = spec;
        this.d = spec.inputDim();
        this.m = spec.latents();
        this.gemm = new EncoderGemm(d, m);
        this.colPtr = new int[m + 1];
        this.fill = new int[m];
    }

    /** Columns per block of the weight gradients ({@link #backward}): 64 bytes of each row, a cache line. */
    public static final int GRADIENT_BLOCK = 16;


    public SaeSpec spec() {
        return spec;
    }

    /**
     * Encodes {@code rows} rows of {@code x} (row-major, not modified) into {@link #codes()}. A TopK model's codes come
     * from {@link EncoderGemm#topK}, which selects each row as it is copied out of the GEMM and never forms the {@code rows × m}
     * pre-activations ({@link #preActivations()} is then not valid); other sparsifiers go through the whole matrix.
     */
    public void encode(SaeModel model, float[] x, int rows) {
        encode(model, x, rows, null, null);
    }

    /**
     * As {@link #encode(SaeModel, float[], int)}, and keeps the pre-activations of the latents {@code keep} (ascending)
     * in {@code kept}, {@code rows × keep.length} (column t for latent {@code keep[t]}).
     */
    public void encode(SaeModel model, float[] x, int rows, int[] keep, float[] kept) {
        if (x.length < (long) rows * d) {
            throw new IllegalArgumentException("x holds " + x.length + " values, need " + rows + "x" + d);
        }
        if (!spec.sparsifier().isTopK()) {
            encodeWithPreActivations(model, x, rows);
            int nk = keep == null ? 0 : keep.length;
            for (int b = 0; b < rows; b++) {
                for (int t = 0; t < nk; t++) {
                    kept[b * nk + t] = pre[b * m + keep[t]];
                }
            }
            return;
        }
        this.rows = rows;
        long t0 = System.nanoTime();
        gemm.topK(model, x, rows, spec.k(), spec.sparsifier() == Sparsifier.TOPK_ABS, codes, keep, kept);
        gemmNanos = gemm.lastGemmNanos();
        selectNanos = System.nanoTime() - t0 - gemmNanos;
        preValid = false;
        gradAValid = false;
    }

    /** Encodes through the whole {@code rows × m} pre-activation matrix, which {@link #preActivations()} then returns. */
    public void encodeWithPreActivations(SaeModel model, float[] x, int rows) {
        if (x.length < (long) rows * d) {
            throw new IllegalArgumentException("x holds " + x.length + " values, need " + rows + "x" + d);
        }
        this.rows = rows;
        if ((long) rows * m > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(rows + " rows x " + m + " latents of pre-activations exceed the largest Java array");
        }
        if (pre.length < rows * m) {
            pre = new float[rows * m];
        }
        long t0 = System.nanoTime();
        gemm.preActivations(model, x, rows, pre);
        Sparsify.apply(spec, pre, rows, codes);
        gemmNanos = gemm.lastGemmNanos();
        selectNanos = System.nanoTime() - t0 - gemmNanos;
        preValid = true;
        gradAValid = false;
    }

    /**
     * Decodes the current codes with the model's decoder, stores the residuals {@code x̂ − x} and the
     * loss parts. Call after {@link #encode}; {@code x} must be the same rows.
     */
    public void decode(SaeModel model, float[] x) {
        decode(model, x, false);
    }

    /**
     * {@link #decode(SaeModel, float[])}, and with {@code codeGradients} also the loss's gradient at each code entry's
     * pre-activation, which {@link #backward} needs: {@code r_b·W_dec[j]} is taken right after row b's residual is formed,
     * while the row and its k atoms are still in the core's cache (without it, {@link #backward} takes the same products
     * row by row and gathers the B·k atoms from memory a second time). The values are the same bits either way.
     */
    public void decode(SaeModel model, float[] x, boolean codeGradients) {
        long t0 = System.nanoTime();
        gradAValid = false;
        int nnz = codes.entries();
        if (codeGradients && gradA.length < nnz) {
            gradA = new float[nnz];
        }
        final float c = 2f / (rows * (float) d);
        final float l1c = (float) (spec.l1() / rows);
        final Sparsifier sp = spec.sparsifier();
        int n = rows * d;
        if (resid.length < n) {
            resid = new float[n];
            rowSse = new double[rows];
        }
        if (rowSse.length < rows) {
            rowSse = new double[rows];
        }
        float[] wDec = model.decoderWeights();
        float[] bDec = model.decoderBias();
        Parallel.forRange(rows, 4, (from, to) -> {
            for (int b = from; b < to; b++) {
                int o = b * d;
                Vec.decodeRow(bDec, x, o, wDec, d, codes.idx, codes.val, codes.rowPtr[b], codes.rowPtr[b + 1], resid, o);
                rowSse[b] = Vec.sumSquares(resid, o, d);
                if (codeGradients) {
                    codeGradientsOfRow(b, wDec, c, l1c, sp);
                }
            }
        });
        gradAValid = codeGradients;
        double s = 0;
        for (int b = 0; b < rows; b++) {
            s += rowSse[b];
        }
        sse = s;
        double l1 = 0;
        if (spec.l1() > 0) {
            for (int e = 0, end = codes.entries(); e < end; e++) {
                l1 += Math.abs(codes.val[e]);
            }
        }
        l1Sum = l1;
        decodeNanos = System.nanoTime() - t0;
    }

    /** {@link #encode} then {@link #decode}. */
    public void forward(SaeModel model, float[] x, int rows) {
        forward(model, x, rows, false);
    }

    /** {@link #encode} then {@link #decode(SaeModel, float[], boolean)}. */
    public void forward(SaeModel model, float[] x, int rows, boolean codeGradients) {
        encode(model, x, rows);
        decode(model, x, codeGradients);
    }

    /** ∂L/∂a of row b's entries into {@link #gradA}: {@code σ'(a) · (c · r_b·W_dec[j] + (λ/B) sign z)}. */
    private void codeGradientsOfRow(int b, float[] wDec, float c, float l1c, Sparsifier sp) {
        int o = b * d;
        for (int e = codes.rowPtr[b], end = codes.rowPtr[b + 1]; e < end; e++) {
            float v = codes.val[e];
            float gz = c * Vec.dot(resid, o, wDec, codes.idx[e] * d, d) + l1c * Math.signum(v);
            gradA[e] = Sparsify.derivative(sp, v) * gz;
        }
    }

    /**
     * Gradients of the batch loss at the current forward pass (the model must be the one of the last {@link #decode}).
     *
     * <p>The weight gradients are sums over each latent's entries of rows of x and of the residuals. They are formed a
     * block of {@link #GRADIENT_BLOCK} columns at a time ({@link Vec#columnsTimesPackedRows}): the block of all B rows of x
     * and of the residuals is packed (2·B·16 floats, 512 KiB at B = 4 096) and stays in the core's cache while every
     * latent's entries gather from it, each latent's block of sums kept in registers and written once. Gathering whole
     * rows per entry instead reads B·k rows of x and of the residuals (800 MB at 768 → 16 384, k 32, B 4 096) from
     * memory. Each gradient value is the same sum, in the same order, as the row-by-row loops gave.
     *
     * @param encoder write encoder gradients ({@code W_enc}, {@code b_enc})
     * @param decoder write decoder gradients ({@code W_dec} or, tied, into {@code W_enc}; {@code b_dec})
     * @param g       receives the gradients; modified
     */
    public void backward(SaeModel model, float[] x, SaeGradients g, boolean encoder, boolean decoder) {
        if (spec.tied() && encoder != decoder) {
            throw new IllegalArgumentException("a tied model trains encoder and decoder together");
        }
        long t0 = System.nanoTime();
        final float c = 2f / (rows * (float) d);
        final float l1c = (float) (spec.l1() / rows);
        final Sparsifier sp = spec.sparsifier();
        final float[] wDec = model.decoderWeights();
        final int nnz = codes.entries();
        if (gradA.length < nnz) {
            gradA = new float[nnz];   // too small means the decode did not fill it: the backward does
        }
        if (rowOf.length < nnz) {
            rowOf = new int[nnz];
            gaCol = new float[nnz];
            cvCol = new float[nnz];
        }
        if (encoder && !gradAValid) {
            Parallel.forRange(rows, 16, (from, to) -> {
                for (int b = from; b < to; b++) {
                    codeGradientsOfRow(b, wDec, c, l1c, sp);
                }
            });
        }
        // compressed-column index of the code: entries of each latent, in row order, with their row and coefficients
        java.util.Arrays.fill(colPtr, 0);
        for (int e = 0; e < nnz; e++) {
            colPtr[codes.idx[e] + 1]++;
        }
        for (int j = 0; j < m; j++) {
            colPtr[j + 1] += colPtr[j];
        }
        System.arraycopy(colPtr, 0, fill, 0, m);
        for (int b = 0; b < rows; b++) {
            for (int e = codes.rowPtr[b], end = codes.rowPtr[b + 1]; e < end; e++) {
                int p = fill[codes.idx[e]]++;
                rowOf[p] = b;
                gaCol[p] = encoder ? gradA[e] : 0f;
                cvCol[p] = c * codes.val[e];
            }
        }
        final boolean tied = spec.tied();
        final boolean untiedDec = decoder && !tied;
        Parallel.forRange(m, 256, (from, to) -> {
            for (int j = from; j < to; j++) {
                int start = colPtr[j];
                int end = colPtr[j + 1];
                g.touched[j] = end > start;
                if (encoder) {
                    float biasG = 0f;
                    for (int p = start; p < end; p++) {
                        biasG += gaCol[p];
                    }
                    g.bEnc[j] = biasG;
                }
            }
        });
        int blocks = (d + GRADIENT_BLOCK - 1) / GRADIENT_BLOCK;
        if (encoder || decoder) {
            final int rowCount = rows;
            Parallel.forRange(blocks, 1, (from, to) -> {
                float[] xs = encoder ? new float[rowCount * GRADIENT_BLOCK] : null;
                float[] rs = decoder ? new float[rowCount * GRADIENT_BLOCK] : null;
                for (int blk = from; blk < to; blk++) {
                    int c0 = blk * GRADIENT_BLOCK;
                    int w = Math.min(GRADIENT_BLOCK, d - c0);
                    if (xs != null) {
                        pack(x, rowCount, c0, w, xs);
                    }
                    if (rs != null) {
                        pack(resid, rowCount, c0, w, rs);
                        // ∂L/∂b_dec = c Σ_b r_b on this block's columns, rows in order (as an axpy per row)
                        for (int t = 0; t < w; t++) {
                            float sum = 0f;
                            for (int b = 0; b < rowCount; b++) {
                                sum += c * rs[b * w + t];
                            }
                            g.bDec[c0 + t] = sum;
                        }
                    }
                    if (tied) {
                        // ga·x then c·z·r per entry, into the shared rows
                        Vec.columnsTimesPackedRows(w, m, colPtr, rowOf, gaCol, xs, g.wEnc, cvCol, rs, null, d, c0);
                    } else if (encoder && untiedDec) {
                        Vec.columnsTimesPackedRows(w, m, colPtr, rowOf, gaCol, xs, g.wEnc, cvCol, rs, g.wDec, d, c0);
                    } else if (encoder) {
                        Vec.columnsTimesPackedRows(w, m, colPtr, rowOf, gaCol, xs, g.wEnc, null, null, null, d, c0);
                    } else {
                        Vec.columnsTimesPackedRows(w, m, colPtr, rowOf, cvCol, rs, g.wDec, null, null, null, d, c0);
                    }
                }
            });
        }
        backwardNanos = System.nanoTime() - t0;
    }

    /** Columns {@code c0 .. c0 + w} of the {@code rows × d} matrix {@code a}, packed {@code w} floats a row into {@code out}. */
    private void pack(float[] a, int rowCount, int c0, int w, float[] out) {
        for (int b = 0; b < rowCount; b++) {
            int src = b * d + c0;
            int dst = b * w;
            for (int t = 0; t < w; t++) {
                out[dst + t] = a[src + t];
            }
        }
    }

    /**
     * Wall time of the last step's parts, in nanoseconds: {the encoder sgemm alone, the rest of the encode (the encoder's
     * upload to BLAS, the copy-out, the bias and the sparsifier), decode, backward}. Benchmarks read it to say where a step's time went.
     */
    public long[] phaseNanos() {
        return new long[] {gemmNanos, selectNanos, decodeNanos, backwardNanos};
    }

    /** The gradient of the loss at each code entry's pre-activation, of the last {@link #backward} (first entries() values). */
    float[] codeGradients() {
        return gradA;
    }

    /** The largest number of code entries of one latent in the last {@link #backward} (its column count). */
    int maxEntriesPerLatent() {
        int mx = 0;
        for (int j = 0; j < m; j++) {
            mx = Math.max(mx, colPtr[j + 1] - colPtr[j]);
        }
        return mx;
    }

    /** Codes of the last {@link #encode}; valid until the next call. */
    public SparseCodes codes() {
        return codes;
    }

    /** Pre-activations of the last {@link #encodeWithPreActivations} ({@code rows × m}); valid until the next call. */
    public float[] preActivations() {
        if (!preValid) {
            throw new IllegalStateException("the last encode did not form the pre-activations (use encodeWithPreActivations)");
        }
        return pre;
    }

    /** Residuals {@code x̂ − x} of the last {@link #decode}; valid until the next call. */
    public float[] residuals() {
        return resid;
    }

    public int rows() {
        return rows;
    }

    /** Σ‖x̂ − x‖² of the last decode. */
    public double sse() {
        return sse;
    }

    /** Σ_b ‖z_b‖₁ of the last decode (0 when the spec has no L1 term). */
    public double l1Sum() {
        return l1Sum;
    }

    /** The loss of the last decode: MSE over all entries plus the L1 term. */
    public double loss() {
        return sse / ((double) rows * d) + (rows == 0 ? 0 : spec.l1() * l1Sum / rows);
    }

    @Override
    public void close() {
        gemm.close();
    }
}
