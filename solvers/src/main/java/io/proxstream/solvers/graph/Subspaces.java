package io.proxstream.solvers.graph;

import io.proxstream.solvers.linalg.Lapack;

/** Measures for comparing eigenvector bases (row-major n × columns, as {@link Nystrom.Eigen#vectors}). */
public final class Subspaces {
    private Subspaces() {
    }

    /**
     * sin² of the largest principal angle between the spans of the first k columns of two bases
     * with orthonormal columns ({@code a} has {@code a.length / n} columns, {@code b} {@code b.length / n}):
     * 1 − the smallest eigenvalue of MᵀM, M = A_kᵀ B_k.
     */
    public static double sinSquaredLargestAngle(float[] a, float[] b, int n, int k) {
        int ka = a.length / n;
        int kb = b.length / n;
        if (k > ka || k > kb) {
            throw new IllegalArgumentException("bases have " + ka + " and " + kb + " columns, fewer than k=" + k);
        }
        double[] m = new double[k * k];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < k; p++) {
                for (int q = 0; q < k; q++) {
                    m[p * k + q] += (double) a[i * ka + p] * b[i * kb + q];
                }
            }
        }
        double[] mtm = new double[k * k];
        for (int p = 0; p < k; p++) {
            for (int q = 0; q < k; q++) {
                double acc = 0;
                for (int t = 0; t < k; t++) {
                    acc += m[t * k + p] * m[t * k + q];
                }
                mtm[p * k + q] = acc;
            }
        }
        double[] ev = new double[k];
        Lapack.syevd(mtm, k, ev);
        return Math.max(0, 1 - ev[0]);
    }

    /** max |XᵀX − I| over the entries, for X n × k row-major. */
    public static double orthonormalityError(float[] x, int n, int k) {
        double worst = 0;
        for (int p = 0; p < k; p++) {
            for (int q = 0; q < k; q++) {
                double acc = 0;
                for (int i = 0; i < n; i++) {
                    acc += (double) x[i * k + p] * x[i * k + q];
                }
                worst = Math.max(worst, Math.abs(acc - (p == q ? 1 : 0)));
            }
        }
        return worst;
    }
}
