package io.proxstream.solvers.graph;

import io.proxstream.solvers.linalg.Gemm;
import io.proxstream.solvers.linalg.Lapack;
import io.proxstream.solvers.parallel.Parallel;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The K smallest eigenpairs of the symmetric normalised Laplacian {@code L_s = I − D^{-1/2} W D^{-1/2}}
 * of the fully connected Gaussian graph {@code w_ij = exp(−‖z_i − z_j‖²/σ²)} on feature vectors,
 * without forming the n × n matrix (spec/graph.md).
 *
 * <p>Nyström: m nodes S sampled uniformly (seeded), {@code C = W_{·S}} (n × m) and {@code W_SS};
 * {@code W ≈ C W_SS⁺ Cᵀ}. Degrees {@code d ≈ C (W_SS⁺ (Cᵀ 1))}, {@code Ĉ = D^{-1/2} C}.
 * <ul>
 *   <li>{@link Method#QR}: thin Householder QR {@code Ĉ = Q R} (LAPACK {@code sgeqrf}), the small
 *       eigenproblem {@code R W_SS⁺ Rᵀ = Φ Λ Φᵀ} (double), eigenvectors {@code Q Φ} (applied by
 *       {@code sormqr}), Laplacian eigenvalues {@code 1 − Λ}.</li>
 *   <li>{@link Method#ONE_SHOT}: the older orthogonalisation of Fowlkes et al. (2004):
 *       {@code S = W_SS^{+½} ĈᵀĈ W_SS^{+½} = U Λ Uᵀ}, eigenvectors {@code Ĉ W_SS^{+½} U Λ^{-½}}. The same
 *       in exact arithmetic; forming ĈᵀĈ squares the condition number.</li>
 * </ul>
 * The pseudo-inverse drops eigenvalues of {@code W_SS} below {@code rcond} times the largest.
 * Degrees the approximation makes non-positive are raised to a small positive floor and counted.
 */
public final class Nystrom {
    private Nystrom() {
    }

    /** How the approximate eigenvectors are orthogonalised. */
    public enum Method {
        QR, ONE_SHOT
    }

    /**
     * @param samples  m, nodes sampled
     * @param k        eigenpairs kept (the K smallest Laplacian eigenvalues), K ≤ m
     * @param sigma    kernel width; NaN: the heuristic of {@link #sigmaHeuristic}
     * @param seed     sampling seed
     * @param method   orthogonalisation
     * @param rcond    relative cut-off of the pseudo-inverse of W_SS
     */
    public record Options(int samples, int k, double sigma, long seed, Method method, double rcond) {
        public Options {
            if (samples < 2 || k < 1 || k > samples) {
                throw new IllegalArgumentException("need m >= 2 samples and 1 <= K <= m eigenpairs, got m=" + samples + ", K=" + k);
            }
            if (!(sigma > 0) && !Double.isNaN(sigma)) {
                throw new IllegalArgumentException("sigma must be positive (or NaN for the heuristic), got " + sigma);
            }
            if (!(rcond > 0 && rcond < 1)) {
                throw new IllegalArgumentException("rcond must be in (0, 1), got " + rcond);
            }
        }

        public static Options defaults(long seed) {
            return new Options(300, 50, Double.NaN, seed, Method.QR, 1e-7);
        }

        public Options withSeed(long s) {
            return new Options(samples, k, sigma, s, method, rcond);
        }

        public Options withMethod(Method m) {
            return new Options(samples, k, sigma, seed, m, rcond);
        }

        public Options withSigma(double s) {
            return new Options(samples, k, s, seed, method, rcond);
        }

        public Options withSizes(int m, int kk) {
            return new Options(m, kk, sigma, seed, method, rcond);
        }
    }

    /**
     * Eigenpairs of L_s.
     *
     * @param vectors      n × K, row-major ({@code vectors[i·K + j]}: node i of eigenvector j), orthonormal columns
     * @param values       the K Laplacian eigenvalues, ascending
     * @param sigma        the kernel width used
     * @param clampedDegrees degrees the approximation made non-positive
     * @param graphSeconds time for the kernel block C (and σ)
     * @param eigenSeconds time for degrees, orthogonalisation and the small eigenproblem
     */
    public record Eigen(float[] vectors, int n, int k, double[] values, double sigma, int clampedDegrees, double graphSeconds,
                        double eigenSeconds) {
        public double value(int j) {
            return values[j];
        }
    }

    /**
     * The documented default width: σ = ½ · RMS of ‖z_i − z_s‖ over the n × m block (sampled at up
     * to 20 000 entries, self-pairs excluded). The RMS is the scale of the feature distances and,
     * unlike a quantile, does not collapse to the noise level on images where most pairs are
     * nearly equal (which cut the graph into pieces); the factor ½ was chosen on noisy and clean
     * two-region images (accuracy 0.98–0.996 where the RMS itself gave 0.97–0.99 and 0.3 × RMS
     * 0.94–0.99).
     */
    public static double sigmaHeuristic(float[] sqDistColMajor, int n, int m, int[] sampled, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x9E3779B97F4A7C15L);
        int count = Math.min(20_000, n * m);
        double sum = 0;
        int got = 0;
        for (int t = 0; t < count * 4 && got < count; t++) {
            int i = r.nextInt(n);
            int b = r.nextInt(m);
            if (sampled[b] == i) {
                continue;
            }
            sum += sqDistColMajor[b * n + i];
            got++;
        }
        if (got == 0 || !(sum > 0)) {
            throw new IllegalArgumentException("cannot choose sigma: all sampled feature distances are zero (a constant image?)");
        }
        return 0.5 * Math.sqrt(sum / got);
    }

    /** The eigenpairs of the graph on {@code features} ({@code n × f}, row-major). */
    public static Eigen eigen(float[] features, int n, int f, Options o) {
        if (features.length != (long) n * f) {
            throw new IllegalArgumentException("features have " + features.length + " values, expected " + n + "x" + f);
        }
        int m = o.samples();
        if (m > n) {
            throw new IllegalArgumentException("cannot sample " + m + " of " + n + " nodes");
        }
        long t0 = System.nanoTime();
        int[] s = sample(n, m, o.seed());
        // squared distances, column-major n × m: column b holds ‖z_i − z_{s_b}‖² for all i
        float[] zs = new float[m * f];
        for (int b = 0; b < m; b++) {
            System.arraycopy(features, s[b] * f, zs, b * f, f);
        }
        float[] c = new float[n * m];
        // (m × n) row-major = n × m column-major: c = −2 Zs Zᵀ
        Gemm.sgemm(false, true, m, n, f, -2f, zs, f, features, f, 0f, c, n);
        float[] normZ = rowNorms(features, n, f);
        float[] normS = new float[m];
        for (int b = 0; b < m; b++) {
            normS[b] = normZ[s[b]];
        }
        Parallel.forRange(m, 1, (from, to) -> {
            for (int b = from; b < to; b++) {
                int o2 = b * n;
                float nb = normS[b];
                for (int i = 0; i < n; i++) {
                    c[o2 + i] = Math.max(0f, c[o2 + i] + normZ[i] + nb);
                }
            }
        });
        double sigma = Double.isNaN(o.sigma()) ? sigmaHeuristic(c, n, m, s, o.seed()) : o.sigma();
        float scale = (float) (-1 / (sigma * sigma));
        Parallel.forRange(m, 1, (from, to) -> {
            for (int b = from; b < to; b++) {
                int o2 = b * n;
                for (int i = 0; i < n; i++) {
                    c[o2 + i] = (float) Math.exp(c[o2 + i] * scale);
                }
            }
        });
        long t1 = System.nanoTime();

        // W_SS and its pseudo-inverse (and inverse square root) in double
        double[] wss = new double[m * m];
        for (int a = 0; a < m; a++) {
            for (int b = 0; b < m; b++) {
                wss[a * m + b] = 0.5 * (c[b * n + s[a]] + c[a * n + s[b]]);
            }
        }
        double[] ev = new double[m];
        Lapack.syevd(wss, m, ev);
        double cut = o.rcond() * Math.max(ev[m - 1], 0);
        double[] pinv = spectralFunction(wss, ev, m, cut, -1);

        // degrees d = C (W⁺ (Cᵀ 1))
        double[] colSum = new double[m];
        Parallel.forRange(m, 1, (from, to) -> {
            for (int b = from; b < to; b++) {
                double acc = 0;
                int o2 = b * n;
                for (int i = 0; i < n; i++) {
                    acc += c[o2 + i];
                }
                colSum[b] = acc;
            }
        });
        double[] t = new double[m];
        for (int a = 0; a < m; a++) {
            double acc = 0;
            for (int b = 0; b < m; b++) {
                acc += pinv[a * m + b] * colSum[b];
            }
            t[a] = acc;
        }
        double[] deg = new double[n];
        Parallel.forRange(n, 4096, (from, to) -> {
            for (int b = 0; b < m; b++) {
                int o2 = b * n;
                double tb = t[b];
                for (int i = from; i < to; i++) {
                    deg[i] += c[o2 + i] * tb;
                }
            }
        });
        double[] sortedDeg = deg.clone();
        Arrays.sort(sortedDeg);
        double floor = Math.max(1e-12, 1e-3 * Math.abs(sortedDeg[n / 2]));
        int clamped = 0;
        float[] dinv = new float[n];
        for (int i = 0; i < n; i++) {
            if (!(deg[i] > floor)) {
                clamped++;
                deg[i] = floor;
            }
            dinv[i] = (float) (1 / Math.sqrt(deg[i]));
        }
        Parallel.forRange(m, 1, (from, to) -> {
            for (int b = from; b < to; b++) {
                int o2 = b * n;
                for (int i = 0; i < n; i++) {
                    c[o2 + i] *= dinv[i];
                }
            }
        });

        int k = o.k();
        float[] vectors;
        double[] top;
        if (o.method() == Method.QR) {
            float[] tau = new float[m];
            Lapack.geqrf(c, n, m, tau);
            double[] r = new double[m * m];                       // R row-major, upper triangular
            for (int col = 0; col < m; col++) {
                for (int row = 0; row <= col; row++) {
                    r[row * m + col] = c[col * n + row];
                }
            }
            double[] small = sandwich(r, pinv, m);             // R W⁺ Rᵀ
            double[] lam = new double[m];
            Lapack.syevd(small, m, lam);
            top = new double[k];
            float[] phi = new float[n * k];                    // column-major n × K, top m rows = Φ_K
            for (int j = 0; j < k; j++) {
                int src = m - 1 - j;
                top[j] = lam[src];
                for (int a = 0; a < m; a++) {
                    phi[j * n + a] = (float) small[a * m + src];
                }
            }
            Lapack.ormqr(c, n, m, tau, phi, k);
            vectors = transpose(phi, n, k);
        } else {
            double[] half = spectralFunction(wss, ev, m, cut, -0.5);   // W⁺^{½}
            float[] g = new float[m * m];
            Gemm.sgemm(false, true, m, m, n, 1f, c, n, c, n, 0f, g, m);  // ĈᵀĈ (c is Ĉᵀ row-major)
            double[] gd = new double[m * m];
            for (int i = 0; i < m * m; i++) {
                gd[i] = g[i];
            }
            double[] sMat = sandwich(half, gd, m);              // W^{+½} G W^{+½} (half is symmetric)
            double[] lam = new double[m];
            Lapack.syevd(sMat, m, lam);
            top = new double[k];
            float[] b = new float[m * k];                       // W^{+½} U_K Λ_K^{-½}, row-major m × K
            for (int j = 0; j < k; j++) {
                int src = m - 1 - j;
                top[j] = lam[src];
                double inv = lam[src] > 0 ? 1 / Math.sqrt(lam[src]) : 0;
                for (int a = 0; a < m; a++) {
                    double acc = 0;
                    for (int q = 0; q < m; q++) {
                        acc += half[a * m + q] * sMat[q * m + src];
                    }
                    b[a * k + j] = (float) (acc * inv);
                }
            }
            vectors = new float[n * k];
            Gemm.sgemm(true, false, n, k, m, 1f, c, n, b, k, 0f, vectors, k);
        }
        double[] values = new double[k];
        for (int j = 0; j < k; j++) {
            values[j] = 1 - top[j];
        }
        long t2 = System.nanoTime();
        return new Eigen(vectors, n, k, values, sigma, clamped, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }

    /**
     * The K smallest eigenpairs by a dense eigensolver on the full n × n matrix (LAPACK
     * {@code dsyevd}; for small graphs and for checking the Nyström eigenpairs).
     */
    public static Eigen dense(float[] features, int n, int f, double sigma, int k) {
        if (n > 6000) {
            throw new IllegalArgumentException("dense eigenpairs of " + n + " nodes would need " + (8L * n * n >> 20) + " MB; use eigen()");
        }
        long t0 = System.nanoTime();
        double[] w = new double[n * n];
        double inv = 1 / (sigma * sigma);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double dist = 0;
                for (int q = 0; q < f; q++) {
                    double dd = features[i * f + q] - features[j * f + q];
                    dist += dd * dd;
                }
                w[i * n + j] = Math.exp(-dist * inv);
            }
        }
        double[] deg = new double[n];
        for (int i = 0; i < n; i++) {
            double acc = 0;
            for (int j = 0; j < n; j++) {
                acc += w[i * n + j];
            }
            deg[i] = acc;
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                w[i * n + j] = (i == j ? 1 : 0) - w[i * n + j] / Math.sqrt(deg[i] * deg[j]);
            }
        }
        long t1 = System.nanoTime();
        double[] ev = new double[n];
        Lapack.syevd(w, n, ev);
        float[] vectors = new float[n * k];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                vectors[i * k + j] = (float) w[i * n + j];
            }
        }
        return new Eigen(vectors, n, k, Arrays.copyOf(ev, k), sigma, 0, (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
    }

    /** m distinct nodes of n, uniformly, in a seeded order. */
    static int[] sample(int n, int m, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        for (int i = 0; i < m; i++) {
            int j = i + r.nextInt(n - i);
            int tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        return Arrays.copyOf(perm, m);
    }

    private static float[] rowNorms(float[] z, int n, int f) {
        float[] out = new float[n];
        Parallel.forRange(n, 4096, (from, to) -> {
            for (int i = from; i < to; i++) {
                double acc = 0;
                for (int q = 0; q < f; q++) {
                    double v = z[i * f + q];
                    acc += v * v;
                }
                out[i] = (float) acc;
            }
        });
        return out;
    }

    /** U diag(g(λ)) Uᵀ with g(λ) = λ^power for λ > cut, else 0; {@code u} holds eigenvectors as columns. */
    private static double[] spectralFunction(double[] u, double[] ev, int m, double cut, double power) {
        double[] out = new double[m * m];
        for (int q = 0; q < m; q++) {
            if (!(ev[q] > cut)) {
                continue;
            }
            double g = Math.pow(ev[q], power);
            for (int a = 0; a < m; a++) {
                double ua = u[a * m + q] * g;
                if (ua == 0) {
                    continue;
                }
                for (int b = 0; b < m; b++) {
                    out[a * m + b] += ua * u[b * m + q];
                }
            }
        }
        return out;
    }

    /** {@code A B Aᵀ} for m × m row-major A and symmetric B. */
    private static double[] sandwich(double[] a, double[] b, int m) {
        double[] ab = new double[m * m];
        for (int i = 0; i < m; i++) {
            for (int q = 0; q < m; q++) {
                double aiq = a[i * m + q];
                if (aiq == 0) {
                    continue;
                }
                for (int j = 0; j < m; j++) {
                    ab[i * m + j] += aiq * b[q * m + j];
                }
            }
        }
        double[] out = new double[m * m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j <= i; j++) {
                double acc = 0;
                for (int q = 0; q < m; q++) {
                    acc += ab[i * m + q] * a[j * m + q];
                }
                out[i * m + j] = acc;
                out[j * m + i] = acc;
            }
        }
        return out;
    }

    private static float[] transpose(float[] colMajor, int rows, int cols) {
        float[] out = new float[rows * cols];
        Parallel.forRange(rows, 4096, (from, to) -> {
            for (int i = from; i < to; i++) {
                for (int j = 0; j < cols; j++) {
                    out[i * cols + j] = colMajor[j * rows + i];
                }
            }
        });
        return out;
    }
}
