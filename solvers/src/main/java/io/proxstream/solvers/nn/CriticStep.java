package io.proxstream.solvers.nn;

import java.util.List;
import java.util.SplittableRandom;

/**
 * One adversarial-regulariser critic step (Lunz, Öktem, Schönlieb 2018; spec/inverse.md): on a batch
 * of ground truths x_t and reconstructions x_f, the Wasserstein loss with gradient penalty
 * <pre>
 *   L(θ) = mean R(x_t) − mean R(x_f) + μ · mean pen(‖∇ₓR(x_ε)‖),   x_ε = ε x_t + (1 − ε) x_f, ε ~ U(0, 1)
 * </pre>
 * pen(s) = max(0, s − 1)² (one-sided) or (s − 1)² (two-sided). The penalty's parameter gradient is
 * second order; with u = ∇ₓR(x_ε) held fixed, ∇_θ s = (1/s) ∇_θ [∂R(x_ε)/∂x · u], and the directional
 * derivative is the central difference (R(x_ε + h u) − R(x_ε − h u)) / 2h, so only first-order
 * backpropagation is needed (the identity of the spec). Accumulates ∇_θ L into the parameters.
 */
public final class CriticStep {
    private CriticStep() {
    }

    /** Which penalty. */
    public enum Penalty {
        ONE_SIDED, TWO_SIDED
    }

    /**
     * @param loss        L at the current θ (with the penalty evaluated at the exact input gradients)
     * @param wasserstein mean R(x_f) − mean R(x_t), the Wasserstein estimate the critic maximises
     * @param penalty     mean pen(‖∇ₓR(x_ε)‖) (without μ)
     */
    public record Result(double loss, double wasserstein, double penalty) {
    }

    /** Adds ∇_θ L to the critic's parameter gradients and returns L's parts. */
    public static Result accumulate(Layer critic, List<float[]> truths, List<float[]> fakes, double mu, Penalty penalty, double h,
                                    SplittableRandom rnd) {
        int b = truths.size();
        if (b == 0 || fakes.size() != b) {
            throw new IllegalArgumentException("need equal, non-empty batches of truths and reconstructions, got " + b + " and "
                    + fakes.size());
        }
        double meanTrue = 0;
        double meanFake = 0;
        for (int i = 0; i < b; i++) {
            meanTrue += critic.forward(truths.get(i))[0] / b;
            critic.backward(new float[] {(float) (1.0 / b)});
            meanFake += critic.forward(fakes.get(i))[0] / b;
            critic.backward(new float[] {(float) (-1.0 / b)});
        }
        double pen = 0;
        List<Param> params = critic.params();
        for (int i = 0; i < b; i++) {
            float[] xt = truths.get(i);
            float[] xf = fakes.get(i);
            double e = rnd.nextDouble();
            float[] x = new float[xt.length];
            for (int j = 0; j < x.length; j++) {
                x[j] = (float) (e * xt[j] + (1 - e) * xf[j]);
            }
            float[] u = inputGradient(critic, params, x);
            double s = 0;
            for (float v : u) {
                s += (double) v * v;
            }
            s = Math.sqrt(s);
            double excess = penalty == Penalty.ONE_SIDED ? Math.max(0, s - 1) : s - 1;
            pen += excess * excess / b;
            if (excess == 0 || s == 0) {
                continue;
            }
            double coef = mu / b * 2 * excess / s;
            float[] plus = new float[x.length];
            float[] minus = new float[x.length];
            for (int j = 0; j < x.length; j++) {
                plus[j] = (float) (x[j] + h * u[j]);
                minus[j] = (float) (x[j] - h * u[j]);
            }
            critic.forward(plus);
            critic.backward(new float[] {(float) (coef / (2 * h))});
            critic.forward(minus);
            critic.backward(new float[] {(float) (-coef / (2 * h))});
        }
        return new Result(meanTrue - meanFake + mu * pen, meanFake - meanTrue, pen);
    }

    /** ∇ₓR(x), leaving the parameter gradients as they were. */
    public static float[] inputGradient(Layer critic, List<Param> params, float[] x) {
        float[][] saved = new float[params.size()][];
        for (int p = 0; p < saved.length; p++) {
            saved[p] = params.get(p).grad().clone();
        }
        critic.forward(x);
        float[] u = critic.backward(new float[] {1f});
        for (int p = 0; p < saved.length; p++) {
            System.arraycopy(saved[p], 0, params.get(p).grad(), 0, saved[p].length);
        }
        return u;
    }
}
