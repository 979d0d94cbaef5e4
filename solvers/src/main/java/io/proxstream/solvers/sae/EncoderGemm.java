package io.proxstream.solvers.sae;

import io.proxstream.solvers.parallel.Parallel;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Computes encoder pre-activations {@code A = X W_encᵀ + b_enc} with one BLAS GEMM through ND4J.
 *
 * <p>This is the only dense O(B·d·m) product of a sparse training step, so it goes to OpenBLAS; the
 * rest of the step works on the k active latents in plain Java. The encoder weights are mirrored
 * into an off-heap array that is re-uploaded only when {@link SaeModel#encoderVersion()} changed.
 * Input and output buffers are allocated once per distinct row count and reused, so a long stream
 * allocates no off-heap memory after warm-up (ND4J frees off-heap memory only through the GC).
 * One instance belongs to one thread.
 */
public final class EncoderGemm implements AutoCloseable {
    private final int d;
    private final int m;
    private final INDArray weights;
    private final FloatBuffer weightsView;
    private final Map<Integer, INDArray[]> io = new HashMap<>();
    private SaeModel uploadedModel;
    private long uploadedVersion = -1;
    private long lastGemmNanos;

    public EncoderGemm(int inputDim, int latents) {
        this.d = inputDim;
        this.m = latents;
        this.weights = Nd4j.create(DataType.FLOAT, m, d);
        this.weightsView = weights.data().asNioFloat();
    }

    /**
     * Writes {@code x W_encᵀ + b_enc} for {@code rows} rows into {@code out}.
     *
     * @param x   input rows, {@code rows × d}; not modified
     * @param out receives {@code rows × m} pre-activations; modified
     */
    public void preActivations(SaeModel model, float[] x, int rows, float[] out) {
        if (model.spec().inputDim() != d || model.spec().latents() != m) {
            throw new IllegalArgumentException("model shape " + model.spec() + " does not match GEMM "
                    + d + "x" + m);
        }
        if (model != uploadedModel || model.encoderVersion() != uploadedVersion) {
            // absolute bulk puts leave the buffer's position alone, so the row ranges can be copied in parallel
            float[] w = model.encoderWeights();
            Parallel.forRange(m, 256, (from, to) -> weightsView.put(from * d, w, from * d, (to - from) * d));
            uploadedModel = model;
            uploadedVersion = model.encoderVersion();
        }
        INDArray[] buf = io.get(rows);
        if (buf == null) {
            if (io.size() >= 4) {
                io.clear();
            }
            buf = new INDArray[] {Nd4j.create(DataType.FLOAT, rows, d), Nd4j.create(DataType.FLOAT, rows, m)};
            io.put(rows, buf);
        }
        INDArray xs = buf[0];
        INDArray as = buf[1];
        xs.data().asNioFloat().put(0, x, 0, rows * d);
        long t0 = System.nanoTime();
        Nd4j.gemm(xs, weights, as, false, true, 1.0, 0.0);
        lastGemmNanos = System.nanoTime() - t0;
        // copy out and add the bias row by row while the row is in cache, on all cores: at B x m = 4096 x 16 384
        // these are 256 MiB each way, the largest memory traffic of the step after the GEMM itself
        FloatBuffer result = as.data().asNioFloat();
        float[] bias = model.encoderBias();
        Parallel.forRange(rows, 4, (from, to) -> {
            for (int b = from; b < to; b++) {
                int o = b * m;
                result.get(o, out, o, m);
                for (int j = 0; j < m; j++) {
                    out[o + j] += bias[j];
                }
            }
        });
    }

    /** Nanoseconds of the last call's sgemm alone (without the upload, the copy-out and the bias). */
    public long lastGemmNanos() {
        return lastGemmNanos;
    }

    @Override
    public void close() {
        weights.close();
        io.values().forEach(a -> {
            a[0].close();
            a[1].close();
        });
        io.clear();
    }
}
