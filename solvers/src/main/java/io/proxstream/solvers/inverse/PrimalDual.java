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
 * under τ(L/2 + σ‖K‖²) &lt; 1 (default τ = 0.99/(L/2 + σ‖K‖²); σ = L_g for a smooth g, else 1/‖K‖: see
 * {@link #defaultSigma}). Reported per iteration:
 * the energy, the primal and dual residuals, and the critical-point residual ‖x⁺ − x‖/τ, whose
 * running (ergodic) mean over iterations is also reported: on a weakly convex problem it falls like
 * O(log k / k).
 *
 * <p><b>Step rule.</b> The convergence proof uses the Lipschitz constant L of ∇h only through the
 * descent inequality between consecutive iterates,
 * {@code h(x⁺) ≤ h(x) + ⟨∇h(x), x⁺ − x⟩ + (L/2)‖x⁺ − x‖²}. A learned regulariser has no known global
 * L, and a constant sampled at one point (the FBP) can be far too small where the method runs,
 * so by default ({@link Options#backtrack()}) L starts from {@code h.lipschitz()} and the primal
 * step is checked against that inequality: while it fails, L doubles and the step is redone with
 * τ = 0.99/(L/2 + σ‖K‖²). L never decreases, so once it exceeds the constant valid on the region
 * the iterates visit it stops changing, and from there on the method runs with a fixed step that
 * satisfies the step condition along the iterates — the setting of the proof. Each iteration costs
 * one more evaluation of h (its value at x⁺); the current L, τ and the backtracks so far are reported.
 *
 * <p><b>Dual start.</b> With {@link Options#warmDual()} (the default) and g smooth, the dual variable
 * starts at y₀ = ∇g(Kx₀), the maximiser of ⟨Kx₀, y⟩ − g*(y): the dual that belongs to the start x₀.
 * The first primal step is then a forward-backward step on the whole energy h + g∘K + f from x₀.
 * Started from y₀ = 0 instead, the primal steps at first ignore the data term g∘K, which enters only
 * as the dual grows (with σ = 1/‖K‖ over about ‖K‖ iterations); from a good x₀ (an FBP) that
 * transient first moves the iterate away from the data and costs ‖K‖ iterations to undo. Both starts
 * run the same iteration afterwards, so the convergence theory is unchanged. A non-smooth g starts
 * from y₀ = 0.
 */
public final class PrimalDual {

    /**
     * @param tau        primal step (NaN: from the step condition)
     * @param sigma      dual step (NaN: L_g for a smooth g, else 1/‖K‖)
     * @param iterations iteration budget
     * @param backtrack  check the descent inequality of h at every step and raise L until it holds
     *                   (only with tau NaN: a given τ is used as given)
     * @param warmDual   start the dual at ∇g(Kx₀) when g is smooth (else at 0)
     */
    public record Options(double tau, double sigma, int iterations, boolean backtrack, boolean warmDual) {
        public Options {
            if (iterations <= 0) {
                throw new IllegalArgumentException("iterations must be positive, got " + iterations);
            }
            if (backtrack && !Double.isNaN(tau)) {
                throw new IllegalArgumentException("backtracking chooses tau; give tau = NaN or turn backtracking off");
            }
        }

        /** The given steps and step rule, the dual started at ∇g(Kx₀). */
        public Options(double tau, double sigma, int iterations, boolean backtrack) {
            this(tau, sigma, iterations, backtrack, true);
        }

        /** Fixed steps from h's Lipschitz constant (or the given tau). */
        public Options(double tau, double sigma, int iterations) {
            this(tau, sigma, iterations, false);
        }

        /** {@code n} iterations with the backtracking step rule. */
        public static Options iterations(int n) {
            return new Options(Double.NaN, Double.NaN, n, true);
        }

        /** {@code n} iterations with steps from h's Lipschitz constant, unchecked. */
        public static Options fixedSteps(int n) {
            return new Options(Double.NaN, Double.NaN, n, false);
        }

        /** The same options with the dual started at 0 (false) or at ∇g(Kx₀) (true). */
        public Options withWarmDual(boolean warm) {
            return new Options(tau, sigma, iterations, backtrack, warm);
        }
    }

    /** Backtracking doubles L at most this many times in one iteration before giving up. */
    static final int MAX_BACKTRACKS = 60;

    private PrimalDual() {
    }

    /**
     * The dual step when none is given: L_g for a smooth g with ∇g L_g-Lipschitz (then g* is 1/L_g-strongly
     * convex, so the dual step moves y halfway to ∇g(K x̄), and σ‖K‖² = L_g‖K‖², the curvature of g∘K: the primal
     * step τ = 0.99/(L/2 + L_g‖K‖²) is the forward step of the whole smooth energy); 1/‖K‖ otherwise.
     */
    static double defaultSigma(Functional g, double kNorm) {
        if (g.isSmooth()) {
            double lg = g.lipschitz();
            if (lg > 0 && Double.isFinite(lg)) {
                return lg;
            }
        }
        return 1 / Math.max(kNorm, 1e-12);
    }

    public static SolverResult solve(Functional h, Functional f, Functional g, LinearOperator k, float[] x0, Options o,
                                     StoppingRule stop, ProgressListener listener) {
        return solve(h, f, g, k, x0, o, stop, listener, IterateListener.NONE);
    }

    /** As above, showing {@code iterates} the primal iterate after every iteration. */
    public static SolverResult solve(Functional h, Functional f, Functional g, LinearOperator k, float[] x0, Options o,
                                     StoppingRule stop, ProgressListener listener, IterateListener iterates) {
        Objects.requireNonNull(stop, "stop");
        Objects.requireNonNull(iterates, "iterates");
        if (!h.isSmooth()) {
            throw new IllegalArgumentException("h must be smooth (gradient and Lipschitz constant)");
        }
        int n = k.domainSize();
        int m = k.rangeSize();
        Vectors.requireLength("initial point", x0, n);
        Vectors.requireFinite("initial point", x0);
        long t0 = System.nanoTime();
        double kn = k.normEstimate(40, 13) * 1.02;
        double sigma = Double.isNaN(o.sigma()) ? defaultSigma(g, kn) : o.sigma();
        double lip = h.lipschitz();
        if (!(lip >= 0) || Double.isInfinite(lip)) {
            throw new IllegalArgumentException("h's Lipschitz constant must be finite and >= 0 (the start of backtracking), got " + lip);
        }
        double bound = 1 / (lip / 2 + sigma * kn * kn);
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
        if (o.warmDual() && g.isSmooth()) {
            g.gradient(kx, y);
            Vectors.requireFinite("initial dual (gradient of g at K x0)", y);
            k.adjoint(y, kty);
        }
        Progress last = null;
        double residualSum = 0;
        int it = 0;
        boolean early = false;
        long backtracks = 0;
        double hx = o.backtrack() ? h.value(x) : Double.NaN;
        while (it < o.iterations()) {
            it++;
            System.arraycopy(x, 0, xPrev, 0, n);
            System.arraycopy(y, 0, yPrev, 0, m);
            System.arraycopy(kx, 0, kxPrev, 0, m);
            System.arraycopy(kty, 0, ktyPrev, 0, n);
            h.gradient(x, grad);
            double hNext = Double.NaN;
            for (int attempt = 0; ; attempt++) {
                float tf = (float) tau;
                for (int i = 0; i < n; i++) {
                    tmpN[i] = xPrev[i] - tf * (grad[i] + kty[i]);
                }
                f.proximal(tau, tmpN, x);
                if (!o.backtrack()) {
                    break;
                }
                // the descent inequality h(x+) <= h(x) + <grad h(x), x+ - x> + L/2 |x+ - x|^2, up to float rounding of h
                double lin = 0;
                double sq = 0;
                for (int i = 0; i < n; i++) {
                    double dx = (double) x[i] - xPrev[i];
                    lin += grad[i] * dx;
                    sq += dx * dx;
                }
                hNext = h.value(x);
                double slack = 1e-6 * Math.max(Math.abs(hx), Math.abs(hNext));
                if (hNext <= hx + lin + lip / 2 * sq + slack) {
                    break;
                }
                if (attempt >= MAX_BACKTRACKS || !Double.isFinite(hNext) && attempt > 8) {
                    throw new ArithmeticException("primal-dual: the descent inequality of h fails at iteration " + it + " even with L = "
                            + lip + " (h(x+) = " + hNext + ")");
                }
                // from L = 0 (h declared affine) the first raise is to a small multiple of the dual part's σ‖K‖²
                lip = lip == 0 ? 1e-3 * sigma * kn * kn : 2 * lip;
                tau = 0.99 / (lip / 2 + sigma * kn * kn);
                backtracks++;
            }
            hx = hNext;
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
            s.put("lipschitz", lip);
            s.put("tau", tau);
            s.put("backtracks", (double) backtracks);
            last = new Progress(it, (o.backtrack() ? hx : h.value(x)) + f.value(x) + g.value(kx), s);
            listener.onProgress(last);
            iterates.onIterate(it, x);
            if (stop.stop(last)) {
                early = it < o.iterations();
                break;
            }
        }
        return new SolverResult(x, it, early, (System.nanoTime() - t0) / 1e9, last);
    }
}
