package io.proxstream.actors.experiments;

import java.util.Locale;
import org.apache.commons.math3.distribution.TDistribution;

/**
 * The mean of paired differences a_i − b_i with its two-sided 95 % Student-t interval
 * (n − 1 degrees of freedom): the comparison of two methods run on the same seeds or images.
 *
 * @param n    number of pairs
 * @param mean mean difference
 * @param low  lower end of the 95 % interval (NaN for a single pair)
 * @param high upper end of the 95 % interval (NaN for a single pair)
 */
public record PairedDifference(int n, double mean, double low, double high) {

    /** The paired difference of equally long arrays {@code a} and {@code b} (at least one pair, all finite). */
    public static PairedDifference of(double[] a, double[] b) {
        if (a.length != b.length || a.length == 0) {
            throw new IllegalArgumentException("paired difference needs two equally long, non-empty arrays, got " + a.length + " and "
                    + b.length);
        }
        int n = a.length;
        double[] d = new double[n];
        double mean = 0;
        for (int i = 0; i < n; i++) {
            d[i] = a[i] - b[i];
            if (!Double.isFinite(d[i])) {
                throw new IllegalArgumentException("pair " + i + " is not finite: " + a[i] + " - " + b[i]);
            }
            mean += d[i];
        }
        mean /= n;
        if (n == 1) {
            return new PairedDifference(1, mean, Double.NaN, Double.NaN);
        }
        double ss = 0;
        for (double v : d) {
            ss += (v - mean) * (v - mean);
        }
        double se = Math.sqrt(ss / (n - 1) / n);
        double t = new TDistribution(null, n - 1).inverseCumulativeProbability(0.975);
        return new PairedDifference(n, mean, mean - t * se, mean + t * se);
    }

    /** Whether the interval excludes zero (a difference the pairs resolve). */
    public boolean resolved() {
        return n > 1 && (low > 0 || high < 0);
    }

    /** "−0.0054 [−0.0086, −0.0022]" with {@code digits} significant digits. */
    public String format(int digits) {
        String f = "%." + digits + "g";
        return n > 1 ? String.format(Locale.ROOT, f + " [" + f + ", " + f + "]", mean, low, high)
                : String.format(Locale.ROOT, f + " (one pair, no interval)", mean);
    }
}
