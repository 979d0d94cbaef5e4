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
}
