package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @ParameterizedTest
    @EnumSource(value = Sparsifier.class, names = {"TOPK", "TOPK_ABS"})
    void onEachRegionTheSaeIsTheAffineMapOfItsActiveSet(Sparsifier sp) {
        int d = 4;
        SaeSpec spec = new SaeSpec(d, 12, sp, 3, 0, false);
        SaeModel model = ReferenceSae.randomModel(spec, 31);
        int rows = 200;
        float[] x = ReferenceSae.gaussianRows(rows, d, 32);
        try (SparseStep step = new SparseStep(spec)) {
            step.forward(model, x, rows);
            float[] resid = step.residuals();
            for (int b = 0; b < rows; b++) {
                int[] active = PowerDiagram.activeSet(model, x, b * d);
                float[] map = PowerDiagram.affineMap(model, active);
                for (int t = 0; t < d; t++) {
                    double v = map[d * d + t];
                    for (int s2 = 0; s2 < d; s2++) {
                        v += x[b * d + s2] * map[s2 * d + t];
                    }
                    double decoded = resid[b * d + t] + x[b * d + t];
                    assertEquals(decoded, v, 1e-4, "row " + b + " coordinate " + t);
                }
            }
        }
        PowerDiagram.Census census = PowerDiagram.of(model).census(model, x, rows);
        assertEquals(rows, census.agreeing(), "geometric and TopK supports agree everywhere");
        assertTrue(census.supports() > 1 && census.activeSets() >= census.supports() - (sp == Sparsifier.TOPK ? rows : 0));
        if (sp == Sparsifier.TOPK_ABS) {
            assertEquals(census.supports(), census.activeSets(), "topk-abs: the active set is the support");
        }
    }

    @org.junit.jupiter.api.Test
    void rasterLabelsEveryPixelByItsPowerCell() {
        SaeSpec spec = new SaeSpec(2, 5, Sparsifier.TOPK, 2, 0, false);
        SaeModel model = ReferenceSae.randomModel(spec, 5);
        PowerDiagram pd = PowerDiagram.of(model);
        java.util.List<int[]> cells = new java.util.ArrayList<>();
        int[] ids = pd.raster(-2, 2, -1, 1, 40, 20, cells);
        assertEquals(800, ids.length);
        // pixel (row 0, column 0) sits at (-2 + 0.05, 1 - 0.05)
        assertArrayEquals(pd.support(new float[] {-1.95f, 0.95f}, 0), cells.get(ids[0]));
        assertArrayEquals(pd.support(new float[] {1.95f, -0.95f}, 0), cells.get(ids[799]));
        assertThrows(IllegalArgumentException.class, () -> PowerDiagram.of(ReferenceSae.randomModel(
                new SaeSpec(3, 5, Sparsifier.TOPK, 2, 0, false), 1)).raster(0, 1, 0, 1, 2, 2, new java.util.ArrayList<>()));
    }
}
