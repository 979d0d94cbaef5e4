package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LatentHealthTest {

    /**
     * d = 2, m = 4, TopK k = 1; every figure worked out by hand:
     * <pre>
     *   encoder rows e1, e2, −e1, 0 and zero biases; atoms (1,0), (0,1), (−0.5,0), (0.6,0.8); b_dec = 0
     *   x1 = (2,0)   → latent 0 (2)   x̂ = (2,0)     ‖x̂‖/‖x‖ = 1
     *   x2 = (0,1)   → latent 1 (1)   x̂ = (0,1)     1
     *   x3 = (−3,0)  → latent 2 (3)   x̂ = (−1.5,0)  0.5      ‖r‖² = 2.25
     *   x4 = (1,0.5) → latent 0 (1)   x̂ = (1,0)     1/√1.25  ‖r‖² = 0.25
     * </pre>
     * Densities 2/4, 1/4, 1/4, 0 → three latents in the [0.1, 1] bucket, one silent; dense above 0.3:
     * latent 0 only. Atom cosines: 0, −1, 0.6, 0, 0.8, −0.6 → max 0.8. SSE 2.5, MSE 2.5/8;
     * Σ‖x‖² = 15.25, n‖x̄‖² = 4·0.375² → FVU = 2.5/14.6875.
     */
    @Test
    void handComputedCase() {
        SaeSpec spec = SaeSpec.topK(2, 4, 1);
        float[] enc = {1, 0, 0, 1, -1, 0, 0, 0};
        float[] dec = {1, 0, 0, 1, -0.5f, 0, 0.6f, 0.8f};
        SaeModel model = SaeModel.of(spec, enc, new float[4], dec, new float[2]);
        float[] x = {2, 0, 0, 1, -3, 0, 1, 0.5f};
        for (int batch : new int[] {1, 3, 4}) {
            LatentHealth.Result r = LatentHealth.evaluate(model, x, 4, batch, new LatentHealth.Settings(0.3, 1e9, 1));
            assertEquals(4, r.rows());
            long[] expected = new long[LatentHealth.BUCKETS];
            expected[0] = 1;
            expected[LatentHealth.BUCKETS - 1] = 3;
            assertArrayEquals(expected, r.buckets(), "batch " + batch);
            assertEquals(1, r.silent());
            assertEquals(1, r.dense());
            assertEquals((1 + 1 + 0.5 + 1 / Math.sqrt(1.25)) / 4, r.shrinkage(), 1e-6);
            assertEquals(0.8, r.maxCosine(), 1e-6);
            assertEquals(4, r.cosineAtoms());
            assertEquals(2.5 / 8, r.mse(), 1e-6);
            assertEquals(2.5 / 14.6875, r.fvu(), 1e-6);
            assertEquals(1.0, r.l0(), 0);
        }
        assertEquals("none", LatentHealth.Result.label(0));
        assertEquals("-7", LatentHealth.Result.label(1));
        assertEquals("-1", LatentHealth.Result.label(LatentHealth.BUCKETS - 1));
    }

    /** floor(log10(fired/rows)) at the edges, where a floating-point log would round either way. */
    @Test
    void bucketEdges() {
        int top = LatentHealth.BUCKETS - 1; // exponent −1
        assertEquals(0, LatentHealth.bucket(0, 1000));
        assertEquals(top, LatentHealth.bucket(1000, 1000));
        assertEquals(top, LatentHealth.bucket(100, 1000));          // exactly 0.1
        assertEquals(top - 1, LatentHealth.bucket(99, 1000));       // 0.099
        assertEquals(top - 2, LatentHealth.bucket(1, 1000));        // exactly 1e-3
        assertEquals(top - 3, LatentHealth.bucket(1, 1001));
        assertEquals(top - 2, LatentHealth.bucket(1, 999));
        assertEquals(1, LatentHealth.bucket(1, 1_000_000_000L));    // 1e-9 is clamped into the −7 bucket
        assertEquals(1, LatentHealth.bucket(1, 10_000_000L));       // exactly 1e-7
        assertEquals(2, LatentHealth.bucket(1, 1_000_000L));        // exactly 1e-6
    }

    /** The blockwise scan (more atoms than one block) equals a direct double loop over all pairs. */
    @Test
    void exactScanMatchesAllPairs() {
        int m = 2300;
        int d = 12;
        float[] a = random(m, d, 3);
        java.util.Arrays.fill(a, 1500 * d, 1501 * d, 0f); // a zero atom: left out
        // a planted near-duplicate pair:
        for (int i = 0; i < d; i++) {
            a[2200 * d + i] = a[17 * d + i] * 2.5f + (i == 0 ? 0.01f : 0f);
        }
        double direct = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < m; i++) {
            for (int j = i + 1; j < m; j++) {
                direct = Math.max(direct, cos(a, i, j, d));
            }
        }
        double[] got = LatentHealth.maxCosine(a, m, d, 1e12, 1);
        assertEquals(m, (int) got[1]);
        assertEquals(direct, got[0], 1e-5);
        assertTrue(got[0] > 0.999, "the planted pair is found: " + got[0]);
    }

    /** A sampled scan compares only its sample with everything: a lower bound that is exact over the sampled rows. */
    @Test
    void sampledScanIsExactOverItsSample() {
        int m = 600;
        int d = 8;
        float[] a = random(m, d, 5);
        double flops = 2.0 * 50 * m * d; // 50 atoms against all
        double[] got = LatentHealth.maxCosine(a, m, d, flops, 11);
        assertEquals(50, (int) got[1]);
        int[] probe = LatentHealth.sample(m, 50, new SplittableRandom(11));
        double direct = Double.NEGATIVE_INFINITY;
        for (int i : probe) {
            for (int j = 0; j < m; j++) {
                if (j != i) {
                    direct = Math.max(direct, cos(a, i, j, d));
                }
            }
        }
        assertEquals(direct, got[0], 1e-5);
        assertTrue(got[0] <= LatentHealth.maxCosine(a, m, d, 1e12, 1)[0] + 1e-6);
    }

    private static float[] random(int m, int d, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] a = new float[m * d];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    private static double cos(float[] a, int i, int j, int d) {
        double ab = 0;
        double aa = 0;
        double bb = 0;
        for (int t = 0; t < d; t++) {
            ab += (double) a[i * d + t] * a[j * d + t];
            aa += (double) a[i * d + t] * a[i * d + t];
            bb += (double) a[j * d + t] * a[j * d + t];
        }
        return aa == 0 || bb == 0 ? Double.NEGATIVE_INFINITY : ab / Math.sqrt(aa * bb);
    }
}
