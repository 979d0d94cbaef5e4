package io.proxstream.solvers.spline;

import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.linalg.Gemm;
import io.proxstream.solvers.parallel.Parallel;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * k-means by Lloyd's iterations from a seeded k-means++ start (Arthur and Vassilvitskii 2007).
 *
 * <p>Each iteration assigns every point to its nearest centroid (squared distances from one GEMM,
 * {@code ‖x‖² − 2x·c + ‖c‖²}, then an exact re-check of the winner in double) and moves every
 * centroid to the mean of its points. A cluster that loses all its points is re-seeded at the point
 * farthest from its centroid, which lowers the objective too; so the objective never increases,
 * and the iterations stop when no assignment changes (or at the iteration cap).
 */
public final class KMeans {

    /**
     * A fitted clustering.
     *
     * @param centroids  {@code k × d}, row-major
     * @param assignment cluster of every training point
     * @param objective  Σ‖x − c(x)‖² after the initialisation and after each iteration
     * @param converged  true if the last iteration changed no assignment
     */
    public record Result(float[] centroids, int k, int dim, int[] assignment, double[] objective, boolean converged) {
        public int iterations() {
            return objective.length - 1;
        }

        /** The final objective divided by the number of points. */
        public double meanSquaredDistance() {
            return objective[objective.length - 1] / assignment.length;
        }
    }

    private KMeans() {
    }

    /** Fits k clusters to the rows of {@code data}. */
    public static Result fit(Dataset data, int k, int maxIterations, long seed) {
        int n = data.rows();
        int d = data.dim();
        if (k < 1 || k > n) {
            throw new IllegalArgumentException("k must be in [1, rows=" + n + "], got " + k);
        }
        if (maxIterations < 0) {
            throw new IllegalArgumentException("maxIterations must be >= 0, got " + maxIterations);
        }
        float[] x = data.data();
        float[] c = plusPlus(data, k, new SplittableRandom(seed));
        int[] assign = new int[n];
        Arrays.fill(assign, -1);
        double[] dist = new double[n];
        double[] history = new double[maxIterations + 1];
        assignAll(x, n, d, c, k, assign, dist);
        history[0] = sum(dist);
        int it = 0;
        boolean converged = false;
        while (it < maxIterations) {
            it++;
            update(x, n, d, c, k, assign, dist);
            int changed = assignAll(x, n, d, c, k, assign, dist);
            history[it] = sum(dist);
            if (changed == 0) {
                converged = true;
                break;
            }
        }
        return new Result(c, k, d, assign, Arrays.copyOf(history, it + 1), converged);
    }

    /** k-means++ seeding: the first centre uniformly, each next one with probability ∝ D(x)². */
    static float[] plusPlus(Dataset data, int k, SplittableRandom rnd) {
        int n = data.rows();
        int d = data.dim();
        float[] x = data.data();
        float[] c = new float[k * d];
        int first = rnd.nextInt(n);
        System.arraycopy(x, first * d, c, 0, d);
        double[] best = new double[n];
        for (int i = 0; i < n; i++) {
            best[i] = sq(x, i * d, c, 0, d);
        }
        for (int j = 1; j < k; j++) {
            double total = sum(best);
            int pick;
            if (total <= 0) {
                pick = rnd.nextInt(n);
            } else {
                double u = rnd.nextDouble() * total;
                pick = n - 1;
                double acc = 0;
                for (int i = 0; i < n; i++) {
                    acc += best[i];
                    if (acc >= u) {
                        pick = i;
                        break;
                    }
                }
            }
            System.arraycopy(x, pick * d, c, j * d, d);
            int jj = j;
            Parallel.forRange(n, 256, (from, to) -> {
                for (int i = from; i < to; i++) {
                    best[i] = Math.min(best[i], sq(x, i * d, c, jj * d, d));
                }
            });
        }
        return c;
    }

    /** Assigns every point to its nearest centroid; returns the number of changed assignments. */
    static int assignAll(float[] x, int n, int d, float[] c, int k, int[] assign, double[] dist) {
        int chunk = 2048;
        float[] dots = new float[Math.min(n, chunk) * k];
        double[] cn = new double[k];
        for (int j = 0; j < k; j++) {
            cn[j] = sq(c, j * d, new float[d], 0, d);
        }
        int changed = 0;
        for (int from = 0; from < n; from += chunk) {
            int rows = Math.min(chunk, n - from);
            float[] block = Arrays.copyOfRange(x, from * d, (from + rows) * d);
            Gemm.abT(block, rows, c, k, d, dots);
            int base = from;
            int[] changes = new int[1];
            Parallel.forRange(rows, 64, (lo, hi) -> {
                int local = 0;
                for (int r = lo; r < hi; r++) {
                    int bestJ = 0;
                    double bestV = Double.POSITIVE_INFINITY;
                    for (int j = 0; j < k; j++) {
                        double v = cn[j] - 2.0 * dots[r * k + j];
                        if (v < bestV) {
                            bestV = v;
                            bestJ = j;
                        }
                    }
                    int i = base + r;
                    // the GEMM shortcut can mis-order near-ties in float: keep the old centroid unless the new one is
                    // better in exact double arithmetic (this also makes the objective monotone)
                    int old = assign[i];
                    double dNew = sq(x, i * d, c, bestJ * d, d);
                    if (old >= 0 && old != bestJ) {
                        double dOld = sq(x, i * d, c, old * d, d);
                        if (dOld <= dNew) {
                            bestJ = old;
                            dNew = dOld;
                        }
                    }
                    if (bestJ != old) {
                        local++;
                    }
                    assign[i] = bestJ;
                    dist[i] = dNew;
                }
                synchronized (changes) {
                    changes[0] += local;
                }
            });
            changed += changes[0];
        }
        return changed;
    }

    /** Moves each centroid to the mean of its points; empty clusters restart at the farthest point. */
    static void update(float[] x, int n, int d, float[] c, int k, int[] assign, double[] dist) {
        double[] sums = new double[k * d];
        int[] counts = new int[k];
        for (int i = 0; i < n; i++) {
            int j = assign[i];
            counts[j]++;
            for (int t = 0; t < d; t++) {
                sums[j * d + t] += x[i * d + t];
            }
        }
        for (int j = 0; j < k; j++) {
            if (counts[j] > 0) {
                for (int t = 0; t < d; t++) {
                    c[j * d + t] = (float) (sums[j * d + t] / counts[j]);
                }
            }
        }
        for (int j = 0; j < k; j++) {
            if (counts[j] == 0) {
                int far = 0;
                for (int i = 1; i < n; i++) {
                    if (dist[i] > dist[far]) {
                        far = i;
                    }
                }
                System.arraycopy(x, far * d, c, j * d, d);
                dist[far] = 0;
            }
        }
    }

    /** Index of the centroid nearest to {@code x[offset ..]} (exact, double). */
    public static int nearest(float[] centroids, int k, int d, float[] x, int offset) {
        int best = 0;
        double bestV = Double.POSITIVE_INFINITY;
        for (int j = 0; j < k; j++) {
            double v = sq(x, offset, centroids, j * d, d);
            if (v < bestV) {
                bestV = v;
                best = j;
            }
        }
        return best;
    }

    static double sq(float[] a, int ao, float[] b, int bo, int d) {
        double s = 0;
        for (int t = 0; t < d; t++) {
            double v = (double) a[ao + t] - b[bo + t];
            s += v * v;
        }
        return s;
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s;
    }
}
