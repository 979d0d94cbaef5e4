package io.proxstream.solvers.nn;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

/**
 * Numerical convexity checks along lines: a function is convex exactly when its restriction to
 * every line is, and a function of one variable sampled at equally spaced points is convex on
 * them when every second difference {@code f(t−s) − 2f(t) + f(t+s)} is ≥ 0. Rounding of float
 * networks is allowed for by a tolerance relative to the values' size.
 */
public final class Convexity {

    /** The outcome over all lines. */
    public record Report(int lines, int convexLines, double worstSecondDifference) {
        public double fraction() {
            return (double) convexLines / lines;
        }
    }

    private Convexity() {
    }

    /**
     * Checks {@code lines} random lines {@code c + t d}, c drawn from {@code centres}, d uniform in
     * [−1, 1]ⁿ scaled to ‖d‖ = {@code radius}·√n, t at {@code points} equally spaced values in
     * [−1, 1]. The worst second difference is reported relative to the largest |f| on its line.
     *
     * @param tolerance relative tolerance (e.g. 1e-5 for float32 networks)
     */
    public static Report alongLines(ToDoubleFunction<float[]> f, List<float[]> centres, int lines, double radius, int points,
                                    double tolerance, long seed) {
        if (centres.isEmpty() || lines < 1 || points < 3 || !(radius > 0)) {
            throw new IllegalArgumentException("convexity check: need centres, lines >= 1, points >= 3, radius > 0");
        }
        SplittableRandom r = new SplittableRandom(seed);
        int convex = 0;
        double worst = Double.POSITIVE_INFINITY;
        for (int l = 0; l < lines; l++) {
            float[] c = centres.get(r.nextInt(centres.size()));
            int n = c.length;
            double[] d = new double[n];
            double dn = 0;
            for (int i = 0; i < n; i++) {
                d[i] = r.nextDouble(-1, 1);
                dn += d[i] * d[i];
            }
            double scale = radius * Math.sqrt(n) / Math.sqrt(dn);
            double[] v = new double[points];
            double big = 0;
            float[] x = new float[n];
            for (int k = 0; k < points; k++) {
                double t = -1 + 2.0 * k / (points - 1);
                for (int i = 0; i < n; i++) {
                    x[i] = (float) (c[i] + t * scale * d[i]);
                }
                v[k] = f.applyAsDouble(x);
                big = Math.max(big, Math.abs(v[k]));
            }
            boolean ok = true;
            for (int k = 1; k < points - 1; k++) {
                double second = (v[k - 1] - 2 * v[k] + v[k + 1]) / Math.max(big, 1e-30);
                worst = Math.min(worst, second);
                if (second < -tolerance) {
                    ok = false;
                }
            }
            if (ok) {
                convex++;
            }
        }
        return new Report(lines, convex, worst);
    }
}
