package io.proxstream.solvers.nn;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam (Kingma and Ba) and RMSprop (Tieleman and Hinton) on parameter lists: each step reads the
 * accumulated gradients, updates the values and clears the gradients.
 */
public final class Optimizer {
    /** Which rule. */
    public enum Kind {
        ADAM, RMSPROP
    }

    private final Kind kind;
    private final double lr;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final Map<Param, float[][]> state = new HashMap<>();
    private long t;

    private Optimizer(Kind kind, double lr, double beta1, double beta2, double eps) {
        if (!(lr > 0) || !(beta2 > 0 && beta2 < 1) || !(beta1 >= 0 && beta1 < 1) || !(eps > 0)) {
            throw new IllegalArgumentException("optimizer: need lr > 0, beta1 in [0, 1), beta2 in (0, 1), eps > 0");
        }
        this.kind = kind;
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    public static Optimizer adam(double lr, double beta1, double beta2) {
        return new Optimizer(Kind.ADAM, lr, beta1, beta2, 1e-8);
    }

    /** RMSprop with decay ρ (as torch's alpha). */
    public static Optimizer rmsprop(double lr, double rho) {
        return new Optimizer(Kind.RMSPROP, lr, 0, rho, 1e-8);
    }

    /** Steps taken (Adam's bias correction counts them). */
    public long stepCount() {
        return t;
    }

    /**
     * The state of each of {@code params} (first and second moments, zeros where no step has touched it yet), copies:
     * with {@link #stepCount} all a checkpoint needs to resume this optimizer exactly.
     */
    public float[][][] moments(List<Param> params) {
        float[][][] out = new float[params.size()][][];
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            float[][] st = state.get(p);
            int len = p.value().length;
            out[i] = st == null ? new float[][] {new float[len], new float[len]} : new float[][] {st[0].clone(), st[1].clone()};
        }
        return out;
    }

    /** Restores the state saved by {@link #moments} and {@link #stepCount} for {@code params} (same order and sizes). */
    public void restore(List<Param> params, float[][][] moments, long steps) {
        if (moments.length != params.size() || steps < 0) {
            throw new IllegalArgumentException("optimizer state for " + moments.length + " parameter arrays, " + params.size() + " given");
        }
        for (int i = 0; i < params.size(); i++) {
            int len = params.get(i).value().length;
            if (moments[i].length != 2 || moments[i][0].length != len || moments[i][1].length != len) {
                throw new IllegalArgumentException("optimizer state of parameter " + i + " (" + params.get(i).name() + ") does not match its "
                        + len + " values");
            }
        }
        state.clear();
        for (int i = 0; i < params.size(); i++) {
            state.put(params.get(i), new float[][] {moments[i][0].clone(), moments[i][1].clone()});
        }
        t = steps;
    }

    public void step(List<Param> params) {
        t++;
        double c1 = kind == Kind.ADAM ? 1 - Math.pow(beta1, t) : 1;
        double c2 = kind == Kind.ADAM ? 1 - Math.pow(beta2, t) : 1;
        for (Param p : params) {
            float[][] s = state.computeIfAbsent(p, q -> new float[][] {new float[q.value().length], new float[q.value().length]});
            float[] m = s[0];
            float[] v = s[1];
            float[] w = p.value();
            float[] g = p.grad();
            for (int i = 0; i < w.length; i++) {
                v[i] = (float) (beta2 * v[i] + (1 - beta2) * g[i] * g[i]);
                if (kind == Kind.ADAM) {
                    m[i] = (float) (beta1 * m[i] + (1 - beta1) * g[i]);
                    w[i] -= (float) (lr * (m[i] / c1) / (Math.sqrt(v[i] / c2) + eps));
                } else {
                    w[i] -= (float) (lr * g[i] / (Math.sqrt(v[i]) + eps));
                }
            }
            p.zeroGrad();
        }
    }
}
