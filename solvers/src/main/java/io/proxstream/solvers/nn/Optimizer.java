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
