package io.proxstream.solvers.inverse;

import io.proxstream.solvers.parallel.Parallel;

/**
 * Convolution with a small odd-sized kernel, zero outside the image ("same" size); the adjoint is
 * correlation with the same kernel. Kernels: Gaussian, box (both separable: applied as a column
 * pass and a row pass, which with zero boundaries is exactly the 2-D convolution), and linear
 * motion (a general 2-D kernel). The loops run along image rows with the boundary handled by the
 * loop bounds, so the innermost loop is a contiguous multiply-add the JIT vectorises.
 */
public final class Blur implements LinearOperator {
    private final int h;
    private final int w;
    private final float[] kernel;
    private final int size;
    /** Factors of a separable kernel, kernel[u, v] = col[u] · row[v]; null for a general kernel. */
    private final float[] col;
    private final float[] row;
    /** The kernel's rows (general path), and the column factor as one-tap rows (separable path). */
    private final float[][] kernelRows;
    private final float[][] colTaps;

    /** A blur by {@code kernel} ({@code size × size}, size odd, row-major). */
    public Blur(int h, int w, float[] kernel, int size) {
        this(h, w, kernel, size, null, null);
    }

    /** A separable blur, kernel[u, v] = col[u] · row[v] (odd length). */
    public static Blur separable(int h, int w, float[] col, float[] row) {
        if (col.length != row.length) {
            throw new IllegalArgumentException("separable kernel factors differ in length: " + col.length + " and " + row.length);
        }
        int n = col.length;
        float[] k = new float[n * n];
        for (int u = 0; u < n; u++) {
            for (int v = 0; v < n; v++) {
                k[u * n + v] = col[u] * row[v];
            }
        }
        return new Blur(h, w, k, n, col.clone(), row.clone());
    }

    private Blur(int h, int w, float[] kernel, int size, float[] col, float[] row) {
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
        this.col = col;
        this.row = row;
        this.kernelRows = new float[size][];
        for (int u = 0; u < size; u++) {
            kernelRows[u] = java.util.Arrays.copyOfRange(kernel, u * size, (u + 1) * size);
        }
        this.colTaps = new float[size][];
        for (int u = 0; u < size; u++) {
            colTaps[u] = new float[] {col == null ? 0 : col[u]};
        }
    }

    /** Normalised Gaussian kernel of standard deviation {@code sigma} pixels, truncated at 3σ. */
    public static Blur gaussian(int h, int w, double sigma) {
        if (!(sigma > 0) || Double.isInfinite(sigma)) {
            throw new IllegalArgumentException("Gaussian blur sigma must be positive, got " + sigma);
        }
        int r = Math.max(1, (int) Math.ceil(3 * sigma));
        int size = 2 * r + 1;
        float[] g = new float[size];
        double sum = 0;
        for (int i = -r; i <= r; i++) {
            double v = Math.exp(-(i * i) / (2 * sigma * sigma));
            g[i + r] = (float) v;
            sum += v;
        }
        normalise(g, sum);
        return separable(h, w, g, g);
    }

    /** Uniform {@code size × size} average (size odd). */
    public static Blur box(int h, int w, int size) {
        if (size <= 0 || size % 2 == 0) {
            throw new IllegalArgumentException("box size must be odd and positive, got " + size);
        }
        float[] b = new float[size];
        java.util.Arrays.fill(b, 1f / size);
        return separable(h, w, b, b);
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
        if (col != null) {
            // rows first (1-D kernel `row`), then columns: each output row is Σ_u col[u] · (row-filtered row ii)
            float[] tmp = new float[h * w];
            Parallel.forRange(h, 4, (from, to) -> {
                for (int i = from; i < to; i++) {
                    java.util.Arrays.fill(tmp, i * w, (i + 1) * w, 0f);
                    rowPass(in, i * w, tmp, i * w, row, r, correlate);
                }
            });
            combineRows(tmp, out, colTaps, 0, correlate);
        } else {
            combineRows(in, out, kernelRows, r, correlate);
        }
    }

    /**
     * out row i = Σ_u (taps[u] applied along row ii of src), ii = i − u + r (convolution) or
     * i + u − r (correlation); rows outside the image contribute nothing.
     */
    private void combineRows(float[] src, float[] out, float[][] taps, int tapRadius, boolean correlate) {
        int r = size / 2;
        Parallel.forRange(h, 4, (from, to) -> {
            for (int i = from; i < to; i++) {
                java.util.Arrays.fill(out, i * w, (i + 1) * w, 0f);
                for (int u = 0; u < size; u++) {
                    int ii = correlate ? i + u - r : i - u + r;
                    if (ii >= 0 && ii < h) {
                        rowPass(src, ii * w, out, i * w, taps[u], tapRadius, correlate);
                    }
                }
            }
        });
    }

    /** dst[d + j] += Σ_v k[v] src[s + j + off_v] over the valid j, off_v = v − r (correlation) or r − v. */
    private void rowPass(float[] src, int s, float[] dst, int d, float[] k, int r, boolean correlate) {
        for (int v = 0; v < k.length; v++) {
            float kv = k[v];
            if (kv == 0) {
                continue;
            }
            int off = correlate ? v - r : r - v;
            int jlo = Math.max(0, -off);
            int jhi = Math.min(w, w - off);
            for (int j = jlo; j < jhi; j++) {
                dst[d + j] += kv * src[s + j + off];
            }
        }
    }
}
