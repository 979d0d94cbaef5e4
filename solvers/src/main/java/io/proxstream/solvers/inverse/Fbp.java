package io.proxstream.solvers.inverse;

import io.proxstream.solvers.parallel.Parallel;
import java.util.Locale;

/**
 * Filtered back-projection for the parallel-beam geometry of {@link RayTransform}: each projection
 * is convolved with the ramp filter (built in the spatial domain, h(0) = 1/4, h(n) = −1/(πn)² for
 * odd n, 0 for even n, then transformed, which avoids the DC error of a sampled |ω|), optionally
 * apodised by a window, and smeared back along its rays with linear interpolation, weighted by the
 * angular spacing (Kak and Slaney, "Principles of Computerized Tomographic Imaging", ch. 3).
 * Not linear-operator adjoint-paired: it is a reconstruction formula.
 */
public final class Fbp {

    /** Ramp filter windows; {@code u} is the frequency in cycles per sample, |u| ≤ ½. */
    public enum Filter {
        RAM_LAK("ram-lak"), SHEPP_LOGAN("shepp-logan"), COSINE("cosine"), HAMMING("hamming"), HANN("hann");

        private final String id;

        Filter(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        double window(double u) {
            return switch (this) {
                case RAM_LAK -> 1;
                case SHEPP_LOGAN -> u == 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
                case COSINE -> Math.cos(Math.PI * u);
                case HAMMING -> 0.54 + 0.46 * Math.cos(2 * Math.PI * u);
                case HANN -> 0.5 + 0.5 * Math.cos(2 * Math.PI * u);
            };
        }

        public static Filter fromId(String name) {
            for (Filter f : values()) {
                if (f.id.equals(name.toLowerCase(Locale.ROOT))) {
                    return f;
                }
            }
            throw new IllegalArgumentException("unknown FBP filter '" + name + "'; valid: ram-lak, shepp-logan, cosine, hamming, hann");
        }
    }

    private final RayTransform geometry;
    private final Filter filter;
    private final double[] response;
    private final int padded;

    public Fbp(RayTransform geometry, Filter filter) {
        this.geometry = geometry;
        this.filter = filter;
        int d = geometry.detectors();
        this.padded = Fft.nextPowerOfTwo(2 * d);
        double[] re = new double[padded];
        double[] im = new double[padded];
        re[0] = 0.25;
        for (int n = 1; n < padded / 2; n++) {
            if (n % 2 == 1) {
                double v = -1.0 / (Math.PI * Math.PI * n * n);
                re[n] = v;
                re[padded - n] = v;
            }
        }
        Fft.transform(re, im, false);
        response = new double[padded];
        for (int k = 0; k < padded; k++) {
            double u = (k <= padded / 2 ? k : k - padded) / (double) padded;
            response[k] = re[k] * filter.window(u);
        }
    }

    public Filter filter() {
        return filter;
    }

    /** The ray transform this inverts. */
    public RayTransform geometry() {
        return geometry;
    }

    /** The same geometry with another filter (this one if the filter is the same). */
    public Fbp withFilter(Filter other) {
        return other == filter ? this : new Fbp(geometry, other);
    }

    /** Reconstructs an image ({@code h × w}) from a sinogram ({@code angles × detectors}). */
    public float[] reconstruct(float[] sinogram) {
        int[] range = geometry.rangeShape();
        int na = range[0];
        int d = range[1];
        Vectors.requireLength("sinogram", sinogram, na * d);
        float[] filtered = new float[na * d];
        Parallel.forRange(na, 1, (from, to) -> {
            double[] re = new double[padded];
            double[] im = new double[padded];
            for (int a = from; a < to; a++) {
                java.util.Arrays.fill(re, 0);
                java.util.Arrays.fill(im, 0);
                for (int k = 0; k < d; k++) {
                    re[k] = sinogram[a * d + k];
                }
                Fft.transform(re, im, false);
                for (int k = 0; k < padded; k++) {
                    re[k] *= response[k];
                    im[k] *= response[k];
                }
                Fft.transform(re, im, true);
                for (int k = 0; k < d; k++) {
                    filtered[a * d + k] = (float) (re[k] / geometry.spacing());
                }
            }
        });
        int[] dom = geometry.domainShape();
        int h = dom[0];
        int w = dom[1];
        double[] angles = geometry.angles();
        double dTheta = Angles.spacing(angles);
        double[] cos = new double[na];
        double[] sin = new double[na];
        for (int a = 0; a < na; a++) {
            cos[a] = Math.cos(angles[a]);
            sin[a] = Math.sin(angles[a]);
        }
        double centreDet = (d - 1) / 2.0;
        double spacing = geometry.spacing();
        float[] out = new float[h * w];
        Parallel.forRange(h, 4, (from, to) -> {
            for (int i = from; i < to; i++) {
                double y = (h - 1) / 2.0 - i;
                for (int j = 0; j < w; j++) {
                    double x = j - (w - 1) / 2.0;
                    double sum = 0;
                    for (int a = 0; a < na; a++) {
                        double t = (x * cos[a] + y * sin[a]) / spacing + centreDet;
                        int k0 = (int) Math.floor(t);
                        if (k0 < 0 || k0 + 1 >= d) {
                            continue;
                        }
                        double f = t - k0;
                        sum += (1 - f) * filtered[a * d + k0] + f * filtered[a * d + k0 + 1];
                    }
                    out[i * w + j] = (float) (sum * dTheta);
                }
            }
        });
        return out;
    }
}
