package io.proxstream.solvers.inverse;

import io.proxstream.solvers.progress.Progress;
import io.proxstream.solvers.progress.ProgressListener;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The primal-dual hybrid gradient method of Chambolle and Pock ("A first-order primal-dual
 * algorithm for convex problems with applications to imaging", JMIV 2011) for
 * {@code min_x f(x) + g(Kx)}:
 * <pre>
 *   y ← prox_{σg*}(y + σ K x̄)
 *   x⁺ ← prox_{τf}(x − τ Kᵀ y)
 *   x̄ ← x⁺ + θ (x⁺ − x)
 * </pre>
 * with τσ‖K‖² &lt; 1 (default τ = σ = 0.99/‖K‖, ‖K‖ by the power method). With {@code gamma > 0}
 * (f γ-strongly convex) the steps are accelerated: θ = 1/√(1 + 2γτ), τ ← θτ, σ ← σ/θ (default start
 * τ = 10/‖K‖, σ = 0.99/(τ‖K‖²)); this guarantees ‖x_k − x*‖² = O(1/k²), though on denoising
 * problems the plain method often converges faster in practice (linearly).
 *
 * <p>Reported per iteration: the energy f(x) + g(Kx), the primal and dual residuals of Goldstein,
 * Li and Yuan (‖(x−x⁺)/τ − Kᵀ(y−y⁺)‖ and ‖(y−y⁺)/σ − K(x−x⁺)‖), the critical-point residual
 * ‖x⁺ − x‖/τ and the relative change ‖x⁺ − x‖/‖x⁺‖.
 */
public final class Pdhg {

    /**
     * @param tau        primal step (NaN: 0.99/‖K‖)
     * @param sigma      dual step (NaN: 0.99/‖K‖)
     * @param theta      extrapolation (1 for the standard method)
     * @param gamma      strong convexity of f for acceleration (0 = none)
     * @param iterations iteration budget
     */
    public record Options(double tau, double sigma, double theta, double gamma, int iterations) {
        public Options {
            if (iterations <= 0) {
                throw new IllegalArgumentException("iterations must be positive, got " + iterations);
            }
            if (!(theta >= 0 && theta <= 1)) {
                throw new IllegalArgumentException("theta must be in [0,1], got " + theta);
            }
            if (!(gamma >= 0)) {
                throw new IllegalArgumentException("gamma must be >= 0, got " + gamma);
            }
            if (!Double.isNaN(tau) && !(tau > 0) || !Double.isNaN(sigma) && !(sigma > 0)) {
                throw new IllegalArgumentException("steps must be positive (or NaN for the default), got " + tau + ", " + sigma);
            }
        }

        public static Options iterations(int n) {
            return new Options(Double.NaN, Double.NaN, 1.0, 0.0, n);
        }
    }

    private Pdhg() {
    }

    public static SolverResult solve(Functional f, Functional g, LinearOperator k, float[] x0, Options o,
                                     StoppingRule stop, ProgressListener listener) {
        Objects.requireNonNull(stop, "stop");
        Objects.requireNonNull(listener, "listener");
        int n = k.domainSize();
        int m = k.rangeSize();
        Vectors.requireLength("initial point", x0, n);
        Vectors.requireFinite("initial point", x0);
        long t0 = System.nanoTime();
        double tau = o.tau();
        double sigma = o.sigma();
        if (Double.isNaN(tau) || Double.isNaN(sigma)) {
            double kn = k.normEstimate(40, 11) * 1.02;
            if (o.gamma() > 0) {
                // the accelerated variant shrinks tau every iteration: start large (tau = 10/|K|)
                tau = Double.isNaN(tau) ? 10 / kn : tau;
                sigma = Double.isNaN(sigma) ? 0.99 / (tau * kn * kn) : sigma;
            } else {
                tau = Double.isNaN(tau) ? 0.99 / kn : tau;
                sigma = Double.isNaN(sigma) ? 0.99 / kn : sigma;
            }
        }
        float[] x = x0.clone();
        float[] xPrev = new float[n];
        float[] y = new float[m];
        float[] yPrev = new float[m];
        float[] kxBar = new float[m];
        float[] kx = k.apply(x);
        float[] kxPrev = new float[m];
        float[] kty = new float[n];
        float[] ktyPrev = new float[n];
        float[] tmpN = new float[n];
        float[] tmpM = new float[m];
        double theta = o.theta();
        Progress last = null;
        int it = 0;
        boolean early = false;
        float thLast = 0;
        while (it < o.iterations()) {
            it++;
            // K x̄ = K(x + θ(x − x_prev)) = (1+θ) Kx − θ Kx_prev from products already made: one forward and one
            // adjoint application of K per iteration
            for (int i = 0; i < m; i++) {
                kxBar[i] = it == 1 ? kx[i] : kx[i] + thLast * (kx[i] - kxPrev[i]);
            }
            System.arraycopy(y, 0, yPrev, 0, m);
            System.arraycopy(x, 0, xPrev, 0, n);
            System.arraycopy(kty, 0, ktyPrev, 0, n);
            System.arraycopy(kx, 0, kxPrev, 0, m);
            Vectors.axpy(y, (float) sigma, kxBar, tmpM);
            g.conjugateProximal(sigma, tmpM, y);
            k.adjoint(y, kty);
            Vectors.axpy(x, (float) -tau, kty, tmpN);
            f.proximal(tau, tmpN, x);
            if (o.gamma() > 0) {
                theta = 1 / Math.sqrt(1 + 2 * o.gamma() * tau);
            }
            float th = (float) theta;
            thLast = th;
            k.apply(x, kx);
            last = report(it, f, g, x, xPrev, y, yPrev, kx, kxPrev, kty, ktyPrev, tau, sigma);
            if (o.gamma() > 0) {
                tau *= theta;
                sigma /= theta;
            }
            listener.onProgress(last);
            if (stop.stop(last)) {
                early = it < o.iterations();
                break;
            }
        }
        return new SolverResult(x, it, early, (System.nanoTime() - t0) / 1e9, last);
    }

    /** Residuals from stored products: Kᵀ(y_prev − y) = Kᵀy_prev − Kᵀy and K(x_prev − x) = Kx_prev − Kx. */
    private static Progress report(int it, Functional f, Functional g, float[] x, float[] xPrev, float[] y, float[] yPrev,
                                   float[] kx, float[] kxPrev, float[] kty, float[] ktyPrev, double tau, double sigma) {
        Map<String, Double> s = residuals(x, xPrev, y, yPrev, kx, kxPrev, kty, ktyPrev, tau, sigma);
        s.put("tau", tau);
        s.put("sigma", sigma);
        return new Progress(it, f.value(x) + g.value(kx), s);
    }

    /**
     * The residuals every primal-dual iteration reports (Goldstein, Li and Yuan): {@code primalResidual}
     * ‖(x−x⁺)/τ − Kᵀ(y−y⁺)‖, {@code dualResidual} ‖(y−y⁺)/σ − K(x−x⁺)‖, {@code criticalResidual}
     * ‖x⁺ − x‖/τ and {@code relativeChange} ‖x⁺ − x‖/‖x⁺‖, from the stored products Kx and Kᵀy.
     */
    static Map<String, Double> residuals(float[] x, float[] xPrev, float[] y, float[] yPrev, float[] kx, float[] kxPrev, float[] kty,
                                         float[] ktyPrev, double tau, double sigma) {
        double change = 0;
        double primal = 0;
        for (int i = 0; i < x.length; i++) {
            double dx = (double) xPrev[i] - x[i];
            change += dx * dx;
            double v = dx / tau - ((double) ktyPrev[i] - kty[i]);
            primal += v * v;
        }
        change = Math.sqrt(change);
        double dual = 0;
        for (int i = 0; i < y.length; i++) {
            double v = ((double) yPrev[i] - y[i]) / sigma - ((double) kxPrev[i] - kx[i]);
            dual += v * v;
        }
        Map<String, Double> s = new LinkedHashMap<>();
        s.put("primalResidual", Math.sqrt(primal));
        s.put("dualResidual", Math.sqrt(dual));
        s.put("criticalResidual", change / tau);
        s.put("relativeChange", change / Math.max(Vectors.norm(x), 1e-30));
        return s;
    }
}
