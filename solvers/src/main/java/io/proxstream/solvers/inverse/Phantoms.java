package io.proxstream.solvers.inverse;

import java.util.SplittableRandom;

/**
 * Test images on [−1, 1]² (y up): the modified Shepp-Logan head phantom (Toft's contrast-enhanced
 * intensities, as in MATLAB's {@code phantom('Modified Shepp-Logan')} and scikit-image) and seeded
 * random-ellipse phantoms, the usual synthetic training set for learned CT reconstruction. Pixels
 * are averaged over 3×3 sub-samples.
 */
public final class Phantoms {
    /** Rows: intensity, semi-axis a (x), semi-axis b (y), centre x, centre y, rotation (degrees). */
    private static final double[][] MODIFIED_SHEPP_LOGAN = {
        {1.0, 0.69, 0.92, 0, 0, 0},
        {-0.8, 0.6624, 0.8740, 0, -0.0184, 0},
        {-0.2, 0.1100, 0.3100, 0.22, 0, -18},
        {-0.2, 0.1600, 0.4100, -0.22, 0, 18},
        {0.1, 0.2100, 0.2500, 0, 0.35, 0},
        {0.1, 0.0460, 0.0460, 0, 0.1, 0},
        {0.1, 0.0460, 0.0460, 0, -0.1, 0},
        {0.1, 0.0460, 0.0230, -0.08, -0.605, 0},
        {0.1, 0.0230, 0.0230, 0, -0.606, 0},
        {0.1, 0.0230, 0.0460, 0.06, -0.605, 0},
    };

    private Phantoms() {
    }

    /** The modified Shepp-Logan phantom, {@code n × n}, values in [0, 1]. */
    public static float[] sheppLogan(int n) {
        return render(n, MODIFIED_SHEPP_LOGAN);
    }

    /**
     * A random-ellipse phantom: 5 to 14 ellipses with semi-axes in [0.05, 0.45], centres within
     * radius 0.6, random rotation, intensities in [−0.4, 1] added up and clipped to [0, 1];
     * deterministic in {@code seed}.
     */
    public static float[] randomEllipses(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int k = 5 + r.nextInt(10);
        double[][] e = new double[k][];
        for (int i = 0; i < k; i++) {
            double rad = 0.6 * Math.sqrt(r.nextDouble());
            double phi = 2 * Math.PI * r.nextDouble();
            e[i] = new double[] {-0.4 + 1.4 * r.nextDouble(), 0.05 + 0.4 * r.nextDouble(), 0.05 + 0.4 * r.nextDouble(),
                rad * Math.cos(phi), rad * Math.sin(phi), 180 * r.nextDouble()};
        }
        float[] img = render(n, e);
        for (int i = 0; i < img.length; i++) {
            img[i] = Math.min(1f, Math.max(0f, img[i]));
        }
        return img;
    }

    private static float[] render(int n, double[][] ellipses) {
        if (n <= 0) {
            throw new IllegalArgumentException("phantom size must be positive, got " + n);
        }
        float[] img = new float[n * n];
        int ss = 3;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double v = 0;
                for (int a = 0; a < ss; a++) {
                    for (int b = 0; b < ss; b++) {
                        double x = ((j + (b + 0.5) / ss) / n) * 2 - 1;
                        double y = 1 - ((i + (a + 0.5) / ss) / n) * 2;
                        for (double[] e : ellipses) {
                            double phi = Math.toRadians(e[5]);
                            double dx = x - e[3];
                            double dy = y - e[4];
                            double xr = dx * Math.cos(phi) + dy * Math.sin(phi);
                            double yr = -dx * Math.sin(phi) + dy * Math.cos(phi);
                            if ((xr * xr) / (e[1] * e[1]) + (yr * yr) / (e[2] * e[2]) <= 1) {
                                v += e[0];
                            }
                        }
                    }
                }
                img[i * n + j] = (float) (v / (ss * ss));
            }
        }
        return img;
    }
}
