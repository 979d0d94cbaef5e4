package io.proxstream.solvers.inverse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.progress.Progress;
import io.proxstream.solvers.progress.ProgressListener;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class SolversTest {
    private static final int N = 24;

    private static float[] noisyPhantom(long seed) {
        float[] x = Phantoms.sheppLogan(N);
        float[] n = OperatorTestSupport.random(N * N, seed);
        for (int i = 0; i < x.length; i++) {
            x[i] += 0.15f * n[i];
        }
        return x;
    }

    /**
     * Reference TV denoising by fast gradient projection on the dual (Beck and Teboulle 2009),
     * written independently in double: min_x ½‖x − y‖² + λ TV(x) has x = y − λ(−div p) with p
     * maximising over the unit dual ball.
     */
    private static double[] fgpTvDenoise(float[] y, double lambda, int iterations) {
        Gradient g = new Gradient(N, N);
        int n = N * N;
        double[] p = new double[2 * n];
        double[] q = new double[2 * n];
        double t = 1;
        double step = 1 / (8 * lambda);
        double[] x = new double[n];
        for (int it = 0; it < iterations; it++) {
            float[] qf = new float[2 * n];
            for (int i = 0; i < 2 * n; i++) {
                qf[i] = (float) q[i];
            }
            float[] ktq = g.adjoint(qf);
            float[] xf = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = y[i] - lambda * ktq[i];
                xf[i] = (float) x[i];
            }
            float[] gx = g.apply(xf);
            double[] pNew = new double[2 * n];
            for (int i = 0; i < n; i++) {
                double a = q[i] + step * gx[i];
                double b = q[n + i] + step * gx[n + i];
                double norm = Math.max(1, Math.hypot(a, b));
                pNew[i] = a / norm;
                pNew[n + i] = b / norm;
            }
            double tNew = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
            for (int i = 0; i < 2 * n; i++) {
                q[i] = pNew[i] + (t - 1) / tNew * (pNew[i] - p[i]);
            }
            p = pNew;
            t = tNew;
        }
        float[] pf = new float[2 * n];
        for (int i = 0; i < 2 * n; i++) {
            pf[i] = (float) p[i];
        }
        float[] ktp = g.adjoint(pf);
        for (int i = 0; i < n; i++) {
            x[i] = y[i] - lambda * ktp[i];
        }
        return x;
    }

    @Test
    void pdhgSolvesTvDenoisingAsTheReferenceDoes() {
        float[] y = noisyPhantom(1);
        double lambda = 0.1;
        double[] ref = fgpTvDenoise(y, lambda, 20_000);
        Functional f = Functionals.squaredDistance(y, 1);
        Functional g = Functionals.l21(lambda, 2);
        Gradient k = new Gradient(N, N);
        List<Progress> trace = new ArrayList<>();
        SolverResult plain = Pdhg.solve(f, g, k, y, Pdhg.Options.iterations(3000), StoppingRule.NEVER, trace::add);
        SolverResult fast = Pdhg.solve(f, g, k, y, new Pdhg.Options(Double.NaN, Double.NaN, 1, 1.0, 1000), StoppingRule.NEVER,
                ProgressListener.NONE);
        double errPlain = relErr(plain.x(), ref);
        double errFast = relErr(fast.x(), ref);
        assertTrue(errPlain < 1e-3, "PDHG vs reference: " + errPlain);
        assertTrue(errFast < 1e-3, "accelerated PDHG in 1000 iterations: " + errFast);
        // the accelerated method's guarantee, |x_k - x*|^2 = O(1/k^2): the error at 3x the iterations is about 3x smaller
        double fast300 = relErr(Pdhg.solve(f, g, k, y, new Pdhg.Options(Double.NaN, Double.NaN, 1, 1.0, 300), StoppingRule.NEVER,
                ProgressListener.NONE).x(), ref);
        assertTrue(fast300 / errFast > 2.5, "accelerated: " + fast300 + " at 300, " + errFast + " at 1000");
        // the energy of the reported trace ends at the reference energy
        float[] rf = new float[ref.length];
        for (int i = 0; i < ref.length; i++) {
            rf[i] = (float) ref[i];
        }
        double eRef = f.value(rf) + g.value(k.apply(rf));
        assertEquals(eRef, trace.get(trace.size() - 1).objective(), 1e-4 * eRef);
        assertTrue(trace.get(trace.size() - 1).scalars().get("primalResidual") < 1e-2 * trace.get(0).scalars().get("primalResidual"));
    }

    private static double relErr(float[] x, double[] ref) {
        double d = 0;
        double n = 0;
        for (int i = 0; i < x.length; i++) {
            d += (x[i] - ref[i]) * (x[i] - ref[i]);
            n += ref[i] * ref[i];
        }
        return Math.sqrt(d / n);
    }

    /** λΣ log(1 + x²): smooth and weakly convex, ∇ Lipschitz with constant 2λ; {@code declared} is what it reports. */
    private static Functional logPenalty(double lambda, double declared) {
        return new Functional() {
            @Override
            public double value(float[] x) {
                double s = 0;
                for (float v : x) {
                    s += Math.log1p((double) v * v);
                }
                return lambda * s;
            }

            @Override
            public boolean isSmooth() {
                return true;
            }

            @Override
            public void gradient(float[] x, float[] out) {
                for (int i = 0; i < x.length; i++) {
                    out[i] = (float) (lambda * 2 * x[i] / (1 + (double) x[i] * x[i]));
                }
            }

            @Override
            public double lipschitz() {
                return declared;
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                throw new UnsupportedOperationException();
            }
        };
    }

    /** The Shepp-Logan phantom through {@code k}, plus 5 % Gaussian noise (seeded). */
    private static float[] blurredAndNoisy(Blur k) {
        float[] y = k.apply(Phantoms.sheppLogan(N));
        float[] noise = OperatorTestSupport.random(N * N, 4);
        for (int i = 0; i < y.length; i++) {
            y[i] += 0.05f * noise[i];
        }
        return y;
    }

    /** ∇h(x) + Kᵀ(Kx − y): the gradient of h + ½‖K · − y‖² at x. */
    private static float[] energyGradient(Functional h, Blur k, float[] y, float[] x) {
        float[] gh = new float[x.length];
        h.gradient(x, gh);
        float[] res = k.apply(x);
        for (int i = 0; i < res.length; i++) {
            res[i] -= y[i];
        }
        float[] ktr = k.adjoint(res);
        for (int i = 0; i < gh.length; i++) {
            gh[i] += ktr[i];
        }
        return gh;
    }

    private static double stationarity(Functional h, Blur k, float[] y, float[] x) {
        return Vectors.norm(energyGradient(h, k, y, x)) / Vectors.norm(k.adjoint(y));
    }

    /**
     * The step rule of the weakly convex primal-dual method when the Lipschitz constant it is given is 200 times too
     * small (as a constant sampled at one point can be for a learned regulariser): with fixed steps the iteration does
     * not settle; with backtracking on the descent inequality of h it raises L (never beyond twice the true 2λ, since
     * the inequality holds for every L ≥ 2λ) and reaches a critical point, its ergodic residual falling.
     */
    @Test
    void backtrackingRepairsALipschitzConstantThatIsFarTooSmall() {
        Blur k = Blur.gaussian(N, N, 1.2);
        float[] y = blurredAndNoisy(k);
        double lambda = 2;
        Functional h = logPenalty(lambda, 2 * lambda / 200);
        float[] start = k.adjoint(y);
        SolverResult fixed = PrimalDual.solve(h, Functionals.zero(), Functionals.squaredDistance(y, 1), k, start,
                PrimalDual.Options.fixedSteps(1500), StoppingRule.NEVER, ProgressListener.NONE);
        double fixedStationarity = stationarity(h, k, y, fixed.x());
        assertTrue(!(fixedStationarity < 1e-2), "fixed steps from a far too small L do not settle: " + fixedStationarity);

        List<Progress> trace = new ArrayList<>();
        SolverResult bt = PrimalDual.solve(h, Functionals.zero(), Functionals.squaredDistance(y, 1), k, start,
                PrimalDual.Options.iterations(1500), StoppingRule.NEVER, trace::add);
        double st = stationarity(h, k, y, bt.x());
        assertTrue(st < 1e-3, "first-order condition residual with backtracking " + st);
        double lip = bt.last().scalars().get("lipschitz");
        assertTrue(bt.last().scalars().get("backtracks") > 0, "it backtracked");
        assertTrue(lip > 2 * lambda / 200 && lip < 2 * (2 * lambda), "L raised, but below twice the true constant: " + lip);
        double e100 = trace.get(99).scalars().get("ergodicResidual");
        double e1500 = trace.get(1499).scalars().get("ergodicResidual");
        System.out.printf(java.util.Locale.ROOT, "[SolversTest] L given %.3g: fixed steps stationarity %.3g; backtracking: L %.3g after %.0f"
                + " backtracks, stationarity %.3g, ergodic residual %.3g -> %.3g%n", 2 * lambda / 200, fixedStationarity, lip,
                bt.last().scalars().get("backtracks"), st, e100, e1500);
        assertTrue(e1500 < e100 / 5, "ergodic residual falls: " + e100 + " -> " + e1500);
    }

    /**
     * A nonconvex (weakly convex) regulariser, λΣ log(1 + x²) (second derivative ≥ −λ/2), with the
     * data term on the dual side through a blur: the iterates reach a critical point,
     * ∇h(x) + Kᵀ(Kx − y) = 0, and the ergodic mean of the critical-point residual falls.
     */
    @Test
    void weaklyConvexPrimalDualReachesACriticalPoint() {
        Blur k = Blur.gaussian(N, N, 1.2);
        float[] y = blurredAndNoisy(k);
        double lambda = 0.05;
        Functional h = logPenalty(lambda, 2 * lambda);
        List<Progress> trace = new ArrayList<>();
        SolverResult r = PrimalDual.solve(h, Functionals.zero(), Functionals.squaredDistance(y, 1), k, new float[N * N],
                PrimalDual.Options.iterations(4000), StoppingRule.NEVER, trace::add);
        double stationarity = stationarity(h, k, y, r.x());
        assertTrue(stationarity < 1e-3, "first-order condition residual " + stationarity);
        double e100 = trace.get(99).scalars().get("ergodicResidual");
        double e1000 = trace.get(999).scalars().get("ergodicResidual");
        double e4000 = trace.get(3999).scalars().get("ergodicResidual");
        assertTrue(e1000 < e100 && e4000 < e1000, "ergodic residual falls: " + e100 + ", " + e1000 + ", " + e4000);
        assertThrows(IllegalArgumentException.class, () -> PrimalDual.solve(h, Functionals.zero(), Functionals.squaredDistance(y, 1),
                k, new float[N * N], new PrimalDual.Options(10, Double.NaN, 5), StoppingRule.NEVER, ProgressListener.NONE));
    }

    /**
     * The warm dual start y₀ = ∇g(Kx₀): the first primal step is a projected forward-backward step on the whole energy
     * (checked against that step computed by hand), and from a good start (a few hundred gradient steps towards the
     * critical point) the energy never rises above the start's, while the cold start y₀ = 0 first leaves the data and
     * raises it. The iterate listener sees the iterate of every iteration, the last one equal to the result.
     */
    @Test
    void warmDualStartTakesAForwardBackwardStepOnTheWholeEnergy() {
        Blur k = Blur.gaussian(N, N, 1.2);
        float[] y = blurredAndNoisy(k);
        double lambda = 0.05;
        Functional h = logPenalty(lambda, 2 * lambda);
        Functional f = Functionals.nonNegativity();
        Functional g = Functionals.squaredDistance(y, 1);
        float[] x0 = k.adjoint(y);
        List<float[]> seen = new ArrayList<>();
        List<Progress> warm = new ArrayList<>();
        SolverResult r = PrimalDual.solve(h, f, g, k, x0, PrimalDual.Options.fixedSteps(5), StoppingRule.NEVER, warm::add,
                (it, x) -> seen.add(x.clone()));
        assertEquals(5, seen.size(), "one iterate per iteration");
        assertEquals(0, Vectors.distance(seen.get(4), r.x()), "the last iterate seen is the result");
        double tau = warm.get(0).scalars().get("tau");
        float[] grad = energyGradient(h, k, y, x0);
        float[] step = new float[N * N];
        for (int i = 0; i < step.length; i++) {
            step[i] = Math.max(0, x0[i] - (float) tau * grad[i]);
        }
        assertTrue(Vectors.distance(step, seen.get(0)) <= 1e-5 * Vectors.norm(step),
                "first iterate = prox_tf(x0 - tau(grad h(x0) + K^T(K x0 - y))): off by " + Vectors.distance(step, seen.get(0)));

        // a good start: 300 warm iterations; then 40 more from there, warm and cold
        float[] good = PrimalDual.solve(h, f, g, k, x0, PrimalDual.Options.iterations(300), StoppingRule.NEVER,
                ProgressListener.NONE).x();
        double e0 = h.value(good) + g.value(k.apply(good));
        List<Progress> w = new ArrayList<>();
        List<Progress> c = new ArrayList<>();
        PrimalDual.solve(h, f, g, k, good, PrimalDual.Options.iterations(40), StoppingRule.NEVER, w::add);
        PrimalDual.solve(h, f, g, k, good, PrimalDual.Options.iterations(40).withWarmDual(false), StoppingRule.NEVER, c::add);
        double warmMax = w.stream().mapToDouble(Progress::objective).max().orElseThrow();
        double coldMax = c.stream().mapToDouble(Progress::objective).max().orElseThrow();
        System.out.printf(java.util.Locale.ROOT, "[SolversTest] from a good start E0 %.6g: largest energy over 40 iterations warm %.6g, "
                + "cold %.6g%n", e0, warmMax, coldMax);
        assertTrue(warmMax <= e0 * (1 + 1e-4), "warm start stays at or below the start's energy: " + warmMax + " vs " + e0);
        assertTrue(coldMax > e0 * 1.01, "the cold start leaves the data first: " + coldMax + " vs " + e0);
    }

    /** Gradient descent (Armijo, and with momentum) on a strongly convex quadratic reaches the CG solution. */
    @Test
    void gradientDescentReachesTheMinimiserAndMomentumGetsThereSooner() {
        Blur b = Blur.gaussian(N, N, 1.0);
        float[] y = b.apply(Phantoms.sheppLogan(N));
        double mu = 0.05;
        Functional e = Functionals.sum(Functionals.composed(Functionals.squaredDistance(y, 1), b),
                Functionals.squaredDistance(new float[N * N], mu));
        // reference: conjugate gradients on (B'B + mu I) x = B'y, in double
        double[] ref = cg(b, mu, b.adjoint(y), 500);
        SolverResult plain = GradientDescent.solve(e, new float[N * N], GradientDescent.Options.armijo(400), StoppingRule.NEVER,
                ProgressListener.NONE);
        SolverResult mom = GradientDescent.solve(e, new float[N * N], GradientDescent.Options.withMomentum(400, 0.9),
                StoppingRule.NEVER, ProgressListener.NONE);
        double errPlain = relErr(plain.x(), ref);
        double errMom = relErr(mom.x(), ref);
        assertTrue(errMom < 1e-3, "momentum GD vs CG: " + errMom);
        assertTrue(errMom < errPlain, "momentum (" + errMom + ") beats plain GD (" + errPlain + ") at equal iterations");
    }

    private static double[] cg(LinearOperator b, double mu, float[] rhs, int iterations) {
        int n = rhs.length;
        double[] x = new double[n];
        double[] r = new double[n];
        double[] p = new double[n];
        for (int i = 0; i < n; i++) {
            r[i] = rhs[i];
            p[i] = r[i];
        }
        double rr = dot(r, r);
        for (int it = 0; it < iterations && rr > 1e-24; it++) {
            float[] pf = new float[n];
            for (int i = 0; i < n; i++) {
                pf[i] = (float) p[i];
            }
            float[] ap = b.adjoint(b.apply(pf));
            double[] apd = new double[n];
            for (int i = 0; i < n; i++) {
                apd[i] = ap[i] + mu * p[i];
            }
            double alpha = rr / dot(p, apd);
            for (int i = 0; i < n; i++) {
                x[i] += alpha * p[i];
                r[i] -= alpha * apd[i];
            }
            double rrNew = dot(r, r);
            for (int i = 0; i < n; i++) {
                p[i] = r[i] + rrNew / rr * p[i];
            }
            rr = rrNew;
        }
        return x;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    @Test
    void stoppingRulesEndTheSolveWithoutLookingAtATruth() {
        float[] y = noisyPhantom(2);
        SolverResult r = Pdhg.solve(Functionals.squaredDistance(y, 1), Functionals.l21(0.1, 2), new Gradient(N, N), y,
                Pdhg.Options.iterations(5000), StoppingRule.below("relativeChange", 1e-4), ProgressListener.NONE);
        assertTrue(r.stoppedEarly() && r.iterations() < 5000, "stopped at " + r.iterations());
        AtomicBoolean stop = new AtomicBoolean();
        int[] seen = {0};
        SolverResult s = Pdhg.solve(Functionals.squaredDistance(y, 1), Functionals.l21(0.1, 2), new Gradient(N, N), y,
                Pdhg.Options.iterations(5000), StoppingRule.flag(stop), p -> {
                    if (++seen[0] == 17) {
                        stop.set(true);
                    }
                });
        assertEquals(17, s.iterations());
        assertFalse(Pdhg.solve(Functionals.squaredDistance(y, 1), Functionals.l21(0.1, 2), new Gradient(N, N), y,
                Pdhg.Options.iterations(5), StoppingRule.NEVER, ProgressListener.NONE).stoppedEarly());
    }

    @Test
    void badInputsFailWithClearMessages() {
        float[] y = noisyPhantom(3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Pdhg.solve(Functionals.squaredDistance(y, 1),
                Functionals.l21(0.1, 2), new Gradient(N, N), new float[5], Pdhg.Options.iterations(5), StoppingRule.NEVER,
                ProgressListener.NONE));
        assertTrue(e.getMessage().contains("initial point has 5 values, expected 576"), e.getMessage());
        float[] nan = y.clone();
        nan[3] = Float.NaN;
        e = assertThrows(IllegalArgumentException.class, () -> Pdhg.solve(Functionals.squaredDistance(y, 1), Functionals.l21(0.1, 2),
                new Gradient(N, N), nan, Pdhg.Options.iterations(5), StoppingRule.NEVER, ProgressListener.NONE));
        assertTrue(e.getMessage().contains("non-finite value (NaN) at index 3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Pdhg.Options.iterations(0));
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.ssim(y, nan, N, N));
    }
}
