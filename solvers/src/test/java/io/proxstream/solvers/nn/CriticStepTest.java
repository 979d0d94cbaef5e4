package io.proxstream.solvers.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CriticStepTest {

    /** A small smooth critic (SiLU, so finite differences see no kinks). */
    private static Sequential critic(long seed) {
        Shape s = new Shape(1, 6, 6);
        Conv2d c1 = new Conv2d(s, 3, 3, 1, 1, seed);
        Conv2d c2 = new Conv2d(c1.outputShape(), 2, 3, 2, 1, seed + 1);
        return new Sequential(List.of(c1, Activation.silu(c1.outputShape()), c2, Activation.silu(c2.outputShape()),
                new SpatialMean(c2.outputShape()), new Dense(new Shape(2, 1, 1), 1, seed + 2)));
    }

    private static List<float[]> batch(int b, double shift, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            float[] x = new float[36];
            for (int j = 0; j < 36; j++) {
                x[j] = (float) (shift + r.nextDouble(-1, 1));
            }
            out.add(x);
        }
        return out;
    }

    /** μ · mean pen(‖∇ₓR(x_ε)‖) with exact input gradients, at the interpolates a fresh seeded generator gives. */
    private static double penaltyTerm(Sequential net, List<float[]> t, List<float[]> f, double mu, CriticStep.Penalty p, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double pen = 0;
        for (int i = 0; i < t.size(); i++) {
            double e = r.nextDouble();
            float[] x = new float[36];
            for (int j = 0; j < 36; j++) {
                x[j] = (float) (e * t.get(i)[j] + (1 - e) * f.get(i)[j]);
            }
            float[] u = CriticStep.inputGradient(net, net.params(), x);
            double s = 0;
            for (float v : u) {
                s += (double) v * v;
            }
            double ex = p == CriticStep.Penalty.ONE_SIDED ? Math.max(0, Math.sqrt(s) - 1) : Math.sqrt(s) - 1;
            pen += ex * ex / t.size();
        }
        return mu * pen;
    }

    @Test
    void thePenaltysParameterGradientByTheDirectionalIdentityMatchesFiniteDifferences() {
        Sequential net = critic(3);
        // scale the last layer so that ‖∇R‖ > 1 and the one-sided penalty is active
        for (Param p : net.params()) {
            if (p.name().equals("dense.weight")) {
                for (int i = 0; i < p.value().length; i++) {
                    p.value()[i] *= 40;
                }
            }
        }
        List<float[]> t = batch(3, 0.5, 4);
        List<float[]> f = batch(3, -0.5, 5);
        for (CriticStep.Penalty kind : CriticStep.Penalty.values()) {
            double mu = 10;
            // gradient of the penalty alone: the full accumulate minus the Wasserstein part (mu = 0)
            for (Param p : net.params()) {
                p.zeroGrad();
            }
            CriticStep.accumulate(net, t, f, mu, kind, 1e-3, new SplittableRandom(9));
            List<float[]> full = new ArrayList<>();
            for (Param p : net.params()) {
                full.add(p.grad().clone());
                p.zeroGrad();
            }
            CriticStep.accumulate(net, t, f, 0, kind, 1e-3, new SplittableRandom(9));
            double num2 = 0;
            double den2 = 0;
            int checked = 0;
            List<Param> params = net.params();
            for (int q = 0; q < params.size(); q++) {
                Param p = params.get(q);
                for (int i = 0; i < p.value().length; i += 3) {
                    double ana = full.get(q)[i] - p.grad()[i];
                    float keep = p.value()[i];
                    double h = 1e-2;
                    p.value()[i] = (float) (keep + h);
                    double up = penaltyTerm(net, t, f, mu, kind, 9);
                    p.value()[i] = (float) (keep - h);
                    double down = penaltyTerm(net, t, f, mu, kind, 9);
                    p.value()[i] = keep;
                    double fd = (up - down) / (2 * h);
                    num2 += (ana - fd) * (ana - fd);
                    den2 += fd * fd;
                    checked++;
                }
                p.zeroGrad();
            }
            double rel = Math.sqrt(num2 / den2);
            assertTrue(den2 > 0 && rel < 1e-2, kind + ": penalty gradient relative error " + rel + " over " + checked + " weights");
        }
    }

    @Test
    void oneAdversarialStepLowersTheCriticLossOnAFixedBatch() {
        Sequential net = critic(7);
        List<float[]> t = batch(4, 0.3, 8);
        List<float[]> f = batch(4, -0.3, 9);
        Optimizer opt = Optimizer.rmsprop(1e-3, 0.9);
        CriticStep.Result before = CriticStep.accumulate(net, t, f, 10, CriticStep.Penalty.ONE_SIDED, 1e-3, new SplittableRandom(1));
        opt.step(net.params());
        CriticStep.Result after = CriticStep.accumulate(net, t, f, 10, CriticStep.Penalty.ONE_SIDED, 1e-3, new SplittableRandom(1));
        assertTrue(after.loss() < before.loss(), "critic loss " + before.loss() + " -> " + after.loss());
        assertTrue(after.wasserstein() > before.wasserstein(), "the critic separates the batches more");
    }
}
