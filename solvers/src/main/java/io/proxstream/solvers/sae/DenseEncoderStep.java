package io.proxstream.solvers.sae;

import java.nio.FloatBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The encoder gradient of {@link SparseStep} computed densely with ND4J: the code is materialised as
 * a {@code B × m} matrix and the decode, the code gradient and the encoder gradient are three more
 * GEMMs ({@code Z W_dec}, {@code R W_decᵀ}, {@code G_Aᵀ X}). This is what an autodiff framework does
 * with a TopK SAE; it exists as the baseline of {@code bench sae} and as an independent check of the
 * sparse backward pass. Untied models only. Buffers are allocated once for a fixed batch size.
 */
public final class DenseEncoderStep implements AutoCloseable {
    private final SaeSpec spec;
    private final int batch;
    private final int d;
    private final int m;
    private final INDArray x;
    private final INDArray wEnc;
    private final INDArray bEnc;
    private final INDArray wDec;
    private final INDArray bDec;
    private final INDArray pre;
    private final INDArray z;
    private final INDArray mask;
    private final INDArray recon;
    private final INDArray gz;
    private final INDArray gwEnc;
    private final float[] hostPre;
    private final float[] hostZ;
    private final float[] hostMask;
    private final SparseCodes codes = new SparseCodes();

    public DenseEncoderStep(SaeSpec spec, int batch) {
        if (spec.tied()) {
            throw new IllegalArgumentException("dense reference step is for untied models");
        }
        this.spec = spec;
        this.batch = batch;
        this.d = spec.inputDim();
        this.m = spec.latents();
        x = Nd4j.create(DataType.FLOAT, batch, d);
        wEnc = Nd4j.create(DataType.FLOAT, m, d);
        bEnc = Nd4j.create(DataType.FLOAT, 1, m);
        wDec = Nd4j.create(DataType.FLOAT, m, d);
        bDec = Nd4j.create(DataType.FLOAT, 1, d);
        pre = Nd4j.create(DataType.FLOAT, batch, m);
        z = Nd4j.create(DataType.FLOAT, batch, m);
        mask = Nd4j.create(DataType.FLOAT, batch, m);
        recon = Nd4j.create(DataType.FLOAT, batch, d);
        gz = Nd4j.create(DataType.FLOAT, batch, m);
        gwEnc = Nd4j.create(DataType.FLOAT, m, d);
        hostPre = new float[batch * m];
        hostZ = new float[batch * m];
        hostMask = new float[batch * m];
    }

    /**
     * Writes the encoder gradient of the batch loss into {@code out.wEnc}, {@code out.bEnc} (all rows
     * marked touched).
     *
     * @param xs exactly {@code batch} rows (not modified)
     */
    public void encoderGradient(SaeModel model, float[] xs, SaeGradients out) {
        put(x, xs, batch * d);
        put(wEnc, model.encoderWeights(), m * d);
        put(bEnc, model.encoderBias(), m);
        put(wDec, model.decoderWeights(), m * d);
        put(bDec, model.decoderBias(), d);
        Nd4j.gemm(x, wEnc, pre, false, true, 1.0, 0.0);
        pre.addiRowVector(bEnc);
        pre.data().asNioFloat().get(0, hostPre, 0, batch * m);
        Sparsify.apply(spec, hostPre, batch, codes);
        java.util.Arrays.fill(hostZ, 0f);
        java.util.Arrays.fill(hostMask, 0f);
        float l1c = (float) (spec.l1() / batch);
        for (int b = 0; b < batch; b++) {
            for (int e = codes.rowStart(b); e < codes.rowEnd(b); e++) {
                int j = codes.index(e);
                float v = codes.value(e);
                hostZ[b * m + j] = v;
                hostMask[b * m + j] = Sparsify.derivative(spec.sparsifier(), v);
            }
        }
        put(z, hostZ, batch * m);
        put(mask, hostMask, batch * m);
        Nd4j.gemm(z, wDec, recon, false, false, 1.0, 0.0);
        recon.addiRowVector(bDec).subi(x);
        float c = 2f / (batch * (float) d);
        Nd4j.gemm(recon, wDec, gz, false, true, c, 0.0);
        if (l1c != 0f) {
            try (INDArray sign = org.nd4j.linalg.ops.transforms.Transforms.sign(z, true)) {
                gz.addi(sign.muli(l1c));
            }
        }
        gz.muli(mask);
        Nd4j.gemm(gz, x, gwEnc, true, false, 1.0, 0.0);
        gwEnc.data().asNioFloat().get(0, out.wEnc, 0, m * d);
        try (INDArray gb = gz.sum(0)) {
            gb.data().asNioFloat().get(0, out.bEnc, 0, m);
        }
        java.util.Arrays.fill(out.touched, true);
    }

    private static void put(INDArray a, float[] src, int n) {
        FloatBuffer fb = a.data().asNioFloat();
        fb.put(0, src, 0, n);
    }

    @Override
    public void close() {
        for (INDArray a : new INDArray[] {x, wEnc, bEnc, wDec, bDec, pre, z, mask, recon, gz, gwEnc}) {
            a.close();
        }
    }
}
