package io.proxstream.solvers.spline;

import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.linalg.Lapack;
import io.proxstream.solvers.parallel.Parallel;

/**
 * The k-means + local-PCA autoencoder, piecewise affine: the cells are the Voronoi cells of a
 * k-means clustering; on cell c with centroid μ_c and the top-r principal directions U_c of the
 * cell's training points (about μ_c), {@code x̂ = μ_c + U_c U_cᵀ (x − μ_c)}.
 *
 * <p>The code of a point is its cell index and r coefficients. With r = 0 this is the k-means
 * autoencoder; with r ≥ d every U_c is a complete basis and the reconstruction is exact. A cell
 * with fewer than r + 1 points has fewer than r directions with variance; the missing ones are left
 * out (they would be arbitrary). The principal directions come from the smaller of the two Gram
 * matrices (d × d, or n_c × n_c when the cell has fewer points than dimensions), by LAPACK's
 * {@code dsyevd} in double.
 */
public final class LocalPcaAutoencoder implements Autoencoder {
    private final float[] centroids;
    private final int k;
    private final int d;
    private final int rank;
    /** Per cell: {@code ranks[c] × d} orthonormal directions, row-major. */
    private final float[][] bases;

    private LocalPcaAutoencoder(float[] centroids, int k, int d, int rank, float[][] bases) {
        this.centroids = centroids;
        this.k = k;
        this.d = d;
        this.rank = rank;
        this.bases = bases;
    }

    /** Fits the local bases of rank {@code rank} to the cells of {@code clustering} on {@code data}. */
    public static LocalPcaAutoencoder fit(Dataset data, KMeans.Result clustering, int rank) {
        int d = data.dim();
        int k = clustering.k();
        if (clustering.dim() != d || clustering.assignment().length != data.rows()) {
            throw new IllegalArgumentException("the clustering was not fitted to this data set");
        }
        if (rank < 0) {
            throw new IllegalArgumentException("rank must be >= 0, got " + rank);
        }
        float[] c = clustering.centroids().clone();
        float[][] bases = new float[k][];
        if (rank >= d) {
            float[] identity = new float[d * d];
            for (int t = 0; t < d; t++) {
                identity[t * d + t] = 1f;
            }
            java.util.Arrays.fill(bases, identity);
            return new LocalPcaAutoencoder(c, k, d, d, bases);
        }
        int[] assign = clustering.assignment();
        int[] counts = new int[k];
        for (int a : assign) {
            counts[a]++;
        }
        int[][] members = new int[k][];
        for (int j = 0; j < k; j++) {
            members[j] = new int[counts[j]];
        }
        int[] fill = new int[k];
        for (int i = 0; i < assign.length; i++) {
            members[assign[i]][fill[assign[i]]++] = i;
        }
        float[] x = data.data();
        Parallel.forRange(k, 1, (from, to) -> {
            for (int j = from; j < to; j++) {
                bases[j] = rank == 0 ? new float[0] : principalDirections(x, d, members[j], c, j * d, rank);
            }
        });
        return new LocalPcaAutoencoder(c, k, d, rank, bases);
    }

    /** Top-r principal directions (rows) of the points {@code idx} about {@code centre}. */
    static float[] principalDirections(float[] x, int d, int[] idx, float[] centre, int co, int r) {
        int n = idx.length;
        if (n == 0) {
            return new float[0];
        }
        double[] xc = new double[n * d];
        for (int p = 0; p < n; p++) {
            for (int t = 0; t < d; t++) {
                xc[p * d + t] = (double) x[idx[p] * d + t] - centre[co + t];
            }
        }
        boolean gramOfPoints = n < d;
        int g = gramOfPoints ? n : d;
        double[] a = new double[g * g];
        if (gramOfPoints) {
            for (int p = 0; p < n; p++) {
                for (int q = 0; q <= p; q++) {
                    double s = 0;
                    for (int t = 0; t < d; t++) {
                        s += xc[p * d + t] * xc[q * d + t];
                    }
                    a[p * g + q] = s;
                    a[q * g + p] = s;
                }
            }
        } else {
            for (int p = 0; p < n; p++) {
                int o = p * d;
                for (int s = 0; s < d; s++) {
                    double v = xc[o + s];
                    if (v == 0) {
                        continue;
                    }
                    for (int t = 0; t <= s; t++) {
                        a[s * g + t] += v * xc[o + t];
                    }
                }
            }
        }
        double[] w = new double[g];
        Lapack.syevd(a, g, w);
        double tol = 1e-10 * Math.max(1e-300, w[g - 1]);
        int kept = 0;
        float[] out = new float[Math.min(r, g) * d];
        for (int e = g - 1; e >= 0 && kept < r; e--) {
            if (w[e] <= tol) {
                break;
            }
            double norm = 0;
            double[] u = new double[d];
            if (gramOfPoints) {
                // u = Xcᵀ v / ‖Xcᵀ v‖
                for (int p = 0; p < n; p++) {
                    double vp = a[p * g + e];
                    for (int t = 0; t < d; t++) {
                        u[t] += vp * xc[p * d + t];
                    }
                }
            } else {
                for (int t = 0; t < d; t++) {
                    u[t] = a[t * g + e];
                }
            }
            for (double v : u) {
                norm += v * v;
            }
            norm = Math.sqrt(norm);
            for (int t = 0; t < d; t++) {
                out[kept * d + t] = (float) (u[t] / norm);
            }
            kept++;
        }
        return java.util.Arrays.copyOf(out, kept * d);
    }

    @Override
    public int dim() {
        return d;
    }

    public int cells() {
        return k;
    }

    public int rank() {
        return rank;
    }

    /** Directions actually held by cell c (≤ rank). */
    public int rankOf(int c) {
        return bases[c].length / d;
    }

    @Override
    public int cell(float[] x, int offset) {
        return KMeans.nearest(centroids, k, d, x, offset);
    }

    @Override
    public void reconstruct(float[] x, int offset, float[] out, int outOffset) {
        int c = cell(x, offset);
        float[] u = bases[c];
        int r = u.length / d;
        int co = c * d;
        System.arraycopy(centroids, co, out, outOffset, d);
        for (int q = 0; q < r; q++) {
            double coef = 0;
            for (int t = 0; t < d; t++) {
                coef += (double) u[q * d + t] * ((double) x[offset + t] - centroids[co + t]);
            }
            for (int t = 0; t < d; t++) {
                out[outOffset + t] += (float) (coef * u[q * d + t]);
            }
        }
    }
}
