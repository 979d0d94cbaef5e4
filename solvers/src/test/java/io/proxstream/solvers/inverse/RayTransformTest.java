package io.proxstream.solvers.inverse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RayTransformTest {

    @Test
    void adjointIsMatchedForEveryAngleSet() {
        OperatorTestSupport.assertAdjoint(RayTransform.of(64, Angles.full(90)), 1e-4, 1);
        OperatorTestSupport.assertAdjoint(RayTransform.of(48, Angles.sparseView(13)), 1e-4, 2);
        OperatorTestSupport.assertAdjoint(RayTransform.of(40, Angles.range(0, 120, 37)), 1e-4, 3);
        OperatorTestSupport.assertAdjoint(new RayTransform(30, 47, Angles.full(31), 61, 0.75), 1e-4, 4);
        OperatorTestSupport.assertAdjoint(new RayTransform(9, 9, new double[] {0.3, Math.PI / 4, 2.0}, 5, 2.5), 1e-4, 5);
    }

    /** A uniform disk of radius r projects to chords 2√(r² − s²) at every angle. */
    @Test
    void projectsADiskToItsChordLengths() {
        int n = 128;
        double r = 40;
        float[] disk = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double x = j - (n - 1) / 2.0;
                double y = (n - 1) / 2.0 - i;
                // anti-aliased edge: 4x4 supersampling
                int inside = 0;
                for (int a = 0; a < 4; a++) {
                    for (int b = 0; b < 4; b++) {
                        double xs = x - 0.375 + 0.25 * a;
                        double ys = y - 0.375 + 0.25 * b;
                        inside += xs * xs + ys * ys <= r * r ? 1 : 0;
                    }
                }
                disk[i * n + j] = inside / 16f;
            }
        }
        RayTransform rt = RayTransform.of(n, Angles.full(12));
        float[] sino = rt.apply(disk);
        int dets = rt.detectors();
        double maxErr = 0;
        for (int a = 0; a < 12; a++) {
            for (int d = 0; d < dets; d++) {
                double s = d - (dets - 1) / 2.0;
                double chord = Math.abs(s) < r ? 2 * Math.sqrt(r * r - s * s) : 0;
                if (Math.abs(Math.abs(s) - r) > 2) {
                    maxErr = Math.max(maxErr, Math.abs(sino[a * dets + d] - chord));
                }
            }
        }
        // interior chords up to 80 pixels long: discretisation error well under a pixel
        assertTrue(maxErr < 0.6, "max chord error " + maxErr);
    }

    @Test
    void rejectsBadGeometriesAndInputs() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RayTransform.of(8, new double[0]));
        assertTrue(e.getMessage().contains("angle set is empty"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Angles.range(10, 10, 5));
        assertThrows(IllegalArgumentException.class, () -> new RayTransform(8, 8, Angles.full(3), 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new RayTransform(8, 8, Angles.full(3), 9, -1));
        assertThrows(IllegalArgumentException.class, () -> new RayTransform(8, 8, new double[] {Double.NaN}, 9, 1));
        RayTransform rt = RayTransform.of(8, Angles.full(3));
        e = assertThrows(IllegalArgumentException.class, () -> rt.apply(new float[63], new float[rt.rangeSize()]));
        assertTrue(e.getMessage().contains("image has 63 values, expected 64"), e.getMessage());
    }

    @Test
    void normEstimateMatchesTheLargestSingularValueOfASmallDenseMatrix() {
        RayTransform rt = new RayTransform(6, 5, Angles.full(4), 9, 1);
        // dense matrix, then power iteration in double to convergence as an independent reference
        int n = rt.domainSize();
        int m = rt.rangeSize();
        double[][] a = new double[m][n];
        for (int j = 0; j < n; j++) {
            float[] e = new float[n];
            e[j] = 1;
            float[] col = rt.apply(e);
            for (int i = 0; i < m; i++) {
                a[i][j] = col[i];
            }
        }
        double[] v = new double[n];
        java.util.Arrays.fill(v, 1);
        double lambda = 0;
        for (int it = 0; it < 2000; it++) {
            double[] av = new double[m];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    av[i] += a[i][j] * v[j];
                }
            }
            double[] atav = new double[n];
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < m; i++) {
                    atav[j] += a[i][j] * av[i];
                }
            }
            double norm = 0;
            for (double x : atav) {
                norm += x * x;
            }
            norm = Math.sqrt(norm);
            lambda = norm;
            for (int j = 0; j < n; j++) {
                v[j] = atav[j] / norm;
            }
        }
        assertEquals(Math.sqrt(lambda), rt.normEstimate(200, 1), 1e-3 * Math.sqrt(lambda));
    }
}
