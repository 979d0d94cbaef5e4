package io.proxstream.solvers.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PlantedDictionaryTest {

    @Test
    void featuresAreUnitAndFiringRatesMatchTheSpec() {
        PlantedDictionary.Options o = new PlantedDictionary.Options(64, 64, 5.0, 0.97, 0.0, 9);
        PlantedDictionary gen = new PlantedDictionary(o);
        float[] f = gen.dictionary();
        for (int r = 0; r < 64; r++) {
            double n = 0;
            for (int i = 0; i < 64; i++) {
                n += f[r * 64 + i] * f[r * 64 + i];
            }
            assertEquals(1.0, n, 1e-5);
        }
        // with as many features as dimensions the dictionary is invertible, so each sample's
        // coefficients (which features fired, how strongly) can be read back exactly
        int rows = 200_000;
        float[] x = new float[rows * 64];
        gen.fill(x, rows, new SplittableRandom(4));
        // x = c F with F invertible (random Gaussian 64x64): c = x F^{-1}; count non-zeros of c
        double[][] inv = invert(f, 64);
        long[] fires = new long[64];
        double magnitude = 0;
        long total = 0;
        for (int b = 0; b < rows; b++) {
            for (int j = 0; j < 64; j++) {
                double c = 0;
                for (int i = 0; i < 64; i++) {
                    c += x[b * 64 + i] * inv[i][j];
                }
                if (Math.abs(c) > 1e-4) {
                    fires[j]++;
                    magnitude += c;
                    total++;
                }
            }
        }
        for (int j = 0; j < 64; j++) {
            double p = gen.probability(j);
            double sd = Math.sqrt(rows * p * (1 - p));
            assertEquals(rows * p, fires[j], 5 * sd + 2, "firings of feature " + j);
        }
        // magnitudes U(0,1): mean 0.5
        assertEquals(0.5, magnitude / total, 0.01);
        assertEquals(gen.expectedActive(), total / (double) rows, 0.02);
    }

    @Test
    void isDeterministicInTheSeeds() {
        PlantedDictionary a = new PlantedDictionary(PlantedDictionary.Options.defaults(3));
        PlantedDictionary b = new PlantedDictionary(PlantedDictionary.Options.defaults(3));
        assertArrayEquals(a.dictionary(), b.dictionary());
        assertArrayEquals(a.sample(100, 5).data(), b.sample(100, 5).data());
        assertTrue(a.expectedActive() > 0.9 && a.expectedActive() < 1.0, "spec default: about one active feature per row");
    }

    @Test
    void rejectsBadOptions() {
        assertThrows(IllegalArgumentException.class, () -> new PlantedDictionary.Options(0, 5, 1, 0.9, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new PlantedDictionary.Options(5, 5, 6, 0.9, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new PlantedDictionary.Options(5, 5, 1, 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new PlantedDictionary.Options(5, 5, 1, 0.9, -1, 1));
    }

    /** Gauss-Jordan inverse of F (rows = features): x = c F gives c = x F⁻¹. */
    private static double[][] invert(float[] f, int n) {
        double[][] a = new double[n][2 * n];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < n; c++) {
                a[r][c] = f[r * n + c];
            }
            a[r][n + r] = 1;
        }
        for (int c = 0; c < n; c++) {
            int piv = c;
            for (int r = c + 1; r < n; r++) {
                if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) {
                    piv = r;
                }
            }
            double[] t = a[c];
            a[c] = a[piv];
            a[piv] = t;
            double d = a[c][c];
            for (int k = 0; k < 2 * n; k++) {
                a[c][k] /= d;
            }
            for (int r = 0; r < n; r++) {
                if (r != c && a[r][c] != 0) {
                    double s = a[r][c];
                    for (int k = 0; k < 2 * n; k++) {
                        a[r][k] -= s * a[c][k];
                    }
                }
            }
        }
        double[][] inv = new double[n][n];
        for (int r = 0; r < n; r++) {
            System.arraycopy(a[r], n, inv[r], 0, n);
        }
        return inv;
    }
}
