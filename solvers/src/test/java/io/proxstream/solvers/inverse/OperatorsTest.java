package io.proxstream.solvers.inverse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class OperatorsTest {

    @Test
    void everyOperatorPassesTheDotTest() {
        OperatorTestSupport.assertAdjoint(Blur.gaussian(40, 33, 1.7), 1e-4, 1);
        OperatorTestSupport.assertAdjoint(Blur.box(25, 31, 5), 1e-4, 2);
        OperatorTestSupport.assertAdjoint(Blur.motion(30, 30, 9, 30), 1e-4, 3);
        OperatorTestSupport.assertAdjoint(new Gradient(37, 29), 1e-4, 4);
        OperatorTestSupport.assertAdjoint(Operators.identity(7, 9), 1e-6, 5);
        RayTransform rt = RayTransform.of(24, Angles.full(20));
        Gradient g = new Gradient(24, 24);
        Blur b = Blur.gaussian(24, 24, 1.0);
        OperatorTestSupport.assertAdjoint(rt.compose(b), 1e-4, 6);
        OperatorTestSupport.assertAdjoint(b.plus(Operators.identity(24, 24).scaled(-0.5)), 1e-4, 7);
        OperatorTestSupport.assertAdjoint(g.transposed(), 1e-4, 8);
    }

    @Test
    void blursPreserveMassAwayFromTheBorderAndMoveAlongTheMotion() {
        int n = 41;
        float[] dot = new float[n * n];
        dot[20 * n + 20] = 1;
        for (Blur b : new Blur[] {Blur.gaussian(n, n, 2), Blur.box(n, n, 7), Blur.motion(n, n, 11, 0)}) {
            float[] out = b.apply(dot);
            double mass = 0;
            for (float v : out) {
                mass += v;
            }
            assertEquals(1.0, mass, 1e-5);
        }
        // horizontal motion spreads along the row only
        float[] m = Blur.motion(n, n, 11, 0).apply(dot);
        assertTrue(m[20 * n + 25] > 0.05 && Math.abs(m[25 * n + 20]) < 1e-6, "motion at 0 degrees is horizontal");
    }

    @Test
    void blursMatchTheDirectZeroPaddedConvolutionSum() {
        int h = 23;
        int w = 30;
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(9);
        float[] x = new float[h * w];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-1, 1);
        }
        // separable (gaussian, box) and general (motion) kernels, both against the textbook sum
        for (Blur b : new Blur[] {Blur.gaussian(h, w, 1.6), Blur.box(h, w, 5), Blur.motion(h, w, 7, 25)}) {
            float[] k = b.kernel();
            int size = (int) Math.round(Math.sqrt(k.length));
            int r = size / 2;
            float[] expected = new float[h * w];
            for (int i = 0; i < h; i++) {
                for (int j = 0; j < w; j++) {
                    double s = 0;
                    for (int u = 0; u < size; u++) {
                        for (int v = 0; v < size; v++) {
                            int ii = i - u + r;
                            int jj = j - v + r;
                            if (ii >= 0 && ii < h && jj >= 0 && jj < w) {
                                s += k[u * size + v] * x[ii * w + jj];
                            }
                        }
                    }
                    expected[i * w + j] = (float) s;
                }
            }
            assertArrayEquals(expected, b.apply(x), 1e-5f);
        }
    }

    @Test
    void gradientOfARampIsConstantAndItsAdjointIsMinusDivergence() {
        int h = 5;
        int w = 6;
        float[] ramp = new float[h * w];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                ramp[i * w + j] = 2 * j + 3 * i;
            }
        }
        float[] g = new Gradient(h, w).apply(ramp);
        assertEquals(2f, g[2 * w + 2]);
        assertEquals(0f, g[2 * w + (w - 1)], "Neumann: no difference across the last column");
        assertEquals(3f, g[h * w + 2 * w + 2]);
        assertEquals(0f, g[h * w + (h - 1) * w + 2]);
    }

    @Test
    void compositionsCheckShapes() {
        RayTransform rt = RayTransform.of(16, Angles.full(8));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rt.compose(Blur.gaussian(15, 15, 1)));
        assertTrue(e.getMessage().contains("cannot compose"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Blur.gaussian(16, 16, 1).plus(new Gradient(16, 16)));
        assertThrows(IllegalArgumentException.class, () -> Blur.gaussian(16, 16, 0));
        assertThrows(IllegalArgumentException.class, () -> Blur.box(16, 16, 4));
        float[] x = OperatorTestSupport.random(256, 1);
        assertArrayEquals(Blur.box(16, 16, 3).apply(x), Blur.box(16, 16, 3).scaled(2).scaled(0.5).apply(x), 1e-6f);
    }
}
