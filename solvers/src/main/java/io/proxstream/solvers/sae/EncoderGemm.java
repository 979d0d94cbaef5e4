package io.proxstream.solvers.sae;

import io.proxstream.solvers.linalg.Gemm;
import io.proxstream.solvers.linalg.NativeFloats;
import io.proxstream.solvers.linalg.Vec;
import io.proxstream.solvers.parallel.Parallel;
import java.nio.FloatBuffer;

/**
 * The encoder's dense product {@code A = X W_encᵀ + b_enc}, the only O(B·d·m) product of a sparse training step, through
 * OpenBLAS's {@code cblas_sgemm} on off-heap operands; the rest of the step works on the k active latents in plain Java.
 *
 * <p>Two ways to use it. {@link #preActivations} copies the whole {@code rows × m} product onto the Java heap with the
 * bias added. {@link #topK} does not: each row is copied into a per-thread buffer, gets its bias, and goes straight to its
 * TopK selection ({@link TopKHeaps#selectRow}, two vectorised passes) while it is in the core's cache. At
 * B × m = 4 096 × 16 384 that saves a 256 MiB Java array, writing it, and reading it again for the selection; the
 * selection itself is about three times faster than the heap scan of {@link Sparsify} (about 5 against 18 µs a row of
 * 16 384 keys). The product is the same call in both, so both see the same pre-activations, bit for bit.
 *
 * <p>The encoder weights are mirrored off-heap and re-uploaded only when {@link SaeModel#encoderVersion()} changed; the
 * input rows are copied in per call. Buffers grow to the largest batch seen and are reused, so a long stream allocates no
 * off-heap memory after warm-up. One instance belongs to one thread.
 */
public final class EncoderGemm implements AutoCloseable {
    private final int d;
    private final int m;
    private final NativeFloats weights = new NativeFloats();
    private final NativeFloats xs = new NativeFloats();
    private final NativeFloats out = new NativeFloats();
    private SaeModel uploadedModel;
    private long uploadedVersion = -1;
    private long lastGemmNanos;
    private TopKHeaps heaps;

    public EncoderGemm(int inputDim, int latents) {
        this.d = inputDim;
        this.m = latents;
    }

    private void upload(SaeModel model, float[] x, int rows) {
        if (model.spec().inputDim() != d || model.spec().latents() != m) {
            throw new IllegalArgumentException("model shape " + model.spec() + " does not match GEMM " + d + "x" + m);
        }
        if (x.length < (long) rows * d) {
            throw new IllegalArgumentException("x holds " + x.length + " values, need " + rows + "x" + d);
        }
        if (model != uploadedModel || model.encoderVersion() != uploadedVersion) {
            weights.ensure((long) m * d);
            // absolute bulk puts leave the buffer's position alone, so the row ranges can be copied in parallel
            float[] w = model.encoderWeights();
            FloatBuffer view = weights.buffer();
            Parallel.forRange(m, 256, (from, to) -> view.put(from * d, w, from * d, (to - from) * d));
            uploadedModel = model;
            uploadedVersion = model.encoderVersion();
        }
        xs.ensure((long) rows * d);
        xs.buffer().put(0, x, 0, rows * d);
    }

    /** {@code x W_encᵀ} (no bias) into the off-heap {@link #out}, {@code rows × m}; times the sgemm alone. */
    private void multiply(SaeModel model, float[] x, int rows) {
        upload(model, x, rows);
        out.ensure((long) rows * m);
        long t0 = System.nanoTime();
        Gemm.sgemm(false, true, rows, m, d, 1f, xs, 0, d, weights, 0, d, 0f, out, 0, m);
        lastGemmNanos = System.nanoTime() - t0;
    }

    /**
     * Writes {@code x W_encᵀ + b_enc} for {@code rows} rows into {@code out}.
     *
     * @param x   input rows, {@code rows × d}; not modified
     * @param pre receives {@code rows × m} pre-activations; modified
     */
    public void preActivations(SaeModel model, float[] x, int rows, float[] pre) {
        multiply(model, x, rows);
        // copy out and add the bias row by row while the row is in cache, on all cores
        FloatBuffer result = out.buffer();
        float[] bias = model.encoderBias();
        Parallel.forRange(rows, 4, (from, to) -> {
            for (int b = from; b < to; b++) {
                int o = b * m;
                result.get(o, pre, o, m);
                Vec.axpy(1f, bias, 0, pre, o, m);
            }
        });
    }

    /**
     * TopK codes of {@code rows} rows ({@code k} largest pre-activations, or of their magnitudes when {@code abs}) without
     * forming the pre-activation matrix, and the pre-activations of the latents {@code keep} (ascending, may be empty)
     * in {@code kept}, {@code rows × keep.length}, column t for latent {@code keep[t]}.
     */
    public void topK(SaeModel model, float[] x, int rows, int k, boolean abs, SparseCodes codes, int[] keep, float[] kept) {
        if (k < 1 || k > m) {
            throw new IllegalArgumentException("k = " + k + " is not in [1, " + m + "]");
        }
        int nk = keep == null ? 0 : keep.length;
        if (nk > 0 && kept.length < (long) rows * nk) {
            throw new IllegalArgumentException("kept holds " + kept.length + " values, need " + rows + "x" + nk);
        }
        if (heaps == null || heaps.k != k) {
            heaps = new TopKHeaps(k);
        }
        heaps.reset(rows);
        TopKHeaps h = heaps;
        multiply(model, x, rows);
        FloatBuffer result = out.buffer();
        float[] bias = model.encoderBias();
        Parallel.forRange(rows, 16, (from, to) -> {
            float[] s = new float[m];
            float[] chunkMax = new float[m];
            for (int b = from; b < to; b++) {
                result.get(b * m, s, 0, m);
                h.selectRow(b, s, bias, m, abs, chunkMax);   // s += bias (the bits of an axpy) in the selection's first pass
                for (int t = 0; t < nk; t++) {
                    kept[b * nk + t] = s[keep[t]];
                }
            }
        });
        codes.reset(rows, m, rows * k);
        for (int b = 0; b <= rows; b++) {
            codes.rowPtr[b] = b * k;
        }
        Parallel.forRange(rows, 64, (from, to) -> {
            for (int b = from; b < to; b++) {
                h.emit(b, abs, codes.idx, codes.val, b * k);
            }
        });
    }

    /** Nanoseconds of the last call's sgemm alone (without the upload, the copy-out, the bias and the selection). */
    public long lastGemmNanos() {
        return lastGemmNanos;
    }

    /** Off-heap bytes this instance holds for a batch of {@code rows} rows (weights, input rows, product buffer). */
    public static long workspaceBytes(long rows, long d, long m) {
        return 4 * (m * d + rows * d + rows * m);
    }

    @Override
    public void close() {
        weights.close();
        xs.close();
        out.close();
        uploadedModel = null;
        uploadedVersion = -1;
    }
}
