package io.proxstream.solvers.nn;

import io.proxstream.solvers.inverse.Functional;
import io.proxstream.solvers.inverse.LinearOperator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A trained network R as the smooth functional {@code λ R(x)} of the inverse-problem solvers
 * (gradient descent, the primal-dual method with a smooth weakly convex part): value by a forward
 * pass, gradient by backpropagation to the input (parameter gradients left untouched). Calls are
 * serialised (the layers cache their inputs). It has no proximal map.
 */
public final class LearnedRegulariser implements Functional {
    private final Layer net;
    private final double lambda;
    private final double lipschitz;

    /**
     * @param lipschitz a Lipschitz constant of ∇(λR) for step-size rules (see {@link #estimateLipschitz})
     */
    public LearnedRegulariser(Layer net, double lambda, double lipschitz) {
        if (net.outputShape().size() != 1) {
            throw new IllegalArgumentException("a regulariser must output one number, this network gives " + net.outputShape());
        }
        if (!(lambda >= 0) || !(lipschitz > 0)) {
            throw new IllegalArgumentException("need lambda >= 0 and a positive Lipschitz constant");
        }
        this.net = net;
        this.lambda = lambda;
        this.lipschitz = lipschitz;
    }

    @Override
    public synchronized double value(float[] x) {
        return lambda * net.forward(x)[0];
    }

    @Override
    public boolean isSmooth() {
        return true;
    }

    @Override
    public synchronized void gradient(float[] x, float[] out) {
        float[] g = CriticStep.inputGradient(net, net.params(), x);
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (lambda * g[i]);
        }
    }

    @Override
    public double lipschitz() {
        return lipschitz;
    }

    @Override
    public void proximal(double tau, float[] v, float[] out) {
        throw new UnsupportedOperationException("a learned regulariser has no proximal map; use it as the smooth part");
    }

    /**
     * The largest {@code ‖∇R(x + h d) − ∇R(x)‖ / (h ‖d‖)} over random points near {@code x0} and random
     * directions: a lower estimate of the Lipschitz constant of ∇R (times λ), for choosing steps.
     */
    public static double estimateLipschitz(Layer net, double lambda, float[] x0, int samples, double h, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = x0.length;
        double best = 0;
        for (int s = 0; s < samples; s++) {
            float[] x = new float[n];
            float[] y = new float[n];
            double dn = 0;
            for (int i = 0; i < n; i++) {
                double d = r.nextDouble(-1, 1);
                x[i] = (float) (x0[i] + 0.1 * r.nextDouble(-1, 1));
                y[i] = (float) (x[i] + h * d);
                dn += d * d;
            }
            float[] gx = CriticStep.inputGradient(net, net.params(), x);
            float[] gy = CriticStep.inputGradient(net, net.params(), y);
            double diff = 0;
            for (int i = 0; i < n; i++) {
                diff += (double) (gy[i] - gx[i]) * (gy[i] - gx[i]);
            }
            best = Math.max(best, Math.sqrt(diff) / (h * Math.sqrt(dn)));
        }
        return lambda * best;
    }

    /**
     * The λ heuristic of the adversarial-regulariser papers: the mean over a validation batch of
     * {@code ‖Aᵀ(A x_true − y)‖}, the size of the data term's gradient at the truth.
     */
    public static double lambdaHeuristic(LinearOperator a, List<float[]> truths, List<float[]> data) {
        if (truths.isEmpty() || truths.size() != data.size()) {
            throw new IllegalArgumentException("need equal, non-empty lists of truths and data");
        }
        double sum = 0;
        for (int i = 0; i < truths.size(); i++) {
            float[] res = a.apply(truths.get(i));
            float[] y = data.get(i);
            for (int j = 0; j < res.length; j++) {
                res[j] -= y[j];
            }
            float[] g = a.adjoint(res);
            double s = 0;
            for (float v : g) {
                s += (double) v * v;
            }
            sum += Math.sqrt(s);
        }
        return sum / truths.size();
    }
}
