package io.proxstream.solvers.spline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.sae.SaeModel;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SplineToolkitTest {

    /** n points near c centres in d dimensions, spread s. */
    private static Dataset blobs(int n, int d, int c, double spread, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] centres = new float[c * d];
        for (int i = 0; i < centres.length; i++) {
            centres[i] = (float) (10 * r.nextDouble(-1, 1));
        }
        float[] x = new float[n * d];
        for (int i = 0; i < n; i++) {
            int j = i % c;
            for (int t = 0; t < d; t++) {
                x[i * d + t] = centres[j * d + t] + (float) (spread * SaeModel.gaussian(r));
            }
        }
        return new Dataset(x, n, d);
    }

    @Test
    void kMeansObjectiveNeverIncreasesAndSeparatedBlobsAreFound() {
        Dataset data = blobs(600, 5, 6, 0.3, 1);
        KMeans.Result r = KMeans.fit(data, 6, 100, 7);
        double[] obj = r.objective();
        for (int i = 1; i < obj.length; i++) {
            assertTrue(obj[i] <= obj[i - 1] * (1 + 1e-12), "objective rose at iteration " + i + ": " + obj[i - 1] + " -> " + obj[i]);
        }
        assertTrue(r.converged());
        // every blob (points i ≡ j mod 6) lands in one cluster, and the clusters differ
        java.util.Set<Integer> used = new java.util.HashSet<>();
        for (int j = 0; j < 6; j++) {
            int label = r.assignment()[j];
            for (int i = j; i < 600; i += 6) {
                assertEquals(label, r.assignment()[i], "blob " + j);
            }
            used.add(label);
        }
        assertEquals(6, used.size());
        // within-cluster variance is the noise: 5 dimensions x 0.09
        assertEquals(5 * 0.09, r.meanSquaredDistance(), 0.1);
        assertArrayEquals(r.centroids(), KMeans.fit(data, 6, 100, 7).centroids(), "seeded: the same clustering again");
    }

    @Test
    void kMeansObjectiveIsMonotoneOnOverlappingDataToo() {
        Dataset data = blobs(2000, 8, 3, 4.0, 2);
        KMeans.Result r = KMeans.fit(data, 25, 60, 3);
        double[] obj = r.objective();
        for (int i = 1; i < obj.length; i++) {
            assertTrue(obj[i] <= obj[i - 1] * (1 + 1e-12), "iteration " + i);
        }
        assertTrue(obj[obj.length - 1] < 0.8 * obj[0], "Lloyd improves on the k-means++ start");
    }

    @Test
    void localPcaWithFullRankIsExactAndWithRankZeroIsKMeans() {
        Dataset data = blobs(300, 6, 4, 1.0, 3);
        KMeans.Result km = KMeans.fit(data, 4, 50, 1);
        KMeansAutoencoder kae = new KMeansAutoencoder(km);
        LocalPcaAutoencoder zero = LocalPcaAutoencoder.fit(data, km, 0);
        LocalPcaAutoencoder full = LocalPcaAutoencoder.fit(data, km, 6);
        float[] a = new float[6];
        float[] b = new float[6];
        float[] x = data.data();
        for (int i = 0; i < data.rows(); i++) {
            kae.reconstruct(x, i * 6, a, 0);
            zero.reconstruct(x, i * 6, b, 0);
            assertArrayEquals(a, b, 0f, "r = 0 is the k-means autoencoder");
            full.reconstruct(x, i * 6, b, 0);
            assertArrayEquals(java.util.Arrays.copyOfRange(x, i * 6, i * 6 + 6), b, 1e-5f, "r = d is exact");
        }
        assertEquals(0, full.evaluate(data)[0], 1e-10);
        assertTrue(kae.evaluate(data)[0] > 0.5);
    }

    @Test
    void rankOneCellsReconstructPointsOnLinesExactly() {
        // three line segments in 10 dimensions, far apart: each k-means cell is one segment, its first principal
        // direction is the segment's direction, so r = 1 reconstructs every point, also new points on the segments
        int d = 10;
        SplittableRandom r = new SplittableRandom(4);
        float[][] base = new float[3][d];
        float[][] dir = new float[3][d];
        for (int c = 0; c < 3; c++) {
            double n = 0;
            for (int t = 0; t < d; t++) {
                base[c][t] = (float) (30 * r.nextDouble(-1, 1));
                dir[c][t] = (float) r.nextDouble(-1, 1);
                n += dir[c][t] * dir[c][t];
            }
            for (int t = 0; t < d; t++) {
                dir[c][t] /= (float) Math.sqrt(n);
            }
        }
        for (int n : new int[] {6, 90}) {       // fewer and more points per cell than dimensions: both Gram paths
            float[] x = new float[3 * n * d];
            for (int i = 0; i < 3 * n; i++) {
                int c = i % 3;
                double s = r.nextDouble(-2, 2);
                for (int t = 0; t < d; t++) {
                    x[i * d + t] = (float) (base[c][t] + s * dir[c][t]);
                }
            }
            Dataset data = new Dataset(x, 3 * n, d);
            KMeans.Result km = KMeans.fit(data, 3, 50, 5);
            LocalPcaAutoencoder pca = LocalPcaAutoencoder.fit(data, km, 1);
            assertTrue(pca.evaluate(data)[0] < 1e-9, "n = " + n + ": MSE " + pca.evaluate(data)[0]);
            float[] fresh = new float[d];
            float[] out = new float[d];
            for (int t = 0; t < d; t++) {
                fresh[t] = (float) (base[1][t] + 1.234 * dir[1][t]);
            }
            pca.reconstruct(fresh, 0, out, 0);
            assertArrayEquals(fresh, out, 1e-4f);
            assertTrue(new KMeansAutoencoder(km).evaluate(data)[0] > 0.02, "piecewise constant cannot do this");
        }
    }

    @Test
    void badArgumentsAreRefused() {
        Dataset data = blobs(10, 2, 2, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> KMeans.fit(data, 11, 5, 1));
        assertThrows(IllegalArgumentException.class, () -> KMeans.fit(data, 0, 5, 1));
        KMeans.Result km = KMeans.fit(data, 2, 5, 1);
        assertThrows(IllegalArgumentException.class, () -> LocalPcaAutoencoder.fit(blobs(12, 2, 2, 1, 1), km, 1));
        assertThrows(IllegalArgumentException.class, () -> new KMeansAutoencoder(km).evaluate(blobs(10, 3, 2, 1, 1)));
    }
}
