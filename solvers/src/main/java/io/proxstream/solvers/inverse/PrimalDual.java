package io.proxstream.solvers.inverse;

import io.proxstream.solvers.progress.Progress;
import io.proxstream.solvers.progress.ProgressListener;
import java.util.Map;
import java.util.Objects;

/**
 * The primal-dual method with an explicit gradient step (Condat 2013, Vũ 2013), used by Shumaylov
 * et al. (ICML 2024) for a smooth weakly convex regulariser, for
 * {@code min_x h(x) + f(x) + g(Kx)} with h smooth (∇h L-Lipschitz, possibly nonconvex), f and g
 * convex with proximal maps:
 * <pre>
 *   x⁺ ← prox_{τf}(x − τ(∇h(x) + Kᵀy))
 *   y⁺ ← prox_{σg*}(y + σ K(2x⁺ − x))
 * </pre>
 * under τ(L/2 + σ‖K‖²) &lt; 1 (default σ = 1/‖K‖, τ = 0.99/(L/2 + σ‖K‖²)). Reported per iteration:
 * the energy, the primal and dual residuals, and the critical-point residual ‖x⁺ − x‖/τ, whose
 * running (ergodic) mean over iterations is also reported: on a weakly convex problem it falls like
 * O(log k / k).
 */
public final class PrimalDual {

    /**
     * @param tau        primal step (NaN: from the step condition)
     * @param sigma      dual step (NaN: 1/‖K‖)
     * @param iterations iteration budget
     */
    public record Options(double tau, double sigma, int iterations) {
        public Options {
            if (iterations <= 0) {
                throw new IllegalArgumentException("iterations must be positive, got " + iterations);
            }
        }

        public static Options iterations(int n) {
            return new Options(Double.NaN, Double.NaN, n);
        }
    }

    private PrimalDual() {
    }

    public static SolverResult solve(Functional h, Functional f, Functional g, LinearOperator k, float[] x0, Options o,
                                     StoppingRule stop, ProgressListener listener) {
        Objects.requireNonNull(stop, "stop");
        if (!h.isSmooth()) {
            throw new IllegalArgumentException("h must be smooth (gradient and Lipschitz constant)");
        }
        int n = k.domainSize();
        int m = k.rangeSize();
        Vectors.requireLength("initial point", x0, n);
        Vectors.requireFinite("initial point", x0);
        long t0 = System.nanoTime();
        double kn = k.normEstimate(40, 13) * 1.02;
        double sigma = Double.isNaN(o.sigma()) ? 1 / Math.max(kn, 1e-12) : o.sigma();
        double bound = 1 / (h.lipschitz() / 2 + sigma * kn * kn);
        double tau = Double.isNaN(o.tau()) ? 0.99 * bound : o.tau();
        if (tau >= bound) {
            throw new IllegalArgumentException("step condition tau(L/2 + sigma|K|^2) < 1 fails: tau = " + tau
                    + ", bound " + bound);
        }
        float[] x = x0.clone();
        float[] xPrev = new float[n];
        float[] y = new float[m];
        float[] yPrev = new float[m];
        float[] grad = new float[n];
        float[] kty = new float[n];
        float[] ktyPrev = new float[n];
        float[] tmpN = new float[n];
        float[] tmpM = new float[m];
        float[] kExtrap = new float[m];
        float[] kx = k.apply(x);
        float[] kxPrev = new float[m];
        Progress last = null;
        double residualSum = 0;
        int it = 0;
        boolean early = false;
        while (it < o.iterations()) {
            it++;
            System.arraycopy(x, 0, xPrev, 0, n);
            System.arraycopy(y, 0, yPrev, 0, m);
            System.arraycopy(kx, 0, kxPrev, 0, m);
            System.arraycopy(kty, 0, ktyPrev, 0, n);
            h.gradient(x, grad);
            float tf = (float) tau;
            for (int i = 0; i < n; i++) {
                tmpN[i] = x[i] - tf * (grad[i] + kty[i]);
            }
            f.proximal(tau, tmpN, x);
            k.apply(x, kx);
            // K(2x+ - x) = 2Kx+ - Kx
            for (int i = 0; i < m; i++) {
                kExtrap[i] = 2 * kx[i] - kxPrev[i];
            }
            Vectors.axpy(y, (float) sigma, kExtrap, tmpM);
            g.conjugateProximal(sigma, tmpM, y);
            k.adjoint(y, kty);
            Map<String, Double> s = Pdhg.residuals(x, xPrev, y, yPrev, kx, kxPrev, kty, ktyPrev, tau, sigma);
            residualSum += s.get("criticalResidual");
            s.put("ergodicResidual", residualSum / it);
            last = new Progress(it, h.value(x) + f.value(x) + g.value(kx), s);
            listener.onProgress(last);
            if (stop.stop(last)) {
                early = it < o.iterations();
                break;
            }
        }
        return new SolverResult(x, it, early, (System.nanoTime() - t0) / 1e9, last);
    }
}
