package io.proxstream.solvers.linalg;

import org.bytedeco.openblas.global.openblas;

/**
 * The LAPACK routines proxstream needs, called through the OpenBLAS build that ND4J already loads
 * (JavaCPP's {@code org.bytedeco.openblas} preset, the same library ND4J's own {@code CpuLapack}
 * uses), so no second BLAS is brought in.
 */
public final class Lapack {
    private Lapack() {
    }

    /** Raised when a matrix that should be symmetric positive definite is not (numerically). */
    public static final class NotPositiveDefiniteException extends ArithmeticException {
        private static final long serialVersionUID = 1L;

        public NotPositiveDefiniteException(String message) {
            super(message);
        }
    }

    /**
     * Solves {@code A X = B} for symmetric positive definite {@code A} by Cholesky ({@code dposv}).
     *
     * @param a    {@code n × n} row-major; only the lower triangle is read; overwritten by the factor
     * @param b    {@code n × nrhs} row-major right-hand sides; overwritten by the solution
     * @throws NotPositiveDefiniteException if the factorisation breaks down
     */
    public static void posv(double[] a, double[] b, int n, int nrhs) {
        if (a.length < (long) n * n || b.length < (long) n * nrhs) {
            throw new IllegalArgumentException("posv: arrays too small for n=" + n + ", nrhs=" + nrhs);
        }
        if (n == 0) {
            return;
        }
        int info = openblas.LAPACKE_dposv(openblas.LAPACK_ROW_MAJOR, (byte) 'L', n, nrhs, a, n, b, nrhs);
        if (info > 0) {
            throw new NotPositiveDefiniteException("matrix not positive definite (leading minor " + info + ")");
        }
        if (info < 0) {
            throw new IllegalArgumentException("dposv: illegal argument " + (-info));
        }
    }

    /**
     * Eigen-decomposition of a symmetric matrix ({@code dsyevd}).
     *
     * @param a {@code n × n} row-major; only the lower triangle is read; overwritten by the
     *          eigenvectors as columns ({@code a[i·n + j]} = component i of eigenvector j)
     * @param w receives the n eigenvalues in ascending order
     */
    public static void syevd(double[] a, int n, double[] w) {
        if (a.length < (long) n * n || w.length < n) {
            throw new IllegalArgumentException("syevd: arrays too small for n=" + n);
        }
        if (n == 0) {
            return;
        }
        int info = openblas.LAPACKE_dsyevd(openblas.LAPACK_ROW_MAJOR, (byte) 'V', (byte) 'L', n, a, n, w);
        if (info != 0) {
            throw new ArithmeticException("dsyevd failed (info " + info + ")");
        }
    }

    /**
     * Householder QR of a column-major {@code rows × cols} float matrix ({@code sgeqrf}), rows ≥ cols:
     * on return R is the upper triangle of {@code a} and the reflectors, with {@code tau}, define Q.
     */
    public static void geqrf(float[] a, int rows, int cols, float[] tau) {
        if (rows < cols || a.length < (long) rows * cols || tau.length < cols) {
            throw new IllegalArgumentException("geqrf: need rows >= cols and arrays for " + rows + "x" + cols);
        }
        int info = openblas.LAPACKE_sgeqrf(openblas.LAPACK_COL_MAJOR, rows, cols, a, rows, tau);
        if (info != 0) {
            throw new ArithmeticException("sgeqrf failed (info " + info + ")");
        }
    }

    /**
     * {@code c ← Q c} with Q ({@code rows × rows}) from {@link #geqrf} of a {@code rows × reflectors}
     * matrix and {@code c} column-major {@code rows × cols} ({@code sormqr}).
     */
    public static void ormqr(float[] qr, int rows, int reflectors, float[] tau, float[] c, int cols) {
        if (qr.length < (long) rows * reflectors || c.length < (long) rows * cols || tau.length < reflectors) {
            throw new IllegalArgumentException("ormqr: arrays too small");
        }
        int info = openblas.LAPACKE_sormqr(openblas.LAPACK_COL_MAJOR, (byte) 'L', (byte) 'N', rows, cols, reflectors, qr, rows, tau, c,
                rows);
        if (info != 0) {
            throw new ArithmeticException("sormqr failed (info " + info + ")");
        }
    }
}
