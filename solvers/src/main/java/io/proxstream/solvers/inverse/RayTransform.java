package io.proxstream.solvers.inverse;

import io.proxstream.solvers.parallel.Parallel;
import java.util.Arrays;

/**
 * The 2-D parallel-beam ray transform (Radon transform) with its exactly matched adjoint
 * (back-projection), discretised by Joseph's method: each ray is traversed along the image axis it
 * is closer to, one sample per row (or column), with linear interpolation between the two nearest
 * pixels of that row and the path length per step as weight. The adjoint scatters with the same
 * weights, so ⟨Ax, y⟩ = ⟨x, Aᵀy⟩ up to rounding.
 *
 * <p>Geometry: an {@code h × w} image of unit pixels centred at the origin, x to the right, y up;
 * the ray of angle θ and detector offset s is {x cos θ + y sin θ = s}; detector {@code d} sits at
 * {@code s = (d − (D−1)/2)·spacing}. The sinogram is {@code [angles, D]}. Work is split over angles;
 * the adjoint accumulates into one image per thread and adds them.
 */
public final class RayTransform implements LinearOperator {
    private final int h;
    private final int w;
    private final double[] angles;
    private final int detectors;
    private final double spacing;
    /** Sets of per-thread accumulation images for the adjoint, reused across calls (thread-safe pool). */
    private final java.util.concurrent.ConcurrentLinkedQueue<float[][]> pool = new java.util.concurrent.ConcurrentLinkedQueue<>();

    /**
     * @param detectors detector bins (≥ 1)
     * @param spacing   bin width in pixels (> 0)
     */
    public RayTransform(int h, int w, double[] angles, int detectors, double spacing) {
        if (h <= 0 || w <= 0) {
            throw new IllegalArgumentException("image must be at least 1x1, got " + h + "x" + w);
        }
        if (angles == null || angles.length == 0) {
            throw new IllegalArgumentException("the angle set is empty");
        }
        for (double a : angles) {
            if (!Double.isFinite(a)) {
                throw new IllegalArgumentException("angle set holds a non-finite angle");
            }
        }
        if (detectors <= 0) {
            throw new IllegalArgumentException("detector count must be positive, got " + detectors);
        }
        if (!(spacing > 0) || Double.isInfinite(spacing)) {
            throw new IllegalArgumentException("detector spacing must be positive, got " + spacing);
        }
        this.h = h;
        this.w = w;
        this.angles = angles.clone();
        this.detectors = detectors;
        this.spacing = spacing;
    }

    /** Square image, unit detector spacing, enough detectors to cover the image diagonal. */
    public static RayTransform of(int n, double[] angles) {
        return new RayTransform(n, n, angles, defaultDetectors(n, n), 1.0);
    }

    /** ceil(√(h² + w²)), made odd so that a detector sits on the centre ray. */
    public static int defaultDetectors(int h, int w) {
        int d = (int) Math.ceil(Math.sqrt((double) h * h + (double) w * w));
        return d % 2 == 0 ? d + 1 : d;
    }

    public double[] angles() {
        return angles.clone();
    }

    public int detectors() {
        return detectors;
    }

    public double spacing() {
        return spacing;
    }

    @Override
    public int[] domainShape() {
        return new int[] {h, w};
    }

    @Override
    public int[] rangeShape() {
        return new int[] {angles.length, detectors};
    }

    @Override
    public void apply(float[] x, float[] out) {
        Vectors.requireLength("image", x, h * w);
        Vectors.requireLength("sinogram", out, angles.length * detectors);
        float[] transposed = needsTranspose() ? transpose(x, h, w) : null;
        Parallel.forRange(angles.length, 1, (from, to) -> {
            for (int a = from; a < to; a++) {
                project(a, x, transposed, out);
            }
        });
    }

    @Override
    public void adjoint(float[] y, float[] out) {
        Vectors.requireLength("sinogram", y, angles.length * detectors);
        Vectors.requireLength("image", out, h * w);
        int parts = Math.min(Parallel.threads(), angles.length);
        float[][] pooled = pool.poll();
        if (pooled == null || pooled.length < parts) {
            pooled = new float[Parallel.threads()][2 * h * w];
        }
        float[][] accumulators = pooled;
        Parallel.forRange(parts, 1, (pf, pt) -> {
            for (int p = pf; p < pt; p++) {
                float[] acc = accumulators[p];
                Arrays.fill(acc, 0f);
                int from = (int) ((long) angles.length * p / parts);
                int to = (int) ((long) angles.length * (p + 1) / parts);
                for (int a = from; a < to; a++) {
                    backProject(a, y, acc);
                }
            }
        });
        int hw = h * w;
        Parallel.forRange(h, 8, (from, to) -> {
            for (int i = from; i < to; i++) {
                for (int j = 0; j < w; j++) {
                    float s = 0;
                    for (int p = 0; p < parts; p++) {
                        // row-stepping angles accumulate in [0, hw) as image, column-stepping in [hw, 2hw) transposed
                        s += accumulators[p][i * w + j] + accumulators[p][hw + j * h + i];
                    }
                    out[i * w + j] = s;
                }
            }
        });
        pool.offer(accumulators);
    }

    private boolean needsTranspose() {
        for (double a : angles) {
            if (Math.abs(Math.sin(a)) > Math.abs(Math.cos(a))) {
                return true;
            }
        }
        return false;
    }

    private static float[] transpose(float[] x, int rows, int cols) {
        float[] t = new float[x.length];
        Parallel.forRange(rows, 16, (from, to) -> {
            for (int i = from; i < to; i++) {
                for (int j = 0; j < cols; j++) {
                    t[j * rows + i] = x[i * cols + j];
                }
            }
        });
        return t;
    }

    /**
     * One angle's rays, written into {@code out[a]}. Rows-stepping when the ray is closer to
     * vertical (|cos θ| ≥ |sin θ|), else column stepping on the transposed image.
     */
    private void project(int a, float[] x, float[] transposed, float[] out) {
        double c = Math.cos(angles[a]);
        double s = Math.sin(angles[a]);
        int o = a * detectors;
        Arrays.fill(out, o, o + detectors, 0f);
        if (Math.abs(c) >= Math.abs(s)) {
            // row i at y_i = (h-1)/2 - i: x = (s_d - y_i sin)/cos, column coordinate x + (w-1)/2
            sweep(x, h, w, c, s, false, out, o);
        } else {
            // column j at x_j = j - (w-1)/2: y = (s_d - x_j cos)/sin, row coordinate (h-1)/2 - y
            sweep(transposed, w, h, s, c, true, out, o);
        }
    }

    /**
     * The inner loops of both cases on a row-major image {@code img} of {@code lines × len}: line
     * {@code l} sits at {@code t_l} on the stepping axis, the interpolation axis coordinate is
     * {@code (s_d − t_l·b)/a} (mirrored for the transposed case, where the row axis points down).
     * The detectors whose sample falls strictly inside the line (both neighbours exist) take a
     * branch-free path; the few at the ends take the checked one.
     */
    private void sweep(float[] img, int lines, int len, double a, double b, boolean transposedCase, float[] out, int o) {
        float weight = (float) (1.0 / Math.abs(a));
        double centreLine = (lines - 1) / 2.0;
        double centreLen = (len - 1) / 2.0;
        double s0 = -(detectors - 1) / 2.0 * spacing;
        double step = spacing / a;
        double cStep = transposedCase ? -step : step;
        int[] range = new int[2];
        for (int l = 0; l < lines; l++) {
            double t = transposedCase ? l - centreLine : centreLine - l;
            double u0 = (s0 - t * b) / a;
            double c0 = transposedCase ? centreLen - u0 : u0 + centreLen;
            int row = l * len;
            interior(c0, cStep, len, range);
            int lo = range[0];
            int hi = range[1];
            // at most two detectors on each side touch the line with one neighbour outside it
            for (int d = Math.max(0, lo - 2); d < lo; d++) {
                out[o + d] += weight * edgeSample(img, row, len, c0 + d * cStep);
            }
            int last = row + len - 2;
            double coord = c0 + lo * cStep;
            for (int d = lo; d < hi; d++, coord += cStep) {
                int k0 = (int) coord;
                float f = (float) (coord - k0);
                // the running coordinate may drift by rounding past the last interior pixel: clamp
                int p = Math.min(row + k0, last);
                float left = img[p];
                out[o + d] += weight * (left + f * (img[p + 1] - left));
            }
            for (int d = Math.max(lo, hi); d < Math.min(detectors, Math.max(lo, hi) + 2); d++) {
                out[o + d] += weight * edgeSample(img, row, len, c0 + d * cStep);
            }
        }
    }

    /**
     * The detectors {@code [range[0], range[1])} whose coordinate {@code c0 + d·cStep} lies in
     * [0, len − 1), i.e. with both interpolation neighbours inside the line.
     */
    private void interior(double c0, double cStep, int len, int[] range) {
        double lo;
        double hi;
        if (cStep > 0) {
            lo = -c0 / cStep;
            hi = (len - 1 - c0) / cStep;
        } else {
            lo = (len - 1 - c0) / cStep;
            hi = -c0 / cStep;
        }
        int from = (int) Math.max(0, Math.ceil(lo));
        int to = (int) Math.min(detectors, Math.ceil(hi));
        // guard the rounding at both ends: shrink until the end points are strictly inside
        while (from < to && !inside(c0 + from * cStep, len)) {
            from++;
        }
        while (to > from && !inside(c0 + (to - 1) * cStep, len)) {
            to--;
        }
        range[0] = from;
        range[1] = Math.max(from, to);
    }

    private static boolean inside(double coord, int len) {
        return coord >= 0 && coord < len - 1;
    }

    /** Linear interpolation with zero outside the line. */
    private static float edgeSample(float[] img, int row, int len, double coord) {
        int k0 = (int) Math.floor(coord);
        if (k0 < -1 || k0 >= len) {
            return 0f;
        }
        float f = (float) (coord - k0);
        float v = 0f;
        if (k0 >= 0) {
            v += (1f - f) * img[row + k0];
        }
        if (k0 + 1 < len) {
            v += f * img[row + k0 + 1];
        }
        return v;
    }

    /** Scatters angle {@code a}'s sinogram row into {@code acc} with the weights of {@link #project}. */
    private void backProject(int a, float[] y, float[] acc) {
        double c = Math.cos(angles[a]);
        double s = Math.sin(angles[a]);
        int o = a * detectors;
        if (Math.abs(c) >= Math.abs(s)) {
            scatter(acc, 0, h, w, c, s, false, y, o);
        } else {
            scatter(acc, h * w, w, h, s, c, true, y, o);
        }
    }

    private void scatter(float[] acc, int accOffset, int lines, int len, double a, double b, boolean transposedCase,
                         float[] y, int o) {
        float weight = (float) (1.0 / Math.abs(a));
        double centreLine = (lines - 1) / 2.0;
        double centreLen = (len - 1) / 2.0;
        double s0 = -(detectors - 1) / 2.0 * spacing;
        double step = spacing / a;
        double cStep = transposedCase ? -step : step;
        int[] range = new int[2];
        for (int l = 0; l < lines; l++) {
            double t = transposedCase ? l - centreLine : centreLine - l;
            double u0 = (s0 - t * b) / a;
            double c0 = transposedCase ? centreLen - u0 : u0 + centreLen;
            int row = accOffset + l * len;
            interior(c0, cStep, len, range);
            int lo = range[0];
            int hi = range[1];
            for (int d = Math.max(0, lo - 2); d < lo; d++) {
                edgeScatter(acc, row, len, c0 + d * cStep, weight * y[o + d]);
            }
            int last = row + len - 2;
            double coord = c0 + lo * cStep;
            for (int d = lo; d < hi; d++, coord += cStep) {
                int k0 = (int) coord;
                float f = (float) (coord - k0);
                float v = weight * y[o + d];
                int p = Math.min(row + k0, last);
                float fv = f * v;
                acc[p] += v - fv;
                acc[p + 1] += fv;
            }
            for (int d = Math.max(lo, hi); d < Math.min(detectors, Math.max(lo, hi) + 2); d++) {
                edgeScatter(acc, row, len, c0 + d * cStep, weight * y[o + d]);
            }
        }
    }

    private static void edgeScatter(float[] acc, int row, int len, double coord, float v) {
        int k0 = (int) Math.floor(coord);
        if (k0 < -1 || k0 >= len) {
            return;
        }
        float f = (float) (coord - k0);
        if (k0 >= 0) {
            acc[row + k0] += (1f - f) * v;
        }
        if (k0 + 1 < len) {
            acc[row + k0 + 1] += f * v;
        }
    }
}
