package io.proxstream.solvers.inverse;

import io.proxstream.solvers.progress.ProgressListener;
import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The classical reconstruction methods behind {@code proxstream reconstruct}, each a choice of
 * model and solver for {@code y = A x + noise}:
 * <ul>
 *   <li>{@code fbp}: filtered back-projection (CT only);</li>
 *   <li>{@code tv-pdhg}: min ½‖Ax − y‖² + λ TV(x) subject to x ≥ 0, by PDHG with the data and TV
 *       terms on the dual side and the blocks balanced, K = [A; μ∇] with μ = ‖A‖/‖∇‖ and TV weight
 *       λ/μ (the same problem; without the balance the TV dual of a CT problem barely moves);</li>
 *   <li>{@code tv-pd}: the same model by the primal-dual method with the data term as the smooth
 *       part (gradient step) and TV on the dual side;</li>
 *   <li>{@code huber-gd} / {@code huber-gd-momentum}: min ½‖Ax − y‖² + λ Σ huber_δ(|∇x|) by
 *       gradient descent with Armijo backtracking, without or with momentum.</li>
 * </ul>
 * Stopping: the iteration budget, or the relative change ‖x⁺ − x‖/‖x⁺‖ below {@code tol}; never
 * the ground truth.
 */
public final class Reconstructors {

    /**
     * @param method     fbp, tv-pdhg, tv-pd, huber-gd, huber-gd-momentum
     * @param lambda     regularisation weight λ
     * @param iterations iteration budget
     * @param tol        relative-change tolerance (0: run the whole budget)
     * @param huberDelta δ of the Huber smoothing
     * @param filter     FBP filter (and FBP warm start of iterative CT methods)
     */
    public record Options(String method, double lambda, int iterations, double tol, double huberDelta, Fbp.Filter filter) {
        public Options {
            method = method.toLowerCase(Locale.ROOT);
            if (!java.util.List.of("fbp", "tv-pdhg", "tv-pd", "huber-gd", "huber-gd-momentum").contains(method)) {
                throw new IllegalArgumentException("unknown method '" + method
                        + "'; valid: fbp, tv-pdhg, tv-pd, huber-gd, huber-gd-momentum");
            }
            if (!(lambda >= 0) || Double.isInfinite(lambda)) {
                throw new IllegalArgumentException("lambda must be finite and >= 0, got " + lambda);
            }
            if (iterations <= 0) {
                throw new IllegalArgumentException("iterations must be positive, got " + iterations);
            }
            if (!(tol >= 0) || !(huberDelta > 0)) {
                throw new IllegalArgumentException("need tol >= 0 and huberDelta > 0");
            }
        }
    }

    private Reconstructors() {
    }

    /**
     * Reconstructs from data {@code y} of operator {@code a}; {@code fbp} must be given for CT
     * (with the filter of the options, it is the FBP method and the warm start of the iterative
     * ones), else null.
     */
    public static SolverResult reconstruct(Options o, LinearOperator a, float[] y, Fbp fbp, ProgressListener listener) {
        Vectors.requireLength("data", y, a.rangeSize());
        Vectors.requireFinite("data", y);
        long t0 = System.nanoTime();
        if (fbp != null) {
            fbp = fbp.withFilter(o.filter());
        }
        if (o.method().equals("fbp")) {
            if (fbp == null) {
                throw new IllegalArgumentException("fbp reconstructs CT data only");
            }
            float[] x = fbp.reconstruct(y);
            return new SolverResult(x, 1, false, (System.nanoTime() - t0) / 1e9, null);
        }
        int[] shape = a.domainShape();
        int h = shape[0];
        int w = shape[1];
        float[] x0 = fbp != null ? clampNonNegative(fbp.reconstruct(y)) : (a.rangeSize() == a.domainSize() ? y.clone() : new float[h * w]);
        Gradient grad = new Gradient(h, w);
        StoppingRule stop = o.tol() > 0 ? StoppingRule.below("relativeChange", o.tol()) : StoppingRule.NEVER;
        return switch (o.method()) {
            case "tv-pdhg" -> {
                // balance the blocks: K = [A; μ∇] with μ = ‖A‖/‖∇‖ and weight λ/μ on the scaled gradient (the same
                // problem); with the unscaled ∇ of ‖∇‖ ≈ 2.8 next to ‖A‖ ≈ 90 the TV dual moves ~1000× too slowly
                double[] norms = balancedNorms(a, grad);
                double mu = norms[1];
                LinearOperator k = Operators.stack(a, grad.scaled(mu));
                Functional g = Functionals.separable(Functionals.squaredDistance(y, 1), a.rangeSize(),
                        Functionals.l21(o.lambda() / mu, 2), grad.rangeSize());
                double step = 0.99 / (1.02 * norms[2]);
                yield Pdhg.solve(Functionals.nonNegativity(), g, k, x0, new Pdhg.Options(step, step, 1, 0, o.iterations()), stop,
                        listener);
            }
            case "tv-pd" -> PrimalDual.solve(Functionals.composed(Functionals.squaredDistance(y, 1), a), Functionals.nonNegativity(),
                    Functionals.l21(o.lambda(), 2), grad, x0, PrimalDual.Options.iterations(o.iterations()), stop, listener);
            default -> {
                Functional e = Functionals.sum(Functionals.composed(Functionals.squaredDistance(y, 1), a),
                        Functionals.composed(Functionals.groupHuber(o.huberDelta(), o.lambda(), 2), grad));
                GradientDescent.Options go = o.method().equals("huber-gd")
                        ? GradientDescent.Options.armijo(o.iterations()) : GradientDescent.Options.withMomentum(o.iterations(), 0.9);
                yield GradientDescent.solve(e, x0, go, stop, listener);
            }
        };
    }

    private static final Map<LinearOperator, double[]> NORMS = Collections.synchronizedMap(new WeakHashMap<>());

    /**
     * {‖A‖, μ = ‖A‖/‖∇‖, ‖[A; μ∇]‖} by the power method, cached per operator (operators are
     * immutable and shared by the images of a stream, so this runs once per operator).
     */
    static double[] balancedNorms(LinearOperator a, Gradient grad) {
        double[] cached = NORMS.get(a);
        if (cached != null) {
            return cached;
        }
        double na = a.normEstimate(40, 11);
        double mu = na / grad.normEstimate(40, 11);
        double nk = Operators.stack(a, grad.scaled(mu)).normEstimate(40, 11);
        double[] v = {na, mu, nk};
        NORMS.put(a, v);
        return v;
    }

    private static float[] clampNonNegative(float[] x) {
        for (int i = 0; i < x.length; i++) {
            x[i] = Math.max(0, x[i]);
        }
        return x;
    }
}
