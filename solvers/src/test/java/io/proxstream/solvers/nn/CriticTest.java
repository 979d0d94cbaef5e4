package io.proxstream.solvers.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.inverse.Angles;
import io.proxstream.solvers.inverse.RayTransform;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The regulariser families, their composition layers and data-parallel training. */
class CriticTest {
    private static final int N = 12;
    private static final RayTransform A = RayTransform.of(N, Angles.sparseView(8));
    private static final double NORM = A.normEstimate(40, 13);

    @Test
    void compositionLayersHaveFiniteDifferenceGradients() {
        Shape s = new Shape(1, 5, 5);
        LayerGradientTest.check(new SquaredNorm(s, 0.3), 1, 0);
        Shape data = new Shape(1, A.rangeShape()[0], A.rangeShape()[1]);
        Conv2d c = new Conv2d(data, 2, 3, 1, 1, 3);
        LayerGradientTest.check(new Sequential(List.of(new OperatorLayer(A, 1 / NORM, new Shape(1, N, N), data), c,
                Activation.silu(c.outputShape()), new SpatialMean(c.outputShape()), new Dense(new Shape(2, 1, 1), 1, 4))), 2, 0);
        Conv2d d = new Conv2d(s, 2, 3, 1, 1, 5);
        Layer smooth = new Sequential(List.of(d, Activation.silu(d.outputShape()), new SpatialMean(d.outputShape()),
                new Dense(new Shape(2, 1, 1), 1, 6)));
        LayerGradientTest.check(new WeightedSum(List.of(smooth, new SquaredNorm(s, 0.1)), new double[] {0.5, 2}), 3, 0);
        assertThrows(IllegalArgumentException.class, () -> new WeightedSum(List.of(d), new double[] {1}), "non-scalar part");
        assertThrows(IllegalArgumentException.class, () -> new OperatorLayer(A, 1, s, s), "shapes that do not fit the operator");
    }

    @Test
    void everyKindMapsAnImageToOneNumberAndItsGradientMatchesFiniteDifferences() {
        Critic.Architecture arch = new Critic.Architecture(2, 3, 3, new int[] {2}, 1e-3);
        for (Critic.Kind k : Critic.Kind.values()) {
            // slope 1: kink-free networks, so that central differences measure the wiring of the backward pass
            Critic c = new Critic(k, arch, N, A, NORM, 11, 1.0);
            assertEquals(new Shape(1, N, N), c.net().inputShape(), k.id());
            assertEquals(1, c.net().outputShape().size(), k.id());
            assertEquals(k == Critic.Kind.ACNCR ? 2 : 1, c.parts().size(), k.id());
            directionalCheck(c.net(), 21 + k.ordinal(), k.id());
        }
        assertThrows(IllegalArgumentException.class, () -> new Critic(Critic.Kind.ACNCR, arch, N, null, 1, 1), "acncr without operator");
        assertThrows(IllegalArgumentException.class, () -> Critic.Kind.fromId("gan"));
    }

    /**
     * Directional derivatives along random directions of the input and of all parameters against
     * central differences: per-coordinate differences of a float32 spatial mean drown in rounding,
     * while a whole direction moves R enough to measure; the few LeakyReLU kinks a step crosses
     * perturb a directional derivative only slightly.
     */
    private static void directionalCheck(Layer l, long seed, String what) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[l.inputShape().size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble();
        }
        for (int trial = 0; trial < 3; trial++) {
            for (Param p : l.params()) {
                p.zeroGrad();
            }
            l.forward(x);
            float[] g = l.backward(new float[] {1f});
            float[] v = new float[x.length];
            double analytic = 0;
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextDouble(-1, 1);
                analytic += (double) g[i] * v[i];
            }
            List<float[]> dirs = new ArrayList<>();
            for (Param p : l.params()) {
                float[] d = new float[p.value().length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = (float) r.nextDouble(-1, 1);
                    analytic += (double) p.grad()[i] * d[i];
                }
                dirs.add(d);
            }
            double h = 1e-3;
            double up = shifted(l, x, v, dirs, h);
            double down = shifted(l, x, v, dirs, -h);
            double numeric = (up - down) / (2 * h);
            assertEquals(analytic, numeric, 1e-3 * Math.abs(analytic) + 1e-4, what + " directional derivative, trial " + trial);
        }
    }

    private static double shifted(Layer l, float[] x, float[] v, List<float[]> dirs, double h) {
        List<Param> ps = l.params();
        List<float[]> keep = new ArrayList<>();
        for (int k = 0; k < ps.size(); k++) {
            float[] w = ps.get(k).value();
            keep.add(w.clone());
            for (int i = 0; i < w.length; i++) {
                w[i] += (float) (h * dirs.get(k)[i]);
            }
        }
        float[] y = new float[x.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) (x[i] + h * v[i]);
        }
        double out = l.forward(y)[0];
        for (int k = 0; k < ps.size(); k++) {
            System.arraycopy(keep.get(k), 0, ps.get(k).value(), 0, keep.get(k).length);
        }
        return out;
    }

    @Test
    void convexKindsAreConvexAlongLinesAndTheCheckSeesConcavity() {
        Critic.Architecture arch = new Critic.Architecture(3, 4, 3, new int[] {4}, 1e-3);
        List<float[]> centres = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 3; i++) {
            float[] x = new float[N * N];
            for (int j = 0; j < x.length; j++) {
                x[j] = (float) r.nextDouble();
            }
            centres.add(x);
        }
        Critic acr = new Critic(Critic.Kind.ACR, arch, N, A, NORM, 5);
        // perturb the ICNN away from its initialisation, then project: still convex
        for (Param p : acr.params()) {
            for (int i = 0; i < p.value().length; i++) {
                p.value()[i] += (float) r.nextDouble(-0.5, 0.5);
            }
        }
        acr.project();
        Convexity.Report rep = Convexity.alongLines(x -> acr.net().forward(x)[0], centres, 30, 1.0, 11, 1e-5, 7);
        assertEquals(30, rep.convexLines(), "ACR is convex on every line; worst " + rep.worstSecondDifference());
        Convexity.Report concave = Convexity.alongLines(x -> -acr.net().forward(x)[0], centres, 30, 1.0, 11, 1e-5, 7);
        assertTrue(concave.convexLines() < 30, "the negated ICNN is concave on some line");
        Convexity.Report quad = Convexity.alongLines(x -> {
            double s = 0;
            for (float v : x) {
                s -= v * v;
            }
            return s;
        }, centres, 5, 1.0, 5, 1e-9, 1);
        assertEquals(0, quad.convexLines(), "-|x|^2 is concave on every line");
    }

    @Test
    void twoReplicasTakeTheSameStepAsOne() {
        Critic.Architecture arch = new Critic.Architecture(2, 3, 3, new int[] {2}, 1e-3);
        List<float[]> t = new ArrayList<>();
        List<float[]> f = new ArrayList<>();
        List<float[]> d = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(9);
        for (int i = 0; i < 4; i++) {
            float[] x = new float[N * N];
            float[] y = new float[N * N];
            for (int j = 0; j < x.length; j++) {
                x[j] = (float) r.nextDouble();
                y[j] = (float) (x[j] + 0.3 * r.nextDouble(-1, 1));
            }
            t.add(x);
            f.add(y);
            d.add(A.apply(y));
        }
        for (Critic.Kind k : Critic.Kind.values()) {
            Critic one = new Critic(k, arch, N, A, NORM, 4);
            Critic two = new Critic(k, arch, N, A, NORM, 4);
            // the interpolation weights are drawn per replica: compare with mu = 0 (no interpolates), where the step is deterministic
            try (CriticTrainer a = new CriticTrainer(one, Optimizer.adam(1e-2, 0.5, 0.99), 0, 1e-3, 1, 1);
                 CriticTrainer b = new CriticTrainer(two, Optimizer.adam(1e-2, 0.5, 0.99), 0, 1e-3, 2, 1)) {
                for (int s = 0; s < 3; s++) {
                    Critic.StepResult ra = a.step(t, f, d);
                    Critic.StepResult rb = b.step(t, f, d);
                    assertEquals(ra.loss(), rb.loss(), 1e-5 * (1 + Math.abs(ra.loss())), k.id() + " step " + s);
                }
            }
            List<Param> pa = one.params();
            List<Param> pb = two.params();
            for (int i = 0; i < pa.size(); i++) {
                for (int j = 0; j < pa.get(i).value().length; j++) {
                    assertEquals(pa.get(i).value()[j], pb.get(i).value()[j], 1e-4, k.id() + " " + pa.get(i).name());
                }
            }
        }
    }

    /** The held-out estimate is the training loss's Wasserstein term: equal on the same batch, for every kind. */
    @Test
    void theWassersteinEstimateWithoutAStepEqualsTheOneTheLossReports() {
        Critic.Architecture arch = new Critic.Architecture(2, 4, 3, new int[] {4}, 1e-3);
        SplittableRandom r = new SplittableRandom(4);
        List<float[]> t = new ArrayList<>();
        List<float[]> f = new ArrayList<>();
        List<float[]> d = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            float[] x = new float[N * N];
            for (int j = 0; j < x.length; j++) {
                x[j] = (float) r.nextDouble();
            }
            float[] y = A.apply(x);
            for (int j = 0; j < y.length; j++) {
                y[j] += (float) (0.3 * r.nextGaussian());
            }
            float[] g = x.clone();
            for (int j = 0; j < g.length; j++) {
                g[j] += (float) (0.2 * r.nextGaussian());
            }
            t.add(x);
            f.add(g);
            d.add(y);
        }
        for (Critic.Kind k : Critic.Kind.values()) {
            Critic c = new Critic(k, arch, N, A, NORM, 6);
            double w = c.wasserstein(t, f, d);
            double fromLoss = c.accumulate(t, f, d, 1, 1e-3, new SplittableRandom(1)).wasserstein();
            assertEquals(fromLoss, w, 1e-6 * (1 + Math.abs(w)), k.id());
        }
    }

    @Test
    void trainingRaisesTheWassersteinEstimateOfEveryKind() {
        Critic.Architecture arch = new Critic.Architecture(2, 4, 3, new int[] {4}, 1e-3);
        List<float[]> t = new ArrayList<>();
        List<float[]> f = new ArrayList<>();
        List<float[]> d = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(2);
        for (int i = 0; i < 8; i++) {
            float[] x = new float[N * N];
            float[] y = new float[N * N];
            for (int j = 0; j < x.length; j++) {
                x[j] = (float) ((j / N + i) % 4 < 2 ? 1 : 0);
                y[j] = (float) (x[j] + 0.4 * r.nextDouble(-1, 1));
            }
            t.add(x);
            f.add(y);
            float[] yy = A.apply(x);
            for (int j = 0; j < yy.length; j++) {
                yy[j] += (float) (2 * r.nextDouble(-1, 1));
            }
            d.add(yy);
        }
        for (Critic.Kind k : Critic.Kind.values()) {
            Critic c = new Critic(k, arch, N, A, NORM, 8);
            try (CriticTrainer tr = new CriticTrainer(c, Optimizer.adam(3e-3, 0.5, 0.99), k.defaultMu(), 1e-3, 2, 3)) {
                double first = tr.step(t, f, d).wasserstein();
                double last = first;
                for (int s = 0; s < 60; s++) {
                    last = tr.step(t, f, d).wasserstein();
                }
                assertTrue(last > first + 0.05, k.id() + ": Wasserstein estimate " + first + " -> " + last);
            }
            for (Icnn i : c.convexParts()) {
                for (Conv2d z : i.hiddenToHidden()) {
                    for (float w : z.weight().value()) {
                        assertTrue(w >= 0, k.id() + ": hidden-to-hidden weights stay non-negative");
                    }
                }
            }
        }
    }
}
