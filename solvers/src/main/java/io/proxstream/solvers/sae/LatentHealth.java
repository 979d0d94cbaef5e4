package io.proxstream.solvers.sae;

import io.proxstream.solvers.linalg.Gemm;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The latent-health figures SAE users watch besides the loss, measured on held-out rows (the model
 * is only read):
 * <ul>
 *   <li>the <b>firing-density distribution</b>: for each latent the fraction of rows on which it is
 *       non-zero, binned by {@code floor(log10 density)} into the buckets −7 (everything below 1e−6)
 *       … −1 ([0.1, 1]), plus a bucket for latents that fire on none of the rows. With n rows the
 *       smallest non-zero density is 1/n, so n bounds the resolution: 4 096 rows resolve 2.4e−4;
 *       sparser latents land in "none". This is the "feature density" histogram of SAELens, as a
 *       snapshot;</li>
 *   <li><b>dense latents</b>: latents whose density exceeds a set fraction (10 % by default);</li>
 *   <li><b>shrinkage</b>: the mean over rows of ‖x̂‖/‖x‖ (rows with x = 0 skipped); below 1 when the
 *       code shrinks the reconstruction, as an L1 penalty does;</li>
 *   <li>the decoder atoms' <b>maximum pairwise cosine similarity</b> (signed; near 1 means two atoms
 *       duplicate one feature). All m(m−1)/2 pairs are compared, blockwise, when that costs at most
 *       {@code cosineFlops} (2·m²·d); beyond that a random sample of S atoms is compared with all m,
 *       S = cosineFlops/(2·m·d), so the figure is then a lower bound of the maximum
 *       ({@link Result#cosineAtoms()} &lt; m says so). Atoms of zero norm are left out;</li>
 *   <li>the held-out reconstruction: MSE, FVU (against the rows' own mean) and L0.</li>
 * </ul>
 */
public final class LatentHealth {
    /** Lowest bucket: floor(log10 density) is clamped to [{@value}, −1]. */
    public static final int MIN_LOG10 = -7;
    /** Buckets: index 0 = fired on no row, index i ≥ 1 = floor(log10 density) = MIN_LOG10 + i − 1. */
    public static final int BUCKETS = -MIN_LOG10 + 1;
    /** Default flop budget of the cosine scan: exact up to m ≈ 8 000 at d = 768. */
    public static final double DEFAULT_COSINE_FLOPS = 1e11;

    private LatentHealth() {
    }

    /**
     * @param denseFraction a latent firing on more than this fraction of rows is dense
     * @param cosineFlops   flop budget of the cosine scan (see the class comment)
     * @param seed          seed of the atom sample when the scan is sampled
     */
    public record Settings(double denseFraction, double cosineFlops, long seed) {
        public Settings {
            if (!(denseFraction > 0 && denseFraction < 1)) {
                throw new IllegalArgumentException("denseFraction must be in (0, 1), got " + denseFraction);
            }
            if (!(cosineFlops > 0)) {
                throw new IllegalArgumentException("cosineFlops must be > 0, got " + cosineFlops);
            }
        }

        public static Settings defaults() {
            return new Settings(0.1, DEFAULT_COSINE_FLOPS, 1);
        }
    }

    /**
     * @param rows        held-out rows evaluated
     * @param buckets     latents per density bucket (see {@link #BUCKETS}); sums to m
     * @param dense       latents firing on more than the dense fraction of rows
     * @param shrinkage   mean ‖x̂‖/‖x‖ over rows with x ≠ 0 (NaN without such rows)
     * @param maxCosine   largest cosine similarity between two distinct atoms compared (NaN with fewer than two)
     * @param cosineAtoms atoms compared against all others: m when exact, the sample size otherwise
     * @param mse         Σ‖x̂ − x‖²/(n·d)
     * @param fvu         Σ‖x̂ − x‖²/Σ‖x − x̄‖²
     * @param l0          mean non-zeros per row
     */
    public record Result(int rows, long[] buckets, int dense, double shrinkage, double maxCosine, int cosineAtoms,
                         double mse, double fvu, double l0) {
        /** The label of bucket {@code i}: "none" or the exponent ("-7" … "-1"). */
        public static String label(int i) {
            return i == 0 ? "none" : Integer.toString(MIN_LOG10 + i - 1);
        }

        /** The labels of all buckets, in order. */
        public static String[] labels() {
            String[] l = new String[BUCKETS];
            for (int i = 0; i < BUCKETS; i++) {
                l[i] = label(i);
            }
            return l;
        }

        /** Latents that fired on none of the rows. */
        public long silent() {
            return buckets[0];
        }
    }

    /** The bucket of a latent that fired on {@code fired} of {@code rows} rows. */
    public static int bucket(long fired, long rows) {
        if (fired <= 0) {
            return 0;
        }
        // floor(log10(fired/rows)) computed exactly in integers: the largest e with 10^e <= fired/rows
        int e = -1;
        long scaled = fired * 10; // fired/rows >= 1/10  <=>  fired*10 >= rows
        while (e > MIN_LOG10 && scaled < rows) {
            e--;
            if (scaled > Long.MAX_VALUE / 10) {
                break;
            }
            scaled *= 10;
        }
        return e - MIN_LOG10 + 1;
    }

    /**
     * Evaluates {@code model} on {@code n} rows of {@code x} ({@code n × d}, row-major), {@code batch}
     * rows at a time. Allocates its own encoder product (freed before returning), so it can run
     * beside a trainer on the same thread.
     */
    public static Result evaluate(SaeModel model, float[] x, int n, int batch, Settings settings) {
        int d = model.spec().inputDim();
        int m = model.spec().latents();
        if ((long) n * d > x.length) {
            throw new IllegalArgumentException("held-out rows: " + x.length + " values cannot hold " + n + " rows of width " + d);
        }
        if (batch <= 0) {
            throw new IllegalArgumentException("batch must be > 0, got " + batch);
        }
        long[] fired = new long[m];
        double sse = 0;
        double shrink = 0;
        long shrinkRows = 0;
        long nz = 0;
        double[] sum = new double[d];
        double sq = 0;
        float[] buf = new float[Math.min(batch, Math.max(n, 1)) * d];
        try (SparseStep step = new SparseStep(model.spec())) {
            for (int from = 0; from < n; from += batch) {
                int rows = Math.min(n, from + batch) - from;
                System.arraycopy(x, from * d, buf, 0, rows * d);
                step.forward(model, buf, rows);
                sse += step.sse();
                SparseCodes c = step.codes();
                for (int e = 0, entries = c.entries(); e < entries; e++) {
                    if (c.value(e) != 0f) {
                        fired[c.index(e)]++;
                        nz++;
                    }
                }
                float[] r = step.residuals();
                for (int b = 0; b < rows; b++) {
                    double xx = 0;
                    double hh = 0;
                    for (int i = 0, o = b * d; i < d; i++, o++) {
                        double xi = buf[o];
                        double hi = r[o] + xi; // x̂ = (x̂ − x) + x
                        xx += xi * xi;
                        hh += hi * hi;
                        sum[i] += xi;
                    }
                    sq += xx;
                    if (xx > 0) {
                        shrink += Math.sqrt(hh / xx);
                        shrinkRows++;
                    }
                }
            }
        }
        long[] buckets = new long[BUCKETS];
        int dense = 0;
        for (long f : fired) {
            buckets[bucket(f, n)]++;
            if (f > settings.denseFraction() * n) {
                dense++;
            }
        }
        double mean2 = 0;
        for (double s : sum) {
            mean2 += s * s;
        }
        double centred = n == 0 ? 0 : sq - mean2 / n;
        double[] cos = maxCosine(model.decoderWeights(), m, d, settings.cosineFlops(), settings.seed());
        return new Result(n, buckets, dense, shrinkRows == 0 ? Double.NaN : shrink / shrinkRows, cos[0], (int) cos[1],
                n == 0 ? Double.NaN : sse / ((double) n * d), centred > 0 ? sse / centred : Double.NaN,
                n == 0 ? Double.NaN : (double) nz / n);
    }

    /**
     * The largest cosine similarity between two distinct non-zero rows of {@code atoms} ({@code m × d}):
     * all pairs when {@code 2·m²·d ≤ flops}, else a random sample of rows against all rows. Returns
     * {max, rows compared against all}.
     */
    public static double[] maxCosine(float[] atoms, int m, int d, double flops, long seed) {
        double[] norm = new double[m];
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int i = 0, o = j * d; i < d; i++, o++) {
                s += (double) atoms[o] * atoms[o];
            }
            norm[j] = Math.sqrt(s);
        }
        int[] probe;
        if (2.0 * m * (double) m * d <= flops) {
            probe = new int[m];
            Arrays.setAll(probe, j -> j);
        } else {
            int s = (int) Math.max(1, Math.min(m, Math.floor(flops / (2.0 * m * d))));
            probe = sample(m, s, new SplittableRandom(seed));
        }
        // blocks of probes (rows) against blocks of all atoms (columns), each product at most ~4M floats
        int cb = Math.max(1, Math.min(m, 2048));
        int rb = Math.max(1, Math.min(probe.length, (1 << 22) / cb));
        float[] left = new float[rb * d];
        float[] right = new float[cb * d];
        float[] out = new float[rb * cb];
        double best = Double.NEGATIVE_INFINITY;
        for (int p0 = 0; p0 < probe.length; p0 += rb) {
            int pr = Math.min(probe.length, p0 + rb) - p0;
            for (int a = 0; a < pr; a++) {
                System.arraycopy(atoms, probe[p0 + a] * d, left, a * d, d);
            }
            for (int c0 = 0; c0 < m; c0 += cb) {
                int cc = Math.min(m, c0 + cb) - c0;
                System.arraycopy(atoms, c0 * d, right, 0, cc * d);
                Gemm.sgemm(false, true, pr, cc, d, 1f, left, d, right, d, 0f, out, cc);
                for (int a = 0; a < pr; a++) {
                    int i = probe[p0 + a];
                    if (norm[i] == 0) {
                        continue;
                    }
                    for (int b = 0; b < cc; b++) {
                        int j = c0 + b;
                        if (j == i || norm[j] == 0) {
                            continue;
                        }
                        double cs = out[a * cc + b] / (norm[i] * norm[j]);
                        if (cs > best) {
                            best = cs;
                        }
                    }
                }
            }
        }
        return new double[] {best == Double.NEGATIVE_INFINITY ? Double.NaN : Math.min(1.0, best), probe.length};
    }

    /** {@code s} distinct indices of [0, m), sorted (a partial Fisher–Yates shuffle). */
    static int[] sample(int m, int s, SplittableRandom rnd) {
        int[] all = new int[m];
        Arrays.setAll(all, j -> j);
        for (int i = 0; i < s; i++) {
            int j = i + rnd.nextInt(m - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        int[] out = Arrays.copyOf(all, s);
        Arrays.sort(out);
        return out;
    }
}
