package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The sparse backward pass against central finite differences of an independent dense
 * double-precision loss. For a fixed support the loss is a polynomial of degree 2 in each single
 * parameter, so central differences are exact up to rounding: the tolerance is set by float32
 * accumulation in the kernel, not by truncation error.
 */
class SparseStepGradientTest {
    private static final int D = 12;
    private static final int M = 20;
    private static final int ROWS = 9;
    private static final double H = 1e-4;

    @ParameterizedTest
    @EnumSource(Sparsifier.class)
    void untiedGradientsMatchFiniteDifferences(Sparsifier sp) {
        SaeSpec spec = new SaeSpec(D, M, sp, 4, sp == Sparsifier.RELU ? 0.01 : 0.0, false);
        checkGradients(spec, 11);
    }

    @Test
    void l1TermOnTopKAbsMatchesFiniteDifferences() {
        checkGradients(new SaeSpec(D, M, Sparsifier.TOPK_ABS, 5, 0.02, false), 12);
    }

    @Test
    void tiedGradientsMatchFiniteDifferences() {
        checkGradients(new SaeSpec(D, M, Sparsifier.TOPK_ABS, 4, 0.0, true), 13);
        checkGradients(new SaeSpec(D, M, Sparsifier.TOPK, 4, 0.0, true), 14);
    }

    private static void checkGradients(SaeSpec spec, long seed) {
        SaeModel model = ReferenceSae.randomModel(spec, seed);
        float[] x = ReferenceSae.gaussianRows(ROWS, D, seed + 1);
        SaeGradients g = new SaeGradients(spec, true);
        try (SparseStep step = new SparseStep(spec)) {
            step.forward(model, x, ROWS);
            double[] we = ReferenceSae.toDouble(model.encoderWeights());
            double[] be = ReferenceSae.toDouble(model.encoderBias());
            double[] wd = spec.tied() ? we : ReferenceSae.toDouble(model.decoderWeights());
            double[] bd = ReferenceSae.toDouble(model.decoderBias());
            double ref = ReferenceSae.loss(spec, we, be, wd, bd, x, ROWS);
            assertEquals(ref, step.loss(), 1e-5 * Math.max(1, ref), "forward loss vs dense reference");
            step.backward(model, x, g, true, true);
            int[][] base = ReferenceSae.supports(spec, we, be, x, ROWS);
            SplittableRandom rnd = new SplittableRandom(seed);
            int checked = 0;
            for (int t = 0; t < 60; t++) {
                int j = rnd.nextInt(M);
                int i = rnd.nextInt(D);
                int p = j * D + i;
                float an = g.touched[j] ? g.wEnc[p] : 0f;
                checked += compare("W_enc[" + j + "," + i + "]", an, we, p, spec, we, be, wd, bd, x, base);
                if (!spec.tied()) {
                    float and = g.touched[j] ? g.wDec[p] : 0f;
                    checked += compare("W_dec[" + j + "," + i + "]", and, wd, p, spec, we, be, wd, bd, x, base);
                }
                checked += compare("b_enc[" + j + "]", g.bEnc[j], be, j, spec, we, be, wd, bd, x, base);
                checked += compare("b_dec[" + i + "]", g.bDec[i], bd, i, spec, we, be, wd, bd, x, base);
            }
            assertTrue(checked > 150, "too few coordinates with a stable support: " + checked);
        }
    }

    /** Compares one coordinate; returns 1 if compared, 0 if the support moved within ±h. */
    private static int compare(String name, float analytic, double[] block, int p, SaeSpec spec,
                               double[] we, double[] be, double[] wd, double[] bd, float[] x, int[][] base) {
        double orig = block[p];
        block[p] = orig + H;
        boolean stable = sameSupports(base, ReferenceSae.supports(spec, we, be, x, ROWS));
        double lp = ReferenceSae.loss(spec, we, be, wd, bd, x, ROWS);
        block[p] = orig - H;
        stable &= sameSupports(base, ReferenceSae.supports(spec, we, be, x, ROWS));
        double lm = ReferenceSae.loss(spec, we, be, wd, bd, x, ROWS);
        block[p] = orig;
        if (!stable) {
            return 0;
        }
        double fd = (lp - lm) / (2 * H);
        assertEquals(fd, analytic, 2e-5 + 1e-4 * Math.abs(fd), name + " (" + spec.sparsifier().id() + ")");
        return 1;
    }

    private static boolean sameSupports(int[][] a, int[][] b) {
        for (int r = 0; r < a.length; r++) {
            if (!java.util.Arrays.equals(a[r], b[r])) {
                return false;
            }
        }
        return true;
    }

    @ParameterizedTest
    @EnumSource(Sparsifier.class)
    void denseImplementationGivesTheSameEncoderGradient(Sparsifier sp) {
        SaeSpec spec = new SaeSpec(D, M, sp, 5, sp == Sparsifier.RELU ? 0.01 : 0.0, false);
        SaeModel model = ReferenceSae.randomModel(spec, 21);
        float[] x = ReferenceSae.gaussianRows(ROWS, D, 22);
        SaeGradients sparse = new SaeGradients(spec, false);
        SaeGradients dense = new SaeGradients(spec, false);
        try (SparseStep step = new SparseStep(spec); DenseEncoderStep ds = new DenseEncoderStep(spec, ROWS)) {
            step.forward(model, x, ROWS);
            step.backward(model, x, sparse, true, false);
            ds.encoderGradient(model, x, dense);
        }
        for (int j = 0; j < M; j++) {
            for (int i = 0; i < D; i++) {
                float s = sparse.touched[j] ? sparse.wEnc[j * D + i] : 0f;
                assertEquals(dense.wEnc[j * D + i], s, 1e-5, "W_enc[" + j + "," + i + "]");
            }
        }
        assertArrayEquals(dense.bEnc, sparse.bEnc, 1e-5f);
    }
}
