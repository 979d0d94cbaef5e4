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

    /**
     * The phantom families an experiment can draw from: piecewise-constant random ellipses (TV's home ground) and
     * textured, anatomy-like phantoms on which a learned prior has something to learn beyond edges.
     */
    public enum Family {
        ELLIPSES("ellipses"), TEXTURED("textured");

        private final String id;

        Family(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        /** The phantom of this family with {@code seed}, {@code n × n}, values in [0, 1]. */
        public float[] draw(int n, long seed) {
            return this == ELLIPSES ? randomEllipses(n, seed) : textured(n, seed);
        }

        public static Family fromId(String id) {
            for (Family f : values()) {
                if (f.id.equals(id)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("unknown phantom family '" + id + "'; choose ellipses or textured");
        }
    }

    /**
     * A textured, anatomy-like phantom: a body ellipse of soft-tissue intensity (0.45–0.6) with a bright rim
     * (0.9–1, like a skull or rib cage), 4 to 9 inner "organs" (ellipses within the body) whose intensity varies
     * smoothly (a linear ramp across each of up to ±0.15), and a fine texture inside the body: a sum of 24 plane
     * waves with random directions, periods of 3 to 10 pixels at n = 128 (0.05–0.15 of the field's width
     * [−1, 1]) and a total standard deviation of about 0.03, modulated by a smooth envelope so that it is
     * stronger in some regions than others. Clipped to [0, 1]; deterministic in {@code seed}. TV favours
     * piecewise-constant images, so on these both the ramps and the texture cost it, while a learned prior can
     * model them.
     */
    public static float[] textured(int n, long seed) {
        if (n <= 0) {
            throw new IllegalArgumentException("phantom size must be positive, got " + n);
        }
        SplittableRandom r = new SplittableRandom(seed);
        double bodyA = 0.75 + 0.15 * r.nextDouble();
        double bodyB = 0.6 + 0.2 * r.nextDouble();
        double bodyRot = 20 * (r.nextDouble() - 0.5);
        double rim = 0.04 + 0.03 * r.nextDouble();
        double rimI = 0.9 + 0.1 * r.nextDouble();
        double tissue = 0.45 + 0.15 * r.nextDouble();
        int k = 4 + r.nextInt(6);
        // organs: intensity, semi-axes, centre, rotation, ramp gx, gy (per unit length)
        double[][] organs = new double[k][];
        for (int i = 0; i < k; i++) {
            double rad = 0.45 * Math.sqrt(r.nextDouble());
            double phi = 2 * Math.PI * r.nextDouble();
            organs[i] = new double[] {-0.35 + 0.8 * r.nextDouble(), 0.05 + 0.22 * r.nextDouble(), 0.05 + 0.22 * r.nextDouble(),
                rad * Math.cos(phi) * bodyA / 0.9, rad * Math.sin(phi) * bodyB / 0.8, 180 * r.nextDouble(),
                0.3 * (r.nextDouble() - 0.5), 0.3 * (r.nextDouble() - 0.5)};
        }
        int waves = 24;
        double[][] w = new double[waves][];
        for (int i = 0; i < waves; i++) {
            double dir = 2 * Math.PI * r.nextDouble();
            double period = 0.05 + 0.10 * r.nextDouble();
            double f = 2 * Math.PI / period;
            w[i] = new double[] {f * Math.cos(dir), f * Math.sin(dir), 2 * Math.PI * r.nextDouble()};
        }
        double amp = 0.03 * Math.sqrt(2.0 / waves);
        double[] env = {2 * Math.PI * r.nextDouble(), 2 * Math.PI * r.nextDouble(), 1.5 + 2 * r.nextDouble()};
        float[] img = new float[n * n];
        int ss = 3;
        double cb = Math.cos(Math.toRadians(bodyRot));
        double sb = Math.sin(Math.toRadians(bodyRot));
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double v = 0;
                for (int a = 0; a < ss; a++) {
                    for (int b = 0; b < ss; b++) {
                        double x = ((j + (b + 0.5) / ss) / n) * 2 - 1;
                        double y = 1 - ((i + (a + 0.5) / ss) / n) * 2;
                        double xr = x * cb + y * sb;
                        double yr = -x * sb + y * cb;
                        double q = (xr * xr) / (bodyA * bodyA) + (yr * yr) / (bodyB * bodyB);
                        if (q > 1) {
                            continue;
                        }
                        double inner = (xr * xr) / ((bodyA - rim) * (bodyA - rim)) + (yr * yr) / ((bodyB - rim) * (bodyB - rim));
                        if (inner > 1) {
                            v += rimI;
                            continue;
                        }
                        double s = tissue;
                        for (double[] e : organs) {
                            if (inside(e, x, y)) {
                                s += e[0] + e[6] * (x - e[3]) / e[1] * 0.5 + e[7] * (y - e[4]) / e[2] * 0.5;
                            }
                        }
                        double tex = 0;
                        for (double[] c : w) {
                            tex += Math.cos(c[0] * x + c[1] * y + c[2]);
                        }
                        double envelope = 0.5 + 0.5 * Math.sin(env[2] * x + env[0]) * Math.cos(env[2] * y + env[1]);
                        v += Math.min(1, Math.max(0, s + amp * (0.5 + envelope) * tex));
                    }
                }
                img[i * n + j] = (float) Math.min(1, Math.max(0, v / (ss * ss)));
            }
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
                            if (inside(e, x, y)) {
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

    /** Whether (x, y) lies in the ellipse {@code e} = (intensity, semi-axis a, semi-axis b, centre x, centre y, rotation in degrees, …). */
    private static boolean inside(double[] e, double x, double y) {
        double phi = Math.toRadians(e[5]);
        double dx = x - e[3];
        double dy = y - e[4];
        double xr = dx * Math.cos(phi) + dy * Math.sin(phi);
        double yr = -dx * Math.sin(phi) + dy * Math.cos(phi);
        return (xr * xr) / (e[1] * e[1]) + (yr * yr) / (e[2] * e[2]) <= 1;
    }
}
