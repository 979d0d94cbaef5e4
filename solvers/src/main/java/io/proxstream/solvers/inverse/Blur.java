package io.proxstream.solvers.inverse;

import io.proxstream.solvers.parallel.Parallel;

/**
 * Convolution with a small odd-sized kernel, zero outside the image ("same" size); the adjoint is
 * correlation with the same kernel. Kernels: Gaussian, box, and linear motion.
 */
public final class Blur implements LinearOperator {
    private final int h;
    private final int w;
    private final float[] kernel;
    private final int size;

    /** A blur by {@code kernel} ({@code size × size}, size odd, row-major). */
    public Blur(int h, int w, float[] kernel, int size) {
        if (h <= 0 || w <= 0) {
            throw new IllegalArgumentException("image must be at least 1x1, got " + h + "x" + w);
        }
        if (size <= 0 || size % 2 == 0 || kernel.length != size * size) {
            throw new IllegalArgumentException("kernel must be an odd square, got " + kernel.length + " values for size " + size);
        }
        Vectors.requireFinite("blur kernel", kernel);
        this.h = h;
        this.w = w;
        this.kernel = kernel.clone();
        this.size = size;
    }

    /** Normalised Gaussian kernel of standard deviation {@code sigma} pixels, truncated at 3σ. */
    public static Blur gaussian(int h, int w, double sigma) {
        if (!(sigma > 0) || Double.isInfinite(sigma)) {
            throw new IllegalArgumentException("Gaussian blur sigma must be positive, got " + sigma);
        }
        int r = Math.max(1, (int) Math.ceil(3 * sigma));
        int size = 2 * r + 1;
        float[] k = new float[size * size];
        double sum = 0;
        for (int i = -r; i <= r; i++) {
            for (int j = -r; j <= r; j++) {
                double v = Math.exp(-(i * i + j * j) / (2 * sigma * sigma));
                k[(i + r) * size + (j + r)] = (float) v;
                sum += v;
            }
        }
        return new Blur(h, w, normalise(k, sum), size);
    }

    /** Uniform {@code size × size} average (size odd). */
    public static Blur box(int h, int w, int size) {
        if (size <= 0 || size % 2 == 0) {
            throw new IllegalArgumentException("box size must be odd and positive, got " + size);
        }
        float[] k = new float[size * size];
        java.util.Arrays.fill(k, 1f / (size * size));
        return new Blur(h, w, k, size);
    }

    /** Linear motion of {@code length} pixels at {@code angleDegrees} (anti-clockwise from the x axis). */
    public static Blur motion(int h, int w, double length, double angleDegrees) {
        if (!(length >= 1) || Double.isInfinite(length)) {
            throw new IllegalArgumentException("motion length must be at least one pixel, got " + length);
        }
        int r = (int) Math.ceil(length / 2);
        int size = 2 * r + 1;
        float[] k = new float[size * size];
        double c = Math.cos(Math.toRadians(angleDegrees));
        double s = Math.sin(Math.toRadians(angleDegrees));
        int samples = (int) Math.ceil(length * 8);
        double sum = 0;
        for (int t = 0; t <= samples; t++) {
            double u = -length / 2 + length * t / samples;
            double x = u * c;
            double y = -u * s;
            // bilinear splat of the sample at (row y, column x) relative to the centre
            int i0 = (int) Math.floor(y);
            int j0 = (int) Math.floor(x);
            double fy = y - i0;
            double fx = x - j0;
            double[][] wts = {{(1 - fy) * (1 - fx), (1 - fy) * fx}, {fy * (1 - fx), fy * fx}};
            for (int a = 0; a < 2; a++) {
                for (int b = 0; b < 2; b++) {
                    int i = i0 + a + r;
                    int j = j0 + b + r;
                    if (i >= 0 && i < size && j >= 0 && j < size) {
                        k[i * size + j] += (float) wts[a][b];
                        sum += wts[a][b];
                    }
                }
            }
        }
        return new Blur(h, w, normalise(k, sum), size);
    }

    private static float[] normalise(float[] k, double sum) {
        for (int i = 0; i < k.length; i++) {
            k[i] /= (float) sum;
        }
        return k;
    }

    /** The kernel (a copy). */
    public float[] kernel() {
        return kernel.clone();
    }

    @Override
    public int[] domainShape() {
        return new int[] {h, w};
    }

    @Override
    public int[] rangeShape() {
        return new int[] {h, w};
    }

    @Override
    public void apply(float[] x, float[] out) {
        run(x, out, false);
    }

    @Override
    public void adjoint(float[] y, float[] out) {
        run(y, out, true);
    }

    /** out[i,j] = Σ k[u,v] x[i−u+r, j−v+r] (convolution) or Σ k[u,v] x[i+u−r, j+v−r] (correlation). */
    private void run(float[] in, float[] out, boolean correlate) {
        Vectors.requireLength("image", in, h * w);
        Vectors.requireLength("image", out, h * w);
        int r = size / 2;
        Parallel.forRange(h, 4, (from, to) -> {
            for (int i = from; i < to; i++) {
                for (int j = 0; j < w; j++) {
                    float s = 0;
                    for (int u = 0; u < size; u++) {
                        int ii = correlate ? i + u - r : i - u + r;
                        if (ii < 0 || ii >= h) {
                            continue;
                        }
                        int krow = u * size;
                        int irow = ii * w;
                        for (int v = 0; v < size; v++) {
                            int jj = correlate ? j + v - r : j - v + r;
                            if (jj >= 0 && jj < w) {
                                s += kernel[krow + v] * in[irow + jj];
                            }
                        }
                    }
                    out[i * w + j] = s;
                }
            }
        });
    }
}
