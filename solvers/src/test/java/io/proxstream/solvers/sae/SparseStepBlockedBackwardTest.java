package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.proxstream.solvers.linalg.Vec;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * {@link SparseStep#backward} forms the weight gradients a block of columns at a time and may take the code gradients
 * from {@link SparseStep#decode(SaeModel, float[], boolean)}; both are reorganisations of the same sums, so every
 * gradient must equal, bit for bit, the row-by-row definition written out here (each latent's entries in row order,
 * {@code scaleInto} for the first, {@code axpy} for the rest; the decoder bias an axpy per row). Widths cover whole
 * blocks of 16 (the vector kernel), a last block of 8 and of 4 (the scalar kernel); tied and untied models; encoder
 * only and both; TopK and ReLU codes (ReLU codes hold zeros and many entries per row).
 */
class SparseStepBlockedBackwardTest {

    @Test
    void blockedGradientsEqualTheRowByRowDefinitionBitForBit() {
        int rows = 37;
        for (int d : new int[] {64, 24, 20}) {
            for (Sparsifier sp : new Sparsifier[] {Sparsifier.TOPK, Sparsifier.RELU}) {
                for (boolean tied : new boolean[] {false, true}) {
                    SaeSpec spec = new SaeSpec(d, 48, sp, 6, sp == Sparsifier.RELU ? 0.01 : 0.0, tied);
                    SaeModel model = ReferenceSae.randomModel(spec, 31 + d);
                    float[] x = ReferenceSae.gaussianRows(rows, d, 32 + d);
                    for (boolean both : tied ? new boolean[] {true} : new boolean[] {false, true}) {
                        SaeGradients expected = new SaeGradients(spec, both);
                        SaeGradients fused = new SaeGradients(spec, both);
                        SaeGradients separate = new SaeGradients(spec, both);
                        try (SparseStep step = new SparseStep(spec)) {
                            step.forward(model, x, rows, true);
                            step.backward(model, x, fused, true, both);
                            reference(step, model, x, rows, expected, both);
                            step.forward(model, x, rows, false);
                            step.backward(model, x, separate, true, both);
                        }
                        String at = "d " + d + ", " + sp.id() + (tied ? ", tied" : "") + (both ? ", encoder and decoder" : ", encoder");
                        assertSame(expected, fused, at + ", code gradients from the decode");
                        assertSame(expected, separate, at + ", code gradients in the backward");
                    }
                }
            }
        }
    }

    /** The row-by-row backward (as SparseStep ran it before the blocks), from the step's codes and residuals. */
    private static void reference(SparseStep step, SaeModel model, float[] x, int rows, SaeGradients g, boolean decoder) {
        SaeSpec spec = model.spec();
        int d = spec.inputDim();
        int m = spec.latents();
        SparseCodes codes = step.codes();
        float[] resid = step.residuals();
        float[] wDec = model.decoderWeights();
        float c = 2f / (rows * (float) d);
        float l1c = (float) (spec.l1() / rows);
        for (int j = 0; j < m; j++) {
            boolean first = true;
            float biasG = 0f;
            for (int b = 0; b < rows; b++) {
                for (int e = codes.rowPtr[b]; e < codes.rowPtr[b + 1]; e++) {
                    if (codes.idx[e] != j) {
                        continue;
                    }
                    float v = codes.val[e];
                    float gz = c * Vec.dot(resid, b * d, wDec, j * d, d) + l1c * Math.signum(v);
                    float ga = Sparsify.derivative(spec.sparsifier(), v) * gz;
                    biasG += ga;
                    if (first) {
                        Vec.scaleInto(ga, x, b * d, g.wEnc, j * d, d);
                    } else {
                        Vec.axpy(ga, x, b * d, g.wEnc, j * d, d);
                    }
                    if (spec.tied()) {
                        Vec.axpy(c * v, resid, b * d, g.wEnc, j * d, d);
                    } else if (decoder) {
                        if (first) {
                            Vec.scaleInto(c * v, resid, b * d, g.wDec, j * d, d);
                        } else {
                            Vec.axpy(c * v, resid, b * d, g.wDec, j * d, d);
                        }
                    }
                    first = false;
                }
            }
            g.touched[j] = !first;
            g.bEnc[j] = biasG;
        }
        if (decoder) {
            Arrays.fill(g.bDec, 0f);
            for (int b = 0; b < rows; b++) {
                Vec.axpy(c, resid, b * d, g.bDec, 0, d);
            }
        }
    }

    private static void assertSame(SaeGradients expected, SaeGradients actual, String at) {
        int d = expected.wEnc.length / expected.bEnc.length;
        int touched = 0;
        for (int j = 0; j < expected.touched.length; j++) {
            assertEquals(expected.touched[j], actual.touched[j], at + ": touched[" + j + "]");
            assertEquals(Float.floatToIntBits(expected.bEnc[j]), Float.floatToIntBits(actual.bEnc[j]), at + ": b_enc[" + j + "]");
            if (!expected.touched[j]) {
                continue;
            }
            touched++;
            for (int i = 0; i < d; i++) {
                int o = j * d + i;
                assertEquals(Float.floatToIntBits(expected.wEnc[o]), Float.floatToIntBits(actual.wEnc[o]), at + ": W_enc[" + j + "," + i + "]");
                if (expected.wDec != null) {
                    assertEquals(Float.floatToIntBits(expected.wDec[o]), Float.floatToIntBits(actual.wDec[o]),
                            at + ": W_dec[" + j + "," + i + "]");
                }
            }
        }
        assertEquals(true, touched > 5, at + ": too few latents fired to compare (" + touched + ")");
        if (expected.bDec != null) {
            for (int i = 0; i < expected.bDec.length; i++) {
                assertEquals(Float.floatToIntBits(expected.bDec[i]), Float.floatToIntBits(actual.bDec[i]), at + ": b_dec[" + i + "]");
            }
        }
    }
}
