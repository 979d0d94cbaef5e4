package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class PowerDiagramTest {

    @ParameterizedTest
    @EnumSource(value = Sparsifier.class, names = {"TOPK", "TOPK_ABS"})
    void topKSupportIsTheKSmallestPowerDistances(Sparsifier sp) {
        for (int[] shape : new int[][] {{2, 7, 2}, {5, 30, 4}, {16, 64, 9}}) {
            int d = shape[0];
            int m = shape[1];
            SaeSpec spec = new SaeSpec(d, m, sp, shape[2], 0, false);
            SaeModel model = ReferenceSae.randomModel(spec, 100 + d);
            int rows = 300;
            float[] x = ReferenceSae.gaussianRows(rows, d, 200 + d);
            PowerDiagram pd = PowerDiagram.of(model);
            assertEquals(sp == Sparsifier.TOPK_ABS ? 2 * m : m, pd.siteCount());
            try (SparseStep step = new SparseStep(spec)) {
                step.encode(model, x, rows);
                for (int b = 0; b < rows; b++) {
                    assertArrayEquals(step.codes().support(b), pd.support(x, b * d),
                            "row " + b + " shape " + d + "x" + m);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Sparsifier.class, names = {"TOPK", "TOPK_ABS"})
    void preActivationIsHalfTheNormMinusThePowerDistance(Sparsifier sp) {
        int d = 6;
        int m = 9;
        SaeSpec spec = new SaeSpec(d, m, sp, 3, 0, false);
        SaeModel model = ReferenceSae.randomModel(spec, 7);
        float[] x = ReferenceSae.gaussianRows(1, d, 8);
        double[] a = ReferenceSae.pre(spec, ReferenceSae.toDouble(model.encoderWeights()),
                ReferenceSae.toDouble(model.encoderBias()), x, 0);
        double norm2 = 0;
        for (float v : x) {
            norm2 += (double) v * v;
        }
        double[] pi = PowerDiagram.of(model).powerDistances(x, 0);
        for (int j = 0; j < m; j++) {
            assertEquals(a[j], 0.5 * (norm2 - pi[j]), 1e-5);
            if (sp == Sparsifier.TOPK_ABS) {
                assertEquals(-a[j], 0.5 * (norm2 - pi[m + j]), 1e-5);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Sparsifier.class, names = {"RELU"})
    void reluModelsHaveNoPowerDiagram(Sparsifier sp) {
        SaeModel model = ReferenceSae.randomModel(new SaeSpec(3, 4, sp, 0, 0, false), 1);
        assertThrows(IllegalArgumentException.class, () -> PowerDiagram.of(model));
    }
}
