package io.proxstream.solvers.linalg;

/**
 * Small vector kernels on slices of float arrays, written so that the JIT vectorises them
 * (independent accumulators for reductions, simple counted loops for updates).
 */
public final class Vec {
    /**
     * Whether the float kernels below run a vector at a time ({@link VecSimd}): the JVM has {@code jdk.incubator.vector}
     * (the launcher and the test JVMs add it), the CPU runs 256-bit vectors, and {@code -Dproxstream.vectorApi=false} is
     * not set. The results are the same either way, bit for bit.
     */
    public static final boolean SIMD = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && !"false".equals(System.getProperty("proxstream.vectorApi")) && VecSimd.usable();

    private Vec() {
    }

    /** What the float kernels run on, for benchmark headers: the vector API's species or the scalar loops, and why. */
    public static String describeKernels() {
        if (SIMD) {
            return "vector API (256-bit on every kernel, the CPU's widest: " + VecSimd.preferredBits() + "-bit)";
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return "scalar loops (the JVM was started without --add-modules jdk.incubator.vector)";
        }
        return "false".equals(System.getProperty("proxstream.vectorApi")) ? "scalar loops (-Dproxstream.vectorApi=false)"
                : "scalar loops (the CPU has no native 256-bit vectors)";
    }

    /** {@code Σ a[ao+i]·b[bo+i]} for i < n, accumulated in float with 8 independent partial sums. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        return SIMD ? VecSimd.dot(a, ao, b, bo, n) : dotScalar(a, ao, b, bo, n);
    }

    /** {@link #dot} a float at a time (the definition {@link VecSimd} reproduces). */
    static float dotScalar(float[] a, int ao, float[] b, int bo, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            s0 += a[ao + i] * b[bo + i];
            s1 += a[ao + i + 1] * b[bo + i + 1];
            s2 += a[ao + i + 2] * b[bo + i + 2];
            s3 += a[ao + i + 3] * b[bo + i + 3];
            s4 += a[ao + i + 4] * b[bo + i + 4];
            s5 += a[ao + i + 5] * b[bo + i + 5];
            s6 += a[ao + i + 6] * b[bo + i + 6];
            s7 += a[ao + i + 7] * b[bo + i + 7];
        }
        for (; i < n; i++) {
            s0 += a[ao + i] * b[bo + i];
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    /**
     * Sparse rows times a block of {@code width} (8 or 16) columns: for each of {@code rows} rows b (entries
     * {@code ptr[b] .. ptr[b+1]} of {@code idx}, {@code val}),
     * {@code ys[width·b + t] = w·(p[bo + t] − x[xo + b·xStride + t] + Σ_e val[e]·p[width·idx[e] + t])} for t < width
     * ({@code x} may be null: no such term). {@code p} holds the block row-major, {@code width} floats per row. The
     * products and sums are rounded one by one in that order, in the vector and scalar kernels alike.
     */
    public static void sparseRowsTimesBlock(int width, int rows, int[] ptr, int[] idx, float[] val, float[] p, int bo, float[] x,
                                            int xo, int xStride, float w, float[] ys) {
        blockWidth(width);
        if (!SIMD) {
            sparseRowsTimesBlockUnrolled(width, rows, ptr, idx, val, p, bo, x, xo, xStride, w, ys);
        } else if (width == 16) {
            VecSimd.sparseRowsTimesBlock16(rows, ptr, idx, val, p, bo, x, xo, xStride, w, ys);
        } else {
            VecSimd.sparseRowsTimesBlock8(rows, ptr, idx, val, p, bo, x, xo, xStride, w, ys);
        }
    }

    /**
     * The transpose of {@link #sparseRowsTimesBlock}'s product, accumulated: for each row b in order and each of its
     * entries e in order, {@code q[width·idx[e] + t] += val[e]·ys[width·b + t]}, then {@code q[bo + t] += ys[width·b + t]},
     * for t < width. The indices must not address the floats {@code bo .. bo+width} of the block.
     */
    public static void sparseRowsTransposeTimes(int width, int rows, int[] ptr, int[] idx, float[] val, float[] ys, float[] q,
                                                int bo) {
        blockWidth(width);
        if (!SIMD) {
            sparseRowsTransposeTimesUnrolled(width, rows, ptr, idx, val, ys, q, bo);
        } else if (width == 16) {
            VecSimd.sparseRowsTransposeTimes16(rows, ptr, idx, val, ys, q, bo);
        } else {
            VecSimd.sparseRowsTransposeTimes8(rows, ptr, idx, val, ys, q, bo);
        }
    }

    /**
     * One row of a sparse code decoded against a dense dictionary, minus its input:
     * {@code r[ro + i] = bias[i] − x[xo + i] + Σ_e val[e]·w[idx[e]·d + i]} for i < d, entries {@code from .. to} in order,
     * entries whose value is 0 skipped. Each element is rounded exactly as {@code r = bias − x} followed by one
     * {@link #axpy} per entry (product, then sum), so the result is the same bits; the vector kernel keeps a vector of the
     * row in a register across all the entries, so the row is written once and the entries' atoms are read side by side
     * (several memory streams at once where the axpys read one atom after another).
     */
    public static void decodeRow(float[] bias, float[] x, int xo, float[] w, int d, int[] idx, float[] val, int from, int to,
                                 float[] r, int ro) {
        if (SIMD) {
            VecSimd.decodeRow(bias, x, xo, w, d, idx, val, from, to, r, ro);
        } else {
            decodeRowScalar(bias, x, xo, w, d, idx, val, from, to, r, ro);
        }
    }

    /** {@link #decodeRow} a float at a time (the definition the vector kernel reproduces). */
    static void decodeRowScalar(float[] bias, float[] x, int xo, float[] w, int d, int[] idx, float[] val, int from, int to,
                                float[] r, int ro) {
        for (int i = 0; i < d; i++) {
            r[ro + i] = bias[i] - x[xo + i];
        }
        for (int e = from; e < to; e++) {
            float v = val[e];
            if (v != 0f) {
                axpyScalar(v, w, idx[e] * d, r, ro, d);
            }
        }
    }

    private static void blockWidth(int width) {
        if (width != 8 && width != 16) {
            throw new IllegalArgumentException("sparse block kernels take 8 or 16 columns, got " + width);
        }
    }

    /** {@link #sparseRowsTimesBlock} without the vector API: eight lanes at a time ({@link #sparseRowsTimesLanes8}). */
    static void sparseRowsTimesBlockUnrolled(int width, int rows, int[] ptr, int[] idx, float[] val, float[] p, int bo, float[] x,
                                             int xo, int xStride, float w, float[] ys) {
        for (int lane = 0; lane < width; lane += 8) {
            sparseRowsTimesLanes8(width, lane, rows, ptr, idx, val, p, bo, x, xo, xStride, w, ys);
        }
    }

    /**
     * Eight lanes {@code lane .. lane+8} of the product on a block of {@code width} columns, unrolled so that the eight sums
     * stay in registers: the scalar kernels (C2 does not vectorise these loops; a plain loop over the lanes was about
     * twice as slow). Each lane's sum is the definition's, so any grouping of lanes gives the same bits.
     */
    private static void sparseRowsTimesLanes8(int width, int lane, int rows, int[] ptr, int[] idx, float[] val, float[] p, int bo,
                                              float[] x, int xo, int xStride, float w, float[] ys) {
        int po = bo + lane;
        for (int b = 0; b < rows; b++) {
            float y0 = p[po], y1 = p[po + 1], y2 = p[po + 2], y3 = p[po + 3];
            float y4 = p[po + 4], y5 = p[po + 5], y6 = p[po + 6], y7 = p[po + 7];
            if (x != null) {
                int o = xo + b * xStride + lane;
                y0 -= x[o];
                y1 -= x[o + 1];
                y2 -= x[o + 2];
                y3 -= x[o + 3];
                y4 -= x[o + 4];
                y5 -= x[o + 5];
                y6 -= x[o + 6];
                y7 -= x[o + 7];
            }
            int e1 = ptr[b + 1];
            for (int e = ptr[b]; e < e1; e++) {
                float v = val[e];
                int o = idx[e] * width + lane;
                y0 += v * p[o];
                y1 += v * p[o + 1];
                y2 += v * p[o + 2];
                y3 += v * p[o + 3];
                y4 += v * p[o + 4];
                y5 += v * p[o + 5];
                y6 += v * p[o + 6];
                y7 += v * p[o + 7];
            }
            int yo = b * width + lane;
            ys[yo] = y0 * w;
            ys[yo + 1] = y1 * w;
            ys[yo + 2] = y2 * w;
            ys[yo + 3] = y3 * w;
            ys[yo + 4] = y4 * w;
            ys[yo + 5] = y5 * w;
            ys[yo + 6] = y6 * w;
            ys[yo + 7] = y7 * w;
        }
    }

    /** {@link #sparseRowsTransposeTimes} without the vector API: eight lanes at a time. */
    static void sparseRowsTransposeTimesUnrolled(int width, int rows, int[] ptr, int[] idx, float[] val, float[] ys, float[] q,
                                                 int bo) {
        for (int lane = 0; lane < width; lane += 8) {
            sparseRowsTransposeLanes8(width, lane, rows, ptr, idx, val, ys, q, bo);
        }
    }

    /** Eight lanes of the transposed product on a block of {@code width} columns, unrolled (see {@link #sparseRowsTimesLanes8}). */
    private static void sparseRowsTransposeLanes8(int width, int lane, int rows, int[] ptr, int[] idx, float[] val, float[] ys,
                                                  float[] q, int bo) {
        int qb = bo + lane;
        for (int b = 0; b < rows; b++) {
            int yo = b * width + lane;
            float y0 = ys[yo], y1 = ys[yo + 1], y2 = ys[yo + 2], y3 = ys[yo + 3];
            float y4 = ys[yo + 4], y5 = ys[yo + 5], y6 = ys[yo + 6], y7 = ys[yo + 7];
            int e1 = ptr[b + 1];
            for (int e = ptr[b]; e < e1; e++) {
                float v = val[e];
                int o = idx[e] * width + lane;
                q[o] += v * y0;
                q[o + 1] += v * y1;
                q[o + 2] += v * y2;
                q[o + 3] += v * y3;
                q[o + 4] += v * y4;
                q[o + 5] += v * y5;
                q[o + 6] += v * y6;
                q[o + 7] += v * y7;
            }
            q[qb] += y0;
            q[qb + 1] += y1;
            q[qb + 2] += y2;
            q[qb + 3] += y3;
            q[qb + 4] += y4;
            q[qb + 5] += y5;
            q[qb + 6] += y6;
            q[qb + 7] += y7;
        }
    }

    /** The block products a lane at a time, for any width (the definition the vector kernels reproduce). */
    static void sparseRowsTimesBlockScalar(int width, int rows, int[] ptr, int[] idx, float[] val, float[] p, int bo, float[] x,
                                           int xo, int xStride, float w, float[] ys) {
        float[] y = new float[width];
        for (int b = 0; b < rows; b++) {
            System.arraycopy(p, bo, y, 0, width);
            if (x != null) {
                int o = xo + b * xStride;
                for (int t = 0; t < width; t++) {
                    y[t] -= x[o + t];
                }
            }
            for (int e = ptr[b]; e < ptr[b + 1]; e++) {
                float v = val[e];
                int o = idx[e] * width;
                for (int t = 0; t < width; t++) {
                    y[t] += v * p[o + t];
                }
            }
            int yo = b * width;
            for (int t = 0; t < width; t++) {
                ys[yo + t] = y[t] * w;
            }
        }
    }

    static void sparseRowsTransposeTimesScalar(int width, int rows, int[] ptr, int[] idx, float[] val, float[] ys, float[] q,
                                               int bo) {
        for (int b = 0; b < rows; b++) {
            int yo = b * width;
            for (int e = ptr[b]; e < ptr[b + 1]; e++) {
                float v = val[e];
                int o = idx[e] * width;
                for (int t = 0; t < width; t++) {
                    q[o + t] += v * ys[yo + t];
                }
            }
            for (int t = 0; t < width; t++) {
                q[bo + t] += ys[yo + t];
            }
        }
    }

    /**
     * Sums of packed rows down the columns of a sparse matrix in compressed-column form, one block of {@code width} output
     * columns at a time (the weight gradients of a sparse code: {@code ∂L/∂W[j] = Σ_b g_bj · x_b}). For every column j with
     * entries p in {@code [colPtr[j], colPtr[j+1])} and every lane t &lt; width,
     * <pre>
     *   outA[j·stride + off + t] = coefA[p₀]·ysA[rowOf[p₀]·width + t] + coefA[p₁]·ysA[rowOf[p₁]·width + t] + …
     * </pre>
     * summed in entry order from the first product (each product and each sum rounded in float, as {@link #scaleInto} then
     * {@link #axpy}). With a second pair ({@code coefB}, {@code ysB}) the same sums go to {@code outB}, or, when
     * {@code outB} is null, into outA's sums, each entry's B product added right after its A product. Columns without
     * entries are not written. {@code ysA} and {@code ysB} hold {@code width} floats per row (a column block of the rows,
     * packed so that the block stays in the core's cache while every column's entries are gathered from it).
     */
    public static void columnsTimesPackedRows(int width, int columns, int[] colPtr, int[] rowOf, float[] coefA, float[] ysA,
                                              float[] outA, float[] coefB, float[] ysB, float[] outB, int stride, int off) {
        if (width < 1 || width > stride) {
            throw new IllegalArgumentException("block width " + width + " is not in [1, " + stride + "]");
        }
        if ((coefB == null) != (ysB == null) || (outB != null && coefB == null)) {
            throw new IllegalArgumentException("the second pair needs its coefficients and its rows");
        }
        if (SIMD && width == 16) {
            if (coefB == null) {
                VecSimd.columnsTimesPackedRows16(columns, colPtr, rowOf, coefA, ysA, outA, stride, off);
            } else if (outB != null) {
                VecSimd.columnsTimesPackedRows16Two(columns, colPtr, rowOf, coefA, ysA, outA, coefB, ysB, outB, stride, off);
            } else {
                VecSimd.columnsTimesPackedRows16Into(columns, colPtr, rowOf, coefA, ysA, outA, coefB, ysB, stride, off);
            }
        } else if (SIMD && width == 8) {
            VecSimd.columnsTimesPackedRows8(columns, colPtr, rowOf, coefA, ysA, outA, coefB, ysB, outB, stride, off);
        } else {
            columnsTimesPackedRowsScalar(width, columns, colPtr, rowOf, coefA, ysA, outA, coefB, ysB, outB, stride, off);
        }
    }

    /** {@link #columnsTimesPackedRows} a lane at a time, for any width (the definition the vector kernels reproduce). */
    static void columnsTimesPackedRowsScalar(int width, int columns, int[] colPtr, int[] rowOf, float[] coefA, float[] ysA,
                                             float[] outA, float[] coefB, float[] ysB, float[] outB, int stride, int off) {
        boolean into = coefB != null && outB == null;
        for (int j = 0; j < columns; j++) {
            int p0 = colPtr[j];
            int p1 = colPtr[j + 1];
            if (p0 == p1) {
                continue;
            }
            int oa = j * stride + off;
            for (int t = 0; t < width; t++) {
                int r = rowOf[p0] * width + t;
                float a = coefA[p0] * ysA[r];
                float b = 0f;
                if (into) {
                    a = coefB[p0] * ysB[r] + a;
                } else if (outB != null) {
                    b = coefB[p0] * ysB[r];
                }
                for (int p = p0 + 1; p < p1; p++) {
                    int q = rowOf[p] * width + t;
                    a = coefA[p] * ysA[q] + a;
                    if (into) {
                        a = coefB[p] * ysB[q] + a;
                    } else if (outB != null) {
                        b = coefB[p] * ysB[q] + b;
                    }
                }
                outA[oa + t] = a;
                if (outB != null) {
                    outB[oa + t] = b;
                }
            }
        }
    }

    /** {@code y[yo+i] += alpha·x[xo+i]} for i < n. Modifies {@code y}. */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        if (SIMD && (x != y || xo + n <= yo || yo + n <= xo)) {   // overlapping ranges of one array: the scalar order
            VecSimd.axpy(alpha, x, xo, y, yo, n);
        } else {
            axpyScalar(alpha, x, xo, y, yo, n);
        }
    }

    static void axpyScalar(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        for (int i = 0; i < n; i++) {
            y[yo + i] += alpha * x[xo + i];
        }
    }

    /** {@code y[yo+i] = alpha·x[xo+i]} for i < n. Modifies {@code y}. */
    public static void scaleInto(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        if (SIMD && (x != y || xo + n <= yo || yo + n <= xo)) {
            VecSimd.scaleInto(alpha, x, xo, y, yo, n);
        } else {
            scaleIntoScalar(alpha, x, xo, y, yo, n);
        }
    }

    static void scaleIntoScalar(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        for (int i = 0; i < n; i++) {
            y[yo + i] = alpha * x[xo + i];
        }
    }

    /** {@code y[yo+i] += alpha·x[xo+i]} in double, for i < n. Modifies {@code y}. */
    public static void axpy(double alpha, float[] x, int xo, double[] y, int yo, int n) {
        for (int i = 0; i < n; i++) {
            y[yo + i] += alpha * x[xo + i];
        }
    }

    /** Sum of squares of {@code a[ao .. ao+n)} in double. */
    public static double sumSquares(float[] a, int ao, int n) {
        return SIMD ? VecSimd.sumSquares(a, ao, n) : sumSquaresScalar(a, ao, n);
    }

    /** {@link #sumSquares} a float at a time (the definition {@link VecSimd} reproduces). */
    static double sumSquaresScalar(float[] a, int ao, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            double v0 = a[ao + i], v1 = a[ao + i + 1], v2 = a[ao + i + 2], v3 = a[ao + i + 3];
            s0 += v0 * v0;
            s1 += v1 * v1;
            s2 += v2 * v2;
            s3 += v3 * v3;
        }
        for (; i < n; i++) {
            double v = a[ao + i];
            s0 += v * v;
        }
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * max |v| over {@code v[from, to)} as float bits: the magnitude bits of an IEEE float order like the
     * magnitudes, and NaN and ±Inf order above every finite value, so one integer max (which the JIT
     * vectorises) answers "all finite and within a bound" (see {@link #allWithin}).
     */
    public static int maxAbsBits(float[] v, int from, int to) {
        int mx = 0;
        for (int i = from; i < to; i++) {
            mx = Math.max(mx, Float.floatToRawIntBits(v[i]) & 0x7fffffff);
        }
        return mx;
    }

    /** Whether every value of {@code a[ao, ao+n)} is finite with |v| ≤ {@code limit} (a finite float). */
    public static boolean allWithin(float[] a, int ao, int n, float limit) {
        return maxAbsBits(a, ao, ao + n) <= Float.floatToRawIntBits(Math.abs(limit));
    }

    /** True if every value of {@code a[ao .. ao+n)} is finite (neither NaN nor ±Inf). */
    public static boolean allFinite(float[] a, int ao, int n) {
        // v·0 is 0 for finite v and NaN otherwise; any NaN makes its partial sum NaN
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            s0 += a[ao + i] * 0f;
            s1 += a[ao + i + 1] * 0f;
            s2 += a[ao + i + 2] * 0f;
            s3 += a[ao + i + 3] * 0f;
        }
        for (; i < n; i++) {
            s0 += a[ao + i] * 0f;
        }
        return (s0 + s1) + (s2 + s3) == 0f;
    }
}
