package io.proxstream.solvers.inverse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FunctionalsTest {
    private static final float[] B = OperatorTestSupport.random(40, 99);

    private static List<Functional> all() {
        return List.of(Functionals.squaredDistance(B, 1.7), Functionals.l1(0.6), Functionals.l21(0.8, 2),
                Functionals.nonNegativity(), Functionals.box(-0.3, 0.4), Functionals.huber(0.2, 1.3),
                Functionals.groupHuber(0.3, 0.9, 2), Functionals.zero());
    }

    /**
     * u = prox_{τF}(v) minimises F(u) + ‖u − v‖²/(2τ): no random perturbation of u does better,
     * which for convex F is the optimality condition (v − u)/τ ∈ ∂F(u).
     */
    @Test
    void everyProxMinimisesItsObjective() {
        SplittableRandom r = new SplittableRandom(3);
        for (Functional f : all()) {
            for (double tau : new double[] {0.05, 0.7, 3}) {
                float[] v = OperatorTestSupport.random(40, r.nextLong());
                for (int i = 0; i < v.length; i++) {
                    v[i] *= 1.5f;
                }
                float[] u = new float[40];
                f.proximal(tau, v, u);
                double best = f.value(u) + sq(u, v) / (2 * tau);
                for (int t = 0; t < 300; t++) {
                    float[] w = u.clone();
                    double eps = t < 150 ? 1e-3 : 1e-1;
                    for (int i = 0; i < w.length; i++) {
                        w[i] += (float) (eps * (r.nextDouble() - 0.5));
                    }
                    double val = f.value(w) + sq(w, v) / (2 * tau);
                    assertTrue(val >= best - 1e-6 * (1 + Math.abs(best)), f + " tau " + tau + ": perturbation improves "
                            + best + " to " + val);
                }
            }
        }
    }

    /** Moreau: v = prox_{τF}(v) + τ prox_{σF*}(v/τ) with σ = 1/τ; checked against closed-form conjugate proxes. */
    @Test
    void conjugateProxesObeyMoreauAndMatchTheirClosedForms() {
        float[] v = OperatorTestSupport.random(40, 5);
        for (int i = 0; i < v.length; i++) {
            v[i] *= 2;
        }
        double sigma = 0.6;
        // L1 with weight w: conjugate = indicator of |y| <= w, prox = clamp
        float[] c = new float[40];
        Functionals.l1(0.5).conjugateProximal(sigma, v, c);
        for (int i = 0; i < 40; i++) {
            assertEquals(Math.max(-0.5, Math.min(0.5, v[i])), c[i], 1e-6);
        }
        // L2,1: conjugate = indicator of the dual ball: projection groupwise
        Functionals.l21(0.5, 2).conjugateProximal(sigma, v, c);
        for (int p = 0; p < 20; p++) {
            double g = Math.hypot(v[p], v[20 + p]);
            double f = g > 0.5 ? 0.5 / g : 1;
            assertEquals(f * v[p], c[p], 1e-6);
        }
        // (w/2)|x-b|^2: conjugate (1/2w)|y|^2 + <y,b>: prox = (v - sigma b)/(1 + sigma/w)
        Functionals.squaredDistance(B, 2.0).conjugateProximal(sigma, v, c);
        for (int i = 0; i < 40; i++) {
            assertEquals((v[i] - sigma * B[i]) / (1 + sigma / 2.0), c[i], 1e-5);
        }
        // non-negativity: conjugate = indicator of y <= 0: prox = min(0, v)
        Functionals.nonNegativity().conjugateProximal(sigma, v, c);
        for (int i = 0; i < 40; i++) {
            assertEquals(Math.min(0, v[i]), c[i], 1e-6);
        }
        // Moreau identity holds numerically for every functional through the generic path
        for (Functional f : all()) {
            float[] p = new float[40];
            float[] q = new float[40];
            double tau = 0.8;
            f.proximal(tau, v, p);
            float[] vt = v.clone();
            for (int i = 0; i < 40; i++) {
                vt[i] /= (float) tau;
            }
            f.conjugateProximal(1 / tau, vt, q);
            for (int i = 0; i < 40; i++) {
                assertEquals(v[i], p[i] + tau * q[i], 1e-4, f.toString());
            }
        }
    }

    @Test
    void smoothGradientsMatchFiniteDifferences() {
        for (Functional f : new Functional[] {Functionals.squaredDistance(B, 1.3), Functionals.huber(0.25, 0.7),
            Functionals.groupHuber(0.3, 1.1, 2)}) {
            float[] x = OperatorTestSupport.random(40, 8);
            float[] g = new float[40];
            f.gradient(x, g);
            for (int i = 0; i < 40; i++) {
                float[] p = x.clone();
                float[] m = x.clone();
                p[i] += 1e-3f;
                m[i] -= 1e-3f;
                double fd = (f.value(p) - f.value(m)) / 2e-3;
                assertEquals(fd, g[i], 2e-3, "component " + i);
            }
        }
        // composed with an operator: gradient K'grad F(Kx)
        Blur k = Blur.gaussian(6, 7, 1);
        Functional c = Functionals.composed(Functionals.squaredDistance(OperatorTestSupport.random(42, 1), 1), k);
        float[] x = OperatorTestSupport.random(42, 2);
        float[] g = new float[42];
        c.gradient(x, g);
        float[] p = x.clone();
        p[17] += 1e-3f;
        float[] m = x.clone();
        m[17] -= 1e-3f;
        assertEquals((c.value(p) - c.value(m)) / 2e-3, g[17], 1e-3);
    }

    @Test
    void rejectsBadParameters() {
        assertThrows(IllegalArgumentException.class, () -> Functionals.l1(-1));
        assertThrows(IllegalArgumentException.class, () -> Functionals.box(1, 0));
        assertThrows(IllegalArgumentException.class, () -> Functionals.huber(0, 1));
        assertThrows(IllegalArgumentException.class, () -> Functionals.l21(1, 3).value(new float[10]));
        assertThrows(IllegalArgumentException.class, () -> Functionals.squaredDistance(B, 1).value(new float[3]));
        assertArrayEquals(new float[] {0, 0.4f, -0.3f}, clamp(new float[] {0, 5, -5}), 0f);
    }

    private static float[] clamp(float[] v) {
        float[] out = new float[v.length];
        Functionals.box(-0.3, 0.4).proximal(1, v, out);
        return out;
    }

    private static double sq(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            s += d * d;
        }
        return s;
    }
}
