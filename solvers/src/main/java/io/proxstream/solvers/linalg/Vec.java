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
            return "vector API (dot/axpy 256-bit; TopK scan " + VecSimd.preferredBits() + "-bit)";
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
