package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SparsifyTest {

    @ParameterizedTest
    @EnumSource(Sparsifier.class)
    void selectionMatchesSortingIncludingTies(Sparsifier sp) {
        int m = 57;
        int rows = 200;
        SaeSpec spec = new SaeSpec(4, m, sp, 6, 0, false);
        SplittableRandom rnd = new SplittableRandom(3);
        float[] pre = new float[rows * m];
        for (int i = 0; i < pre.length; i++) {
            // coarse values so that ties are frequent
            pre[i] = (rnd.nextInt(21) - 10) / 4f;
        }
        SparseCodes codes = new SparseCodes();
        Sparsify.apply(spec, pre, rows, codes);
        for (int b = 0; b < rows; b++) {
            double[] a = new double[m];
            for (int j = 0; j < m; j++) {
                a[j] = pre[b * m + j];
            }
            int[] expected = ReferenceSae.support(spec, a, m);
            assertArrayEquals(expected, codes.support(b), "row " + b);
            float[] z = codes.denseRow(b);
            for (int j : expected) {
                float v = pre[b * m + j];
                float want = sp == Sparsifier.TOPK ? Math.max(v, 0f) : v;
                assertEquals(want, z[j], 0f);
            }
        }
    }

    @Test
    void rejectsInvalidSpecs() {
        assertThrows(IllegalArgumentException.class, () -> new SaeSpec(0, 4, Sparsifier.TOPK, 1, 0, false));
        assertThrows(IllegalArgumentException.class, () -> new SaeSpec(4, 4, Sparsifier.TOPK, 5, 0, false));
        assertThrows(IllegalArgumentException.class, () -> new SaeSpec(4, 4, Sparsifier.TOPK_ABS, 0, 0, false));
        assertThrows(IllegalArgumentException.class, () -> new SaeSpec(4, 4, Sparsifier.RELU, 0, -1, false));
        assertThrows(IllegalArgumentException.class, () -> new SaeSpec(4, 4, Sparsifier.RELU, 0, Double.NaN, false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sparsifier.fromId("top-k"));
        assertEquals(true, e.getMessage().contains("topk-abs"));
        assertEquals(Sparsifier.TOPK_ABS, Sparsifier.fromId("TopK-Abs"));
    }
}
