package io.proxstream.solvers.inverse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ImageMetricsTest {

    @Test
    void psnrByHand() {
        // MSE = 1/4, data range 3: 10 log10(9 / 0.25) = 15.5630 dB
        assertEquals(15.563025, ImageMetrics.psnr(new float[] {0, 1, 2, 3}, new float[] {0, 1, 2, 4}), 1e-5);
        assertEquals(Double.POSITIVE_INFINITY, ImageMetrics.psnr(new float[] {0, 1}, new float[] {0, 1}));
        assertEquals(0.5, ImageMetrics.relativeError(new float[] {3, 4}, new float[] {3, 6.5f}), 1e-6);
    }

    /** On a 7×7 image only the centre pixel survives the crop: SSIM is the textbook formula on all 49 pixels. */
    @Test
    void ssimOfASingleWindowByHand() {
        float[] a = new float[49];
        float[] b = new float[49];
        for (int i = 0; i < 49; i++) {
            a[i] = i;
            b[i] = (float) (i + 3 * Math.sin(i) + 5);
        }
        double ma = 0;
        double mb = 0;
        for (int i = 0; i < 49; i++) {
            ma += a[i] / 49.0;
            mb += b[i] / 49.0;
        }
        double va = 0;
        double vb = 0;
        double cab = 0;
        for (int i = 0; i < 49; i++) {
            va += (a[i] - ma) * (a[i] - ma) / 48.0;
            vb += (b[i] - mb) * (b[i] - mb) / 48.0;
            cab += (a[i] - ma) * (b[i] - mb) / 48.0;
        }
        double c1 = Math.pow(0.01 * 48, 2);
        double c2 = Math.pow(0.03 * 48, 2);
        double expected = (2 * ma * mb + c1) * (2 * cab + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        assertEquals(expected, ImageMetrics.ssim(a, b, 7, 7), 1e-9);
        assertEquals(1.0, ImageMetrics.ssim(a, a, 7, 7), 1e-12);
    }

    @Test
    void ssimFallsWithNoiseAndRejectsTinyImages() {
        float[] t = Phantoms.sheppLogan(64);
        float[] n = OperatorTestSupport.random(64 * 64, 1);
        float[] small = t.clone();
        float[] big = t.clone();
        for (int i = 0; i < t.length; i++) {
            small[i] += 0.02f * n[i];
            big[i] += 0.2f * n[i];
        }
        double s1 = ImageMetrics.ssim(t, small, 64, 64);
        double s2 = ImageMetrics.ssim(t, big, 64, 64);
        assertTrue(s1 > s2 && s1 < 1 && s2 > 0, s1 + " " + s2);
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.ssim(new float[36], new float[36], 6, 6));
        assertEquals(0, ImageMetrics.reflect(-1, 5));
        assertEquals(4, ImageMetrics.reflect(5, 5));
        assertEquals(3, ImageMetrics.reflect(6, 5));
    }

    @Test
    void phantomsAreDeterministicAndInRange() {
        float[] a = Phantoms.randomEllipses(32, 5);
        float[] b = Phantoms.randomEllipses(32, 5);
        float[] c = Phantoms.randomEllipses(32, 6);
        assertTrue(java.util.Arrays.equals(a, b) && !java.util.Arrays.equals(a, c));
        float[] sl = Phantoms.sheppLogan(64);
        double max = 0;
        for (float v : sl) {
            assertTrue(v >= -1e-6 && v <= 1 + 1e-6);
            max = Math.max(max, v);
        }
        assertEquals(1.0, max, 1e-6, "the skull is the brightest part, intensity 1");
        assertEquals(0.2, sl[32 * 64 + 16], 1e-6, "brain tissue is 1 - 0.8 = 0.2");
    }
}
