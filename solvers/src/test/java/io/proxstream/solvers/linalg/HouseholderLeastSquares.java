package io.proxstream.solvers.linalg;

/**
 * Least squares {@code min ‖A X − B‖} by Householder QR in double, written plainly for tests: an
 * independent path (no normal equations, no LAPACK) to check closed-form solves against.
 */
public final class HouseholderLeastSquares {
    private HouseholderLeastSquares() {
    }

    /**
     * @param a {@code r × c} row-major, r ≥ c, full column rank (copied)
     * @param b {@code r × q} row-major (copied)
     * @return X, {@code c × q} row-major
     */
    public static double[] solve(double[] a, double[] b, int r, int c, int q) {
        double[] qa = a.clone();
        double[] qb = b.clone();
        for (int col = 0; col < c; col++) {
            double norm = 0;
            for (int i = col; i < r; i++) {
                norm += qa[i * c + col] * qa[i * c + col];
            }
            norm = Math.sqrt(norm);
            double alpha = qa[col * c + col] > 0 ? -norm : norm;
            double[] v = new double[r];
            for (int i = col; i < r; i++) {
                v[i] = qa[i * c + col];
            }
            v[col] -= alpha;
            double vv = 0;
            for (int i = col; i < r; i++) {
                vv += v[i] * v[i];
            }
            if (vv == 0) {
                continue;
            }
            for (int j = col; j < c; j++) {
                double s = 0;
                for (int i = col; i < r; i++) {
                    s += v[i] * qa[i * c + j];
                }
                s = 2 * s / vv;
                for (int i = col; i < r; i++) {
                    qa[i * c + j] -= s * v[i];
                }
            }
            for (int j = 0; j < q; j++) {
                double s = 0;
                for (int i = col; i < r; i++) {
                    s += v[i] * qb[i * q + j];
                }
                s = 2 * s / vv;
                for (int i = col; i < r; i++) {
                    qb[i * q + j] -= s * v[i];
                }
            }
        }
        double[] x = new double[c * q];
        for (int j = 0; j < q; j++) {
            for (int i = c - 1; i >= 0; i--) {
                double s = qb[i * q + j];
                for (int l = i + 1; l < c; l++) {
                    s -= qa[i * c + l] * x[l * q + j];
                }
                x[i * q + j] = s / qa[i * c + i];
            }
        }
        return x;
    }
}
