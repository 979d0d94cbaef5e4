package io.proxstream.solvers.blas;

import io.proxstream.solvers.linalg.Gemm;
import io.proxstream.solvers.linalg.Lapack;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.bytedeco.openblas.global.openblas;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The numerics self-check: every BLAS/LAPACK routine proxstream reaches, directly or through ND4J,
 * run on random problems and compared with a plain-Java double-precision reference.
 *
 * <p>Why: a BLAS kernel chosen for the CPU can compute wrong answers without any error (OpenBLAS
 * 0.3.19's SkylakeX double-precision kernels on Sapphire Rapids did: Cholesky broke down, eigenvalues
 * came out wrong). A wrong answer must stop a run with a message, never flow into a model.
 *
 * <p>Every check is a normwise backward-error test of the form
 * {@code error ≤ C · n · u · ‖A‖_F ‖B‖_F} with {@link #C} = 4, u the unit roundoff of the routine's
 * precision (2⁻⁵³ or 2⁻²⁴) and n the length of the sums (the inner dimension of a product, the order of
 * a factorisation) plus 2, for the rounding of the result and of the reference's own evaluation (which
 * dominate at n = 1). The classical bounds are γ_n = n·u/(1 − n·u) for products and a small multiple of
 * it for Cholesky, triangular solves, Householder QR and symmetric eigensolvers (Higham, <i>Accuracy
 * and Stability of Numerical Algorithms</i>, §3.5, 8.1, 10.1, 19.3); measured errors are far below
 * (about √n·u), while a broken kernel misses by orders of magnitude or returns NaN.
 *
 * <p>Shapes: transposed and non-transposed operands, row and column vectors (ND4J sends them to
 * GEMV-like paths), sizes under OpenBLAS's small-matrix thresholds, and sizes like training's (a
 * decoder solve of order 768 with 96 right-hand sides, beyond the blocking of dpotrf). The whole check
 * takes a fraction of a second; {@link #once()} runs it once per process.
 */
public final class NumericsCheck {
    /** The constant of the tolerance {@code C · (n + 2) · u · ‖A‖‖B‖}. */
    public static final double C = 4.0;
    static final double U_DOUBLE = Math.ulp(1.0) / 2;
    static final double U_FLOAT = Math.ulp(1.0f) / 2;

    private static Report cached;

    private NumericsCheck() {
    }

    /** One routine on one problem: its error, the tolerance and whether it passed. */
    public record Result(String routine, String shape, double error, double tolerance, double millis) {
        Result(String routine, String shape, double error, double tolerance) {
            this(routine, shape, error, tolerance, 0);
        }

        Result took(double ms) {
            return new Result(routine, shape, error, tolerance, ms);
        }

        public boolean passed() {
            return Double.isFinite(error) && error <= tolerance;
        }

        /** Error as a fraction of the tolerance (NaN when the result was not finite). */
        public double ratio() {
            return Double.isFinite(error) ? error / tolerance : Double.NaN;
        }
    }

    /** All results, the BLAS they ran on and how long the check took. */
    public record Report(BlasInfo blas, List<Result> results, long nanos) {
        public boolean passed() {
            return results.stream().allMatch(Result::passed);
        }

        public List<Result> failures() {
            return results.stream().filter(r -> !r.passed()).toList();
        }

        /** A fixed-width table: routine, shape, error, tolerance, ratio, verdict. */
        public String table() {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-22s %-26s %11s %11s %9s %8s  %s%n",
                    "routine", "shape", "error", "tolerance", "err/tol", "ms", "result"));
            for (Result r : results) {
                sb.append(String.format(Locale.ROOT, "%-22s %-26s %11.3e %11.3e %9.2e %8.1f  %s%n", r.routine(), r.shape(),
                        r.error(), r.tolerance(), r.ratio(), r.millis(), r.passed() ? "ok" : "FAILED"));
            }
            return sb.toString();
        }

        /** The message a user sees when the check fails: what, where, how large, what to do. */
        public String failureMessage() {
            StringBuilder sb = new StringBuilder("the BLAS/LAPACK self-check failed: OpenBLAS kernel ")
                    .append(blas.coreName()).append(" (").append(blas.config()).append(") computes wrong results on this CPU");
            for (Result r : failures()) {
                sb.append(String.format(Locale.ROOT, "%n  %s %s: error %.3e > tolerance %.3e", r.routine(), r.shape(),
                        r.error(), r.tolerance()));
            }
            sb.append("\nNothing was computed with it. Choose another OpenBLAS kernel, e.g. OPENBLAS_CORETYPE=Haswell ./proxstream ...")
                    .append("\n(`./proxstream doctor` lists the kernels this CPU can run and checks each routine.)");
            return sb.toString();
        }
    }

    /** Runs the check once per process and returns the (cached) report. */
    public static synchronized Report once() {
        if (cached == null) {
            cached = run(20251130L);
        }
        return cached;
    }

    /** Runs every check with random problems from {@code seed}. */
    public static Report run(long seed) {
        BlasInfo blas = BlasInfo.current();
        long t0 = System.nanoTime();
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Result> out = new ArrayList<>();
        // ND4J's float GEMM (Nd4j.gemm, as the encoder and the dense SAE steps call it): vectors, tiny, transposed, training-like
        int[][] nd4j = {{1, 1, 1, 0, 0}, {1, 37, 19, 0, 1}, {23, 1, 17, 0, 1}, {5, 7, 3, 0, 0}, {16, 16, 16, 0, 1},
                {33, 65, 17, 1, 0}, {64, 48, 96, 1, 1}, {64, 768, 64, 0, 1}, {160, 200, 130, 0, 0}};
        for (int[] s : nd4j) {
            add(out, () -> nd4jGemm(rnd, s[0], s[1], s[2], s[3] == 1, s[4] == 1));
        }
        add(out, () -> nd4jMmul(rnd, 40, 30, 50));
        add(out, () -> abT(rnd, 48, 200, 64));
        // cblas_sgemm on Java arrays (Gemm.sgemm: critic training, convolutions)
        int[][] sg = {{1, 9, 4, 0, 0}, {7, 5, 3, 1, 0}, {17, 33, 65, 0, 1}, {128, 96, 288, 1, 1}, {200, 300, 150, 0, 0}};
        for (int[] s : sg) {
            add(out, () -> cblasSgemm(rnd, s[0], s[1], s[2], s[3] == 1, s[4] == 1));
        }
        // cblas_dgemm, dsyrk, dtrsm: the level-3 kernels dposv (dpotrf, dpotrs) runs inside
        int[][] dg = {{1, 1, 1, 0, 0}, {3, 5, 7, 1, 0}, {16, 16, 16, 0, 1}, {130, 96, 250, 0, 1}, {200, 64, 700, 1, 0}};
        for (int[] s : dg) {
            add(out, () -> cblasDgemm(rnd, s[0], s[1], s[2], s[3] == 1, s[4] == 1));
        }
        add(out, () -> dsyrk(rnd, 6, 4, false));
        add(out, () -> dsyrk(rnd, 160, 128, false));
        add(out, () -> dsyrk(rnd, 120, 100, true));
        add(out, () -> dtrsm(rnd, 5, 3));
        add(out, () -> dtrsm(rnd, 300, 48));
        // Lapack.posv (dposv): the PAM decoder solve; 768 is past dpotrf's blocking, like training's order
        int[][] po = {{1, 1}, {7, 3}, {64, 64}, {200, 40}, {768, 32}};
        for (int[] s : po) {
            add(out, () -> posv(rnd, s[0], s[1]));
        }
        // Lapack.syevd (dsyevd): Nystrom eigenpairs, local PCA
        for (int n : new int[] {1, 6, 50, 200}) {
            addAll(out, () -> syevd(rnd, n));
        }
        // Lapack.geqrf + ormqr (sgeqrf, sormqr): the Nystrom-QR basis
        int[][] qr = {{5, 3}, {64, 64}, {2000, 40}};
        for (int[] s : qr) {
            addAll(out, () -> qr(rnd, s[0], s[1]));
        }
        return new Report(blas, List.copyOf(out), System.nanoTime() - t0);
    }

    private static void add(List<Result> out, java.util.function.Supplier<Result> check) {
        long t = System.nanoTime();
        Result r = check.get();
        out.add(r.took((System.nanoTime() - t) / 1e6));
    }

    private static void addAll(List<Result> out, java.util.function.Supplier<List<Result>> check) {
        long t = System.nanoTime();
        List<Result> rs = check.get();
        double ms = (System.nanoTime() - t) / 1e6 / rs.size();
        rs.forEach(r -> out.add(r.took(ms)));
    }

    // ---- the checks ----

    private static Result nd4jGemm(SplittableRandom rnd, int m, int n, int k, boolean ta, boolean tb) {
        float[] a = uniform(rnd, m * k);
        float[] b = uniform(rnd, k * n);
        float[] c = new float[m * n];
        try (INDArray x = Nd4j.create(DataType.FLOAT, ta ? k : m, ta ? m : k);
             INDArray y = Nd4j.create(DataType.FLOAT, tb ? n : k, tb ? k : n);
             INDArray z = Nd4j.create(DataType.FLOAT, m, n)) {
            x.data().asNioFloat().put(0, a, 0, a.length);
            y.data().asNioFloat().put(0, b, 0, b.length);
            Nd4j.gemm(x, y, z, ta, tb, 1.0, 0.0);
            z.data().asNioFloat().get(0, c, 0, c.length);
        }
        return product("nd4j gemm f32", shape(m, n, k, ta, tb), a, ta, b, tb, m, n, k, toDouble(c), U_FLOAT);
    }

    private static Result nd4jMmul(SplittableRandom rnd, int m, int n, int k) {
        float[] a = uniform(rnd, m * k);
        float[] b = uniform(rnd, k * n);
        float[] c = new float[m * n];
        try (INDArray x = Nd4j.create(DataType.FLOAT, m, k); INDArray y = Nd4j.create(DataType.FLOAT, k, n)) {
            x.data().asNioFloat().put(0, a, 0, a.length);
            y.data().asNioFloat().put(0, b, 0, b.length);
            try (INDArray z = x.mmul(y)) {
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        c[i * n + j] = z.getFloat(i, j);
                    }
                }
            }
        }
        return product("nd4j mmul f32", shape(m, n, k, false, false), a, false, b, false, m, n, k, toDouble(c), U_FLOAT);
    }

    private static Result abT(SplittableRandom rnd, int rows, int cols, int d) {
        float[] a = uniform(rnd, rows * d);
        float[] b = uniform(rnd, cols * d);
        float[] c = new float[rows * cols];
        Gemm.abT(a, rows, b, cols, d, c);
        return product("Gemm.abT f32", shape(rows, cols, d, false, true), a, false, b, true, rows, cols, d, toDouble(c), U_FLOAT);
    }

    private static Result cblasSgemm(SplittableRandom rnd, int m, int n, int k, boolean ta, boolean tb) {
        float[] a = uniform(rnd, m * k);
        float[] b = uniform(rnd, k * n);
        float[] c = uniform(rnd, m * n); // beta = 0 must ignore what C held
        Gemm.sgemm(ta, tb, m, n, k, 1f, a, ta ? m : k, b, tb ? k : n, 0f, c, n);
        return product("cblas_sgemm", shape(m, n, k, ta, tb), a, ta, b, tb, m, n, k, toDouble(c), U_FLOAT);
    }

    private static Result cblasDgemm(SplittableRandom rnd, int m, int n, int k, boolean ta, boolean tb) {
        double[] a = uniformD(rnd, m * k);
        double[] b = uniformD(rnd, k * n);
        double[] c = uniformD(rnd, m * n);
        openblas.cblas_dgemm(openblas.CblasRowMajor, ta ? openblas.CblasTrans : openblas.CblasNoTrans,
                tb ? openblas.CblasTrans : openblas.CblasNoTrans, m, n, k, 1.0, a, ta ? m : k, b, tb ? k : n, 0.0, c, n);
        return product("cblas_dgemm", shape(m, n, k, ta, tb), a, ta, b, tb, m, n, k, c, U_DOUBLE);
    }

    /** Lower triangle of {@code C = A Aᵀ} (A n × k) or {@code C = Aᵀ A} (A k × n). */
    private static Result dsyrk(SplittableRandom rnd, int n, int k, boolean trans) {
        double[] a = uniformD(rnd, n * k);
        double[] c = uniformD(rnd, n * n);
        openblas.cblas_dsyrk(openblas.CblasRowMajor, openblas.CblasLower, trans ? openblas.CblasTrans : openblas.CblasNoTrans, n, k,
                1.0, a, trans ? n : k, 0.0, c, n);
        double err = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += trans ? a[p * n + i] * a[p * n + j] : a[i * k + p] * a[j * k + p];
                }
                double e = c[i * n + j] - s;
                err += (i == j ? 1 : 2) * e * e;
            }
        }
        double na = frob(a);
        return new Result("cblas_dsyrk", n + "x" + n + " k=" + k + (trans ? " T" : " N"), Math.sqrt(err), C * (k + 2) * U_DOUBLE * na * na);
    }

    /** {@code L X = B} with L lower triangular (n × n) and B n × r; residual against ‖L‖‖X‖. */
    private static Result dtrsm(SplittableRandom rnd, int n, int r) {
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                l[i * n + j] = rnd.nextDouble(-1, 1) / Math.sqrt(n);
            }
            l[i * n + i] = 1 + rnd.nextDouble();
        }
        double[] b = uniformD(rnd, n * r);
        double[] x = b.clone();
        openblas.cblas_dtrsm(openblas.CblasRowMajor, openblas.CblasLeft, openblas.CblasLower, openblas.CblasNoTrans,
                openblas.CblasNonUnit, n, r, 1.0, l, n, x, r);
        double err = 0;
        double[] acc = new double[r];
        for (int i = 0; i < n; i++) {
            Arrays.fill(acc, 0);
            for (int p = 0; p <= i; p++) {
                axpy(l[i * n + p], x, p * r, acc, r);
            }
            for (int j = 0; j < r; j++) {
                double e = acc[j] - b[i * r + j];
                err += e * e;
            }
        }
        return new Result("cblas_dtrsm", n + "x" + n + " rhs=" + r, Math.sqrt(err), C * (n + 2) * U_DOUBLE * frob(l) * frob(x));
    }

    /**
     * {@code A X = B} for a symmetric positive definite A with eigenvalues spread over about two
     * orders of magnitude (a random symmetric part plus a diagonal shift past its spectral radius).
     */
    private static Result posv(SplittableRandom rnd, int n, int nrhs) {
        double radius = 2 * Math.sqrt(n / 3.0);
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                double v = rnd.nextDouble(-1, 1);
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
            a[i * n + i] = 1.3 * radius + 0.5 + rnd.nextDouble();
        }
        double[] b = uniformD(rnd, n * nrhs);
        double[] factor = a.clone();
        double[] x = b.clone();
        String shape = n + "x" + n + " rhs=" + nrhs;
        try {
            Lapack.posv(factor, x, n, nrhs);
        } catch (ArithmeticException | IllegalArgumentException e) {
            return new Result("dposv", shape + " (" + e.getMessage() + ")", Double.NaN, 0);
        }
        double err = 0;
        double[] acc = new double[nrhs];
        for (int i = 0; i < n; i++) {
            Arrays.fill(acc, 0);
            for (int p = 0; p < n; p++) {
                axpy(a[i * n + p], x, p * nrhs, acc, nrhs);
            }
            for (int j = 0; j < nrhs; j++) {
                double e = acc[j] - b[i * nrhs + j];
                err += e * e;
            }
        }
        return new Result("dposv", shape, Math.sqrt(err), C * (n + 2) * U_DOUBLE * frob(a) * frob(x));
    }

    /** Eigenpairs of a random symmetric matrix: residual ‖AV − VΛ‖, orthogonality ‖VᵀV − I‖, order. */
    private static List<Result> syevd(SplittableRandom rnd, int n) {
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double v = rnd.nextDouble(-1, 1);
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
        double[] v = a.clone();
        double[] w = new double[n];
        String shape = n + "x" + n;
        try {
            Lapack.syevd(v, n, w);
        } catch (ArithmeticException | IllegalArgumentException e) {
            return List.of(new Result("dsyevd", shape + " (" + e.getMessage() + ")", Double.NaN, 0));
        }
        double res = 0;
        double orth = 0;
        double[] av = new double[n];
        double[] vv = new double[n * n];
        for (int i = 0; i < n; i++) {
            Arrays.fill(av, 0);
            for (int p = 0; p < n; p++) {
                axpy(a[i * n + p], v, p * n, av, n);
            }
            for (int j = 0; j < n; j++) {
                double e = av[j] - v[i * n + j] * w[j];
                res += e * e;
            }
        }
        for (int p = 0; p < n; p++) { // VᵀV = Σ_p (row p of V)ᵀ (row p of V)
            for (int i = 0; i < n; i++) {
                axpy(v[p * n + i], v, p * n, vv, i * n, n);
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double o = vv[i * n + j] - (i == j ? 1 : 0);
                orth += o * o;
            }
        }
        boolean ascending = true;
        for (int j = 1; j < n; j++) {
            ascending &= w[j - 1] <= w[j];
        }
        double vNorm = Math.sqrt(n);
        return List.of(new Result("dsyevd residual", shape, Math.sqrt(res), C * (n + 2) * U_DOUBLE * frob(a) * vNorm),
                new Result("dsyevd orthogonality", shape + (ascending ? "" : " (not ascending)"), ascending ? Math.sqrt(orth) : Double.NaN,
                        C * (n + 2) * U_DOUBLE * vNorm * vNorm));
    }

    /**
     * Householder QR of a random column-major {@code rows × cols} float matrix: Q·[R; 0] formed by
     * sormqr reproduces A, and the first columns of Q (sormqr applied to the identity's) are orthonormal.
     */
    private static List<Result> qr(SplittableRandom rnd, int rows, int cols) {
        float[] a = uniform(rnd, rows * cols);
        float[] f = a.clone();
        float[] tau = new float[cols];
        String shape = rows + "x" + cols;
        try {
            Lapack.geqrf(f, rows, cols, tau);
        } catch (ArithmeticException | IllegalArgumentException e) {
            return List.of(new Result("sgeqrf+sormqr", shape + " (" + e.getMessage() + ")", Double.NaN, 0));
        }
        float[] r = new float[rows * cols]; // [R; 0], column-major
        for (int j = 0; j < cols; j++) {
            for (int i = 0; i <= j; i++) {
                r[j * rows + i] = f[j * rows + i];
            }
        }
        float[] q1 = new float[rows * cols];
        for (int j = 0; j < cols; j++) {
            q1[j * rows + j] = 1f;
        }
        try {
            Lapack.ormqr(f, rows, cols, tau, r, cols);
            Lapack.ormqr(f, rows, cols, tau, q1, cols);
        } catch (ArithmeticException | IllegalArgumentException e) {
            return List.of(new Result("sormqr", shape + " (" + e.getMessage() + ")", Double.NaN, 0));
        }
        double rec = 0;
        for (int i = 0; i < a.length; i++) {
            double e = (double) r[i] - a[i];
            rec += e * e;
        }
        double orth = 0;
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int p = 0; p < rows; p++) {
                    s += (double) q1[i * rows + p] * q1[j * rows + p];
                }
                double e = s - (i == j ? 1 : 0);
                orth += e * e;
            }
        }
        double aNorm = frob(a);
        return List.of(new Result("sgeqrf+sormqr QR=A", shape, Math.sqrt(rec), C * (rows + 2) * U_FLOAT * aNorm * Math.sqrt(cols)),
                new Result("sormqr orthogonality", shape, Math.sqrt(orth), C * (rows + 2) * U_FLOAT * cols));
    }

    // ---- reference product and helpers ----

    /** The product check on a given float result (for tests of the check itself). */
    static Result checkProduct(String routine, float[] a, boolean ta, float[] b, boolean tb, int m, int n, int k, float[] c) {
        return product(routine, shape(m, n, k, ta, tb), a, ta, b, tb, m, n, k, toDouble(c), U_FLOAT);
    }

    /** ‖C − op(A) op(B)‖_F against {@code C·(k+2)·u·‖A‖_F‖B‖_F}, the product formed in double. */
    private static Result product(String routine, String shape, Object a, boolean ta, Object b, boolean tb, int m, int n, int k,
                                  double[] c, double u) {
        double[] ad = a instanceof float[] fa ? toDouble(fa) : (double[]) a;
        double[] bd = b instanceof float[] fb ? toDouble(fb) : (double[]) b;
        double err = 0;
        double[] row = new double[k];
        double[] acc = new double[n];
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                row[p] = ta ? ad[p * m + i] : ad[i * k + p];
            }
            if (tb) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    int o = j * k;
                    for (int p = 0; p < k; p++) {
                        s += row[p] * bd[o + p];
                    }
                    acc[j] = s;
                }
            } else {
                Arrays.fill(acc, 0);
                for (int p = 0; p < k; p++) {
                    axpy(row[p], bd, p * n, acc, n);
                }
            }
            for (int j = 0; j < n; j++) {
                double e = c[i * n + j] - acc[j];
                err += e * e;
            }
        }
        return new Result(routine, shape, Math.sqrt(err), C * (k + 2) * u * frob(ad) * frob(bd));
    }

    /** {@code y[0..len) += alpha · x[xo..xo+len)}. */
    private static void axpy(double alpha, double[] x, int xo, double[] y, int len) {
        axpy(alpha, x, xo, y, 0, len);
    }

    private static void axpy(double alpha, double[] x, int xo, double[] y, int yo, int len) {
        for (int j = 0; j < len; j++) {
            y[yo + j] += alpha * x[xo + j];
        }
    }

    private static String shape(int m, int n, int k, boolean ta, boolean tb) {
        return m + "x" + n + " k=" + k + " " + (ta ? "T" : "N") + (tb ? "T" : "N");
    }

    private static float[] uniform(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        return v;
    }

    private static double[] uniformD(SplittableRandom rnd, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextDouble(-1, 1);
        }
        return v;
    }

    private static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    private static double frob(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return Math.sqrt(s);
    }

    private static double frob(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }

    /** Prints the report and exits 0 if every routine passed, 1 otherwise (used by child-JVM tests). */
    public static void main(String[] args) {
        Report r = run(args.length > 0 ? Long.parseLong(args[0]) : 20251130L);
        System.out.println(r.blas().describe());
        System.out.print(r.table());
        System.out.printf(Locale.ROOT, "self-check %s in %.0f ms%n", r.passed() ? "passed" : "FAILED", r.nanos() / 1e6);
        System.exit(r.passed() ? 0 : 1);
    }
}
