package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.proxstream.solvers.blas.BlasInfo;
import org.junit.jupiter.api.Test;

/**
 * ND4J's GEMM, under whatever OpenBLAS kernel this process runs (the launcher sets
 * {@code OPENBLAS_CORETYPE} for the test run), against a plain-Java product in double.
 */
class EncoderGemmTest {

    @Test
    void gemmUnderTheSelectedKernelMatchesPlainJava() {
        BlasInfo blas = BlasInfo.current();
        System.out.println("[EncoderGemmTest] " + blas.describe());
        if (blas.coreTypeOverride() != null && !blas.coreTypeOverride().isBlank()) {
            assertEquals(blas.coreTypeOverride().toLowerCase(), blas.coreName().toLowerCase(),
                    "OpenBLAS did not take the kernel requested by OPENBLAS_CORETYPE");
        }
        assertFalse(blas.coreName().startsWith("unknown"), blas.coreName());
        // shapes large enough for OpenBLAS to use its blocked multithreaded kernel, and odd sizes
        for (int[] s : new int[][] {{256, 384, 768}, {37, 65, 129}, {1, 5, 3}}) {
            int rows = s[0];
            int d = s[1];
            int m = s[2];
            SaeSpec spec = new SaeSpec(d, m, Sparsifier.TOPK, 1, 0, false);
            SaeModel model = ReferenceSae.randomModel(spec, rows + d);
            float[] x = ReferenceSae.gaussianRows(rows, d, m);
            float[] out = new float[rows * m];
            try (EncoderGemm gemm = new EncoderGemm(d, m)) {
                gemm.preActivations(model, x, rows, out);
                // a second call after changing the encoder must see the change
                model.encoderWeights()[0] += 1f;
                model.encoderChanged();
                gemm.preActivations(model, x, rows, out);
            }
            double[] we = ReferenceSae.toDouble(model.encoderWeights());
            double[] be = ReferenceSae.toDouble(model.encoderBias());
            double maxErr = 0;
            for (int b = 0; b < rows; b++) {
                double[] a = ReferenceSae.pre(spec, we, be, x, b);
                for (int j = 0; j < m; j++) {
                    double err = Math.abs(a[j] - out[b * m + j]) / (1 + Math.abs(a[j]));
                    maxErr = Math.max(maxErr, err);
                }
            }
            // float32 dot products of length d: relative error ~ sqrt(d) * 6e-8
            assertEquals(0.0, maxErr, 2e-5, "max relative error at " + rows + "x" + d + "x" + m);
        }
    }
}
