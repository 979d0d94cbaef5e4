package io.proxstream.solvers.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LayerGradientTest {

    private static float[] random(int n, SplittableRandom r, double awayFromZero) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double x = r.nextDouble(-1, 1);
            if (Math.abs(x) < awayFromZero) {
                x = Math.copySign(awayFromZero + Math.abs(x), x);
            }
            v[i] = (float) x;
        }
        return v;
    }

    private static double loss(Layer l, float[] x, float[] g) {
        float[] y = l.forward(x);
        double s = 0;
        for (int i = 0; i < y.length; i++) {
            s += (double) g[i] * y[i];
        }
        return s;
    }

    /** Relative error ‖a − b‖/max(‖b‖, tiny) between analytic and central-difference gradients. */
    private static double rel(double[] a, double[] b) {
        double d = 0;
        double n = 0;
        for (int i = 0; i < a.length; i++) {
            d += (a[i] - b[i]) * (a[i] - b[i]);
            n += b[i] * b[i];
        }
        return Math.sqrt(d / Math.max(n, 1e-30));
    }

    /** Checks ∂/∂x and ∂/∂θ of ⟨g, L(x)⟩ against central differences. */
    static void check(Layer l, long seed, double awayFromZero) {
        check(l, seed, awayFromZero, 1e-2, 2e-3);
    }

    /** As above with step h and tolerance tol on the relative error. */
    static void check(Layer l, long seed, double awayFromZero, double h, double tol) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = random(l.inputShape().size(), r, awayFromZero);
        float[] g = random(l.outputShape().size(), r, 0);
        for (Param p : l.params()) {
            p.zeroGrad();
        }
        l.forward(x);
        float[] dx = l.backward(g);
        double[] ana = new double[x.length];
        double[] num = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            float keep = x[i];
            x[i] = (float) (keep + h);
            double up = loss(l, x, g);
            x[i] = (float) (keep - h);
            double down = loss(l, x, g);
            x[i] = keep;
            ana[i] = dx[i];
            num[i] = (up - down) / (2 * h);
        }
        assertTrue(rel(ana, num) < tol, l.getClass().getSimpleName() + " input gradient, relative error " + rel(ana, num));
        for (Param p : l.params()) {
            float[] w = p.value();
            double[] pa = new double[w.length];
            double[] pn = new double[w.length];
            for (int i = 0; i < w.length; i++) {
                float keep = w[i];
                w[i] = (float) (keep + h);
                double up = loss(l, x, g);
                w[i] = (float) (keep - h);
                double down = loss(l, x, g);
                w[i] = keep;
                pa[i] = p.grad()[i];
                pn[i] = (up - down) / (2 * h);
            }
            assertTrue(rel(pa, pn) < tol, l.getClass().getSimpleName() + " " + p.name() + " gradient, relative error " + rel(pa, pn));
        }
    }

    @Test
    void convolutionGradientsMatchFiniteDifferences() {
        check(new Conv2d(new Shape(2, 7, 6), 3, 3, 1, 1, 1), 1, 0);
        check(new Conv2d(new Shape(3, 9, 8), 4, 5, 2, 2, 2), 2, 0);
        check(new Conv2d(new Shape(1, 5, 5), 2, 3, 1, 0, 3), 3, 0);
    }

    @Test
    void convolutionIsTheDirectSumAndItsInputGradientTheAdjoint() {
        // geometries where taps fall off every edge: strides 1-3, pads 0-2, kernels 1-5, odd and even sides
        int[][] cases = {{2, 6, 5, 3, 3, 2, 1}, {1, 7, 9, 2, 3, 1, 1}, {3, 8, 7, 2, 5, 2, 2}, {2, 5, 6, 3, 1, 1, 0},
                {1, 9, 8, 2, 5, 3, 1}, {2, 4, 4, 2, 3, 1, 0}, {1, 6, 7, 1, 5, 1, 2}};
        for (int[] q : cases) {
            int ic = q[0], h = q[1], w = q[2], oc = q[3], k = q[4], stride = q[5], pad = q[6];
            Conv2d conv = new Conv2d(new Shape(ic, h, w), oc, k, stride, pad, 4);
            SplittableRandom r = new SplittableRandom(5 + h * 31 + w);
            java.util.Arrays.fill(conv.bias().value(), 0.25f);
            Shape o = conv.outputShape();
            for (int call = 0; call < 2; call++) {   // the second call reuses the first one's buffer
                float[] x = random(ic * h * w, r, 0);
                float[] y = conv.forward(x);
                for (int c2 = 0; c2 < oc; c2++) {
                    for (int oy = 0; oy < o.h(); oy++) {
                        for (int ox = 0; ox < o.w(); ox++) {
                            double s = 0.25;
                            for (int c = 0; c < ic; c++) {
                                for (int ky = 0; ky < k; ky++) {
                                    for (int kx = 0; kx < k; kx++) {
                                        int iy = oy * stride - pad + ky;
                                        int ix = ox * stride - pad + kx;
                                        if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                                            s += conv.weight().value()[((c2 * ic + c) * k + ky) * k + kx] * x[(c * h + iy) * w + ix];
                                        }
                                    }
                                }
                            }
                            assertEquals(s, y[(c2 * o.h() + oy) * o.w() + ox], 1e-5, java.util.Arrays.toString(q) + " call " + call);
                        }
                    }
                }
                // the convolution without its bias is linear in x, and backward's ∂x is its adjoint: <conv(v) - b, g> = <v, ∂x(g)>
                float[] g = random(o.size(), r, 0);
                float[] dx = conv.backward(g);
                float[] v = random(ic * h * w, r, 0);
                float[] cv = conv.forward(v);
                double lhs = 0;
                for (int i = 0; i < cv.length; i++) {
                    lhs += (cv[i] - 0.25) * g[i];
                }
                double rhs = 0;
                for (int i = 0; i < v.length; i++) {
                    rhs += (double) v[i] * dx[i];
                }
                assertEquals(lhs, rhs, 1e-5 * (1 + Math.abs(lhs)), java.util.Arrays.toString(q) + " adjoint, call " + call);
            }
        }
    }

    @Test
    void denseActivationsMeanAndSequentialGradientsMatchFiniteDifferences() {
        Shape s = new Shape(2, 4, 3);
        check(new Dense(s, 5, 7), 4, 0);
        check(Activation.leakyRelu(s, 0.2), 5, 0.05);
        check(Activation.silu(s), 6, 0);
        check(Activation.softplus(s), 7, 0);
        check(new SpatialMean(s), 8, 0);
        Conv2d c1 = new Conv2d(s, 4, 3, 1, 1, 9);
        check(new Sequential(List.of(c1, Activation.silu(c1.outputShape()), new SpatialMean(c1.outputShape()),
                new Dense(new Shape(4, 1, 1), 1, 10))), 11, 0);
    }

    @Test
    void softplusIsStableAndSequentialChecksShapes() {
        assertEquals(1000, Activation.softplus(1000), 1e-9);
        assertEquals(Math.exp(-1000), Activation.softplus(-1000), 1e-300);
        assertEquals(Math.log(2), Activation.softplus(0), 1e-15);
        Conv2d c = new Conv2d(new Shape(1, 8, 8), 2, 3, 2, 1, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Sequential(List.of(c, new SpatialMean(new Shape(2, 8, 8)))));
        assertTrue(e.getMessage().contains("expects 2x8x8 but layer 0 gives 2x4x4"), e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> c.forward(new float[10])).getMessage()
                .contains("expects 1x8x8 = 64 values, got 10"));
    }

    @Test
    void adamAndRmspropMinimiseAQuadratic() {
        for (Optimizer opt : List.of(Optimizer.adam(0.05, 0.9, 0.999), Optimizer.rmsprop(0.01, 0.99))) {
            Param p = new Param("w", 3);
            float[] target = {1.5f, -2f, 0.25f};
            for (int it = 0; it < 2000; it++) {
                for (int i = 0; i < 3; i++) {
                    p.grad()[i] = 2 * (p.value()[i] - target[i]);
                }
                opt.step(List.of(p));
            }
            for (int i = 0; i < 3; i++) {
                assertEquals(target[i], p.value()[i], 0.02, "coordinate " + i);
                assertEquals(0, p.grad()[i], 0.0, "gradients cleared");
            }
        }
    }
}
