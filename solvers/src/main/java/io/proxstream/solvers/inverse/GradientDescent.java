package io.proxstream.solvers.inverse;

import io.proxstream.solvers.progress.Progress;
import io.proxstream.solvers.progress.ProgressListener;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Gradient descent on a smooth energy with Armijo backtracking: from a trial step t (the previous
 * accepted step grown by {@code growth}), shrink t by {@code shrink} until
 * {@code E(x − t∇E) ≤ E(x) − c·t‖∇E‖²}. With {@code momentum > 0}, the step is taken from the
 * extrapolated point {@code x + β(x − x_prev)} (heavy-ball/Nesterov style), and the momentum is
 * reset whenever the energy goes up (adaptive restart, O'Donoghue and Candès 2015). This is how
 * adversarial-regulariser reconstructions are usually computed (Lunz et al. 2018).
 */
public final class GradientDescent {

    /**
     * @param iterations  iteration budget
     * @param initialStep first trial step (NaN: 1/L if the energy knows L, else 1)
     * @param armijo      sufficient-decrease constant c ∈ (0,1)
     * @param shrink      backtracking factor ∈ (0,1)
     * @param growth      trial-step growth after an accepted step (≥ 1)
     * @param momentum    β ∈ [0,1) (0 = plain gradient descent)
     */
    public record Options(int iterations, double initialStep, double armijo, double shrink, double growth, double momentum) {
        public Options {
            if (iterations <= 0) {
                throw new IllegalArgumentException("iterations must be positive, got " + iterations);
            }
            if (!(armijo > 0 && armijo < 1) || !(shrink > 0 && shrink < 1) || !(growth >= 1)) {
                throw new IllegalArgumentException("need 0 < armijo < 1, 0 < shrink < 1, growth >= 1");
            }
            if (!(momentum >= 0 && momentum < 1)) {
                throw new IllegalArgumentException("momentum must be in [0,1), got " + momentum);
            }
        }

        public static Options armijo(int iterations) {
            return new Options(iterations, Double.NaN, 1e-4, 0.5, 1.5, 0);
        }

        public static Options withMomentum(int iterations, double beta) {
            return new Options(iterations, Double.NaN, 1e-4, 0.5, 1.5, beta);
        }
    }

    private GradientDescent() {
    }

    public static SolverResult solve(Functional energy, float[] x0, Options o, StoppingRule stop, ProgressListener listener) {
        return solve(energy, x0, o, stop, listener, IterateListener.NONE);
    }

    /** As above, showing {@code iterates} the iterate after every iteration. */
    public static SolverResult solve(Functional energy, float[] x0, Options o, StoppingRule stop, ProgressListener listener,
                                     IterateListener iterates) {
        Objects.requireNonNull(iterates, "iterates");
        if (!energy.isSmooth()) {
            throw new IllegalArgumentException("gradient descent needs a smooth energy");
        }
        int n = x0.length;
        Vectors.requireFinite("initial point", x0);
        long t0 = System.nanoTime();
        double step = o.initialStep();
        if (Double.isNaN(step)) {
            double l;
            try {
                l = energy.lipschitz();
            } catch (UnsupportedOperationException e) {
                l = 1;
            }
            step = l > 0 ? 1 / l : 1;
        }
        float[] x = x0.clone();
        float[] xPrev = x0.clone();
        float[] z = new float[n];
        float[] g = new float[n];
        float[] trial = new float[n];
        double ex = energy.value(x);
        Progress last = null;
        int it = 0;
        boolean early = false;
        double beta = o.momentum();
        while (it < o.iterations()) {
            it++;
            // extrapolated point (x itself without momentum)
            for (int i = 0; i < n; i++) {
                z[i] = x[i] + (float) beta * (x[i] - xPrev[i]);
            }
            double ez = beta > 0 ? energy.value(z) : ex;
            energy.gradient(z, g);
            double g2 = Vectors.normSquared(g);
            double t = step * o.growth();
            double et;
            int backtracks = 0;
            while (true) {
                Vectors.axpy(z, (float) -t, g, trial);
                et = energy.value(trial);
                if (et <= ez - o.armijo() * t * g2 || t < 1e-20) {
                    break;
                }
                t *= o.shrink();
                backtracks++;
            }
            step = t;
            System.arraycopy(x, 0, xPrev, 0, n);
            boolean restarted = false;
            if (beta > 0 && et > ex) {
                // the momentum step went uphill: restart from x with a plain step next time
                System.arraycopy(x, 0, xPrev, 0, n);
                restarted = true;
            } else {
                System.arraycopy(trial, 0, x, 0, n);
                ex = et;
            }
            double change = restarted ? Double.NaN : Vectors.distance(x, xPrev);
            Map<String, Double> s = new LinkedHashMap<>();
            s.put("gradientNorm", Math.sqrt(g2));
            s.put("step", t);
            s.put("backtracks", (double) backtracks);
            s.put("criticalResidual", Math.sqrt(g2));
            s.put("relativeChange", change / Math.max(Vectors.norm(x), 1e-30));
            s.put("restart", restarted ? 1.0 : 0.0);
            last = new Progress(it, ex, s);
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
