package io.proxstream.solvers.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class IcnnTest {

    /** Fraction of random lines u + t d (t on a grid in [−2, 2]) on which R has a negative second difference. */
    static double nonConvexLines(Icnn net, int lines, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = net.inputShape().size();
        int bad = 0;
        for (int line = 0; line < lines; line++) {
            float[] u = new float[n];
            float[] d = new float[n];
            for (int i = 0; i < n; i++) {
                u[i] = (float) r.nextDouble(-1, 1);
                d[i] = (float) r.nextDouble(-1, 1);
            }
            double[] f = new double[21];
            for (int s = 0; s < f.length; s++) {
                double t = -2 + 0.2 * s;
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (float) (u[i] + t * d[i]);
                }
                f[s] = net.value(x);
            }
            for (int s = 1; s < f.length - 1; s++) {
                if (f[s - 1] - 2 * f[s] + f[s + 1] < -1e-5 * (1 + Math.abs(f[s]))) {
                    bad++;
                    break;
                }
            }
        }
        return bad / (double) lines;
    }

    @Test
    void icnnGradientsMatchFiniteDifferences() {
        // a smaller step than for single layers: inner LeakyReLU kinks lie within 1e-2 of some inputs
        LayerGradientTest.check(new Icnn(new Shape(1, 6, 5), 3, 3, 3, 0.2, 1), 2, 0.05, 1e-3, 2e-3);
    }

    @Test
    void anIcnnIsConvexAlongRandomLinesAndStopsBeingSoWithNegativeHiddenWeights() {
        Icnn net = new Icnn(new Shape(1, 8, 8), 3, 4, 3, 0.2, 3);
        net.project();
        assertTrue(nonConvexLines(net, 40, 4) == 0, "an ICNN must be convex on every line");
        // the negative control: make the last hidden-to-hidden weights negative (flipping all of them would flip
        // curvature twice and could leave R convex); convexity must fail somewhere
        float[] w = net.hiddenToHidden().get(net.hiddenToHidden().size() - 1).weight().value();
        for (int i = 0; i < w.length; i++) {
            w[i] = -4 * w[i] - 0.3f;
        }
        assertTrue(nonConvexLines(net, 40, 4) > 0, "negative hidden weights should break convexity on some line");
        net.project();
        assertTrue(nonConvexLines(net, 40, 5) == 0, "project() restores convexity");
    }

    @Test
    void iwcnnGradientsMatchFiniteDifferencesIncludingTheQuadraticWeight() {
        // ICNN slope 1 removes the kinks that weight perturbations would cross (the kinked ICNN is checked above), so
        // this checks the composition with the smooth map and the quadratic term exactly
        Iwcnn net = new Iwcnn(new Shape(1, 6, 5), new int[] {3}, 2, 3, 3, 1.0, 5);
        net.quadraticParam().value()[0] = -1f;              // a visible quadratic term for the check
        LayerGradientTest.check(net, 6, 0.05, 1e-2, 4e-3);             // float central differences: ~2e-3 truncation here
    }

    @Test
    void aStridedSmoothMapShrinksTheIcnnsInputAndItsGradientsMatchFiniteDifferences() {
        // the public sparse-view IWCNN's structure in small: strided 5x5 convolutions, the ICNN on the coarse map
        Iwcnn net = new Iwcnn(new Shape(1, 9, 8), new int[] {3, 4}, new int[] {2, 2}, 2, 3, 3, 5, 1.0, 11);
        assertEquals(new Shape(4, 3, 2), net.icnn().inputShape(), "9x8 -> 5x4 -> 3x2 at stride 2, pad 2");
        net.quadraticParam().value()[0] = -1f;
        LayerGradientTest.check(net, 12, 0.05, 1e-2, 4e-3);
        Critic.Architecture pub = new Critic.Architecture(5, 16, 3, new int[] {16, 32, 32, 64, 64, 128}, 1e-4, new int[] {1, 2, 1, 2, 2, 2});
        Critic c = new Critic(Critic.Kind.AWCR, pub, 128, null, 1, 3);
        assertEquals(new Shape(128, 8, 8), c.weaklyConvexPart().icnn().inputShape(), "128² halved four times, 128 channels");
        assertTrue(c.architecture().toString().contains("strides [1, 2, 1, 2, 2, 2]"), c.architecture().toString());
        assertFalse(Critic.Architecture.defaults().toString().contains("strides"), "stride-1 descriptions stay as they were");
        assertThrows(IllegalArgumentException.class, () -> new Critic.Architecture(3, 8, 3, new int[] {8, 8}, 1e-4, new int[] {1}));
        assertThrows(IllegalArgumentException.class, () -> new Critic.Architecture(3, 8, 3, new int[] {8}, 1e-4, new int[] {0}));
    }

    @Test
    void iwcnnWeakConvexityIsBoundedAndTheQuadraticTermCanCancelIt() {
        Iwcnn net = new Iwcnn(new Shape(1, 8, 8), new int[] {4}, 2, 4, 3, 7);
        net.project();
        double rho = net.weakConvexityEstimate(30, 1e-2, 8);
        assertTrue(Double.isFinite(rho) && rho >= 0 && rho < 10, "rho estimate " + rho);
        // softplus(p)‖x‖² adds 2 softplus(p) of curvature per unit ‖d‖²: with it above rho/2 R is convex on the lines
        net.quadraticParam().value()[0] = (float) Math.log(Math.expm1(rho + 0.05));
        assertTrue(net.weakConvexityEstimate(30, 1e-2, 8) < 1e-3, "R + a quadratic of weight > rho/2 is convex on the same lines");
    }
}
