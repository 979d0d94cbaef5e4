package io.proxstream.solvers.sae;

/** Starting points for {@code b_dec}: the mean or the geometric median of a batch of rows. */
public final class DecoderBias {
    private DecoderBias() {
    }

    /** Column means of {@code rows × d} values. */
    public static float[] mean(float[] x, int rows, int d) {
        double[] s = new double[d];
        for (int b = 0; b < rows; b++) {
            for (int t = 0; t < d; t++) {
                s[t] += x[b * d + t];
            }
        }
        float[] out = new float[d];
        for (int t = 0; t < d; t++) {
            out[t] = (float) (s[t] / rows);
        }
        return out;
    }

    /**
     * The geometric median {@code argmin_y Σ_b ‖x_b − y‖} by Weiszfeld's iteration from the mean,
     * stopping when the step is below {@code tol} times the data's scale. A point that coincides
     * with the iterate is skipped in that step (the usual safeguard; the objective still falls).
     */
    public static float[] geometricMedian(float[] x, int rows, int d, int maxIterations, double tol) {
        double[] y = new double[d];
        float[] m = mean(x, rows, d);
        double scale = 0;
        for (int t = 0; t < d; t++) {
            y[t] = m[t];
        }
        for (int b = 0; b < rows; b++) {
            double r = 0;
            for (int t = 0; t < d; t++) {
                double v = x[b * d + t] - y[t];
                r += v * v;
            }
            scale = Math.max(scale, Math.sqrt(r));
        }
        double[] num = new double[d];
        for (int it = 0; it < maxIterations; it++) {
            java.util.Arrays.fill(num, 0);
            double den = 0;
            for (int b = 0; b < rows; b++) {
                double r = 0;
                for (int t = 0; t < d; t++) {
                    double v = x[b * d + t] - y[t];
                    r += v * v;
                }
                r = Math.sqrt(r);
                if (r < 1e-12 * Math.max(scale, 1e-300)) {
                    continue;
                }
                den += 1 / r;
                for (int t = 0; t < d; t++) {
                    num[t] += x[b * d + t] / r;
                }
            }
            if (den == 0) {
                break;
            }
            double step = 0;
            for (int t = 0; t < d; t++) {
                double v = num[t] / den;
                step += (v - y[t]) * (v - y[t]);
                y[t] = v;
            }
            if (Math.sqrt(step) <= tol * Math.max(scale, 1e-300)) {
                break;
            }
        }
        float[] out = new float[d];
        for (int t = 0; t < d; t++) {
            out[t] = (float) y[t];
        }
        return out;
    }
}
