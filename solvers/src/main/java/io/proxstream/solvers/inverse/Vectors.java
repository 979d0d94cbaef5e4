package io.proxstream.solvers.inverse;

import io.proxstream.solvers.parallel.Parallel;

/** Whole-vector kernels on float arrays (double accumulation for reductions), split over the cores. */
public final class Vectors {
    private static final int GRAIN = 1 << 15;

    private Vectors() {
    }

    public static double dot(float[] a, float[] b) {
        check(a, b);
        return Parallel.sum(a.length, GRAIN, (from, to) -> {
            double s = 0;
            for (int i = from; i < to; i++) {
                s += (double) a[i] * b[i];
            }
            return s;
        });
    }

    public static double normSquared(float[] a) {
        return dot(a, a);
    }

    public static double norm(float[] a) {
        return Math.sqrt(normSquared(a));
    }

    /** ‖a − b‖. */
    public static double distance(float[] a, float[] b) {
        check(a, b);
        return Math.sqrt(Parallel.sum(a.length, GRAIN, (from, to) -> {
            double s = 0;
            for (int i = from; i < to; i++) {
                double d = (double) a[i] - b[i];
                s += d * d;
            }
            return s;
        }));
    }

    /** {@code a *= s}. Modifies {@code a}. */
    public static void scale(float[] a, float s) {
        Parallel.forRange(a.length, GRAIN, (from, to) -> {
            for (int i = from; i < to; i++) {
                a[i] *= s;
            }
        });
    }

    /** {@code out = x + alpha·y}; {@code out} may be {@code x} or {@code y}. */
    public static void axpy(float[] x, float alpha, float[] y, float[] out) {
        check(x, y);
        Parallel.forRange(x.length, GRAIN, (from, to) -> {
            for (int i = from; i < to; i++) {
                out[i] = x[i] + alpha * y[i];
            }
        });
    }

    /** {@code out = a·x + b·y}; {@code out} may alias either input. */
    public static void combine(float a, float[] x, float b, float[] y, float[] out) {
        check(x, y);
        Parallel.forRange(x.length, GRAIN, (from, to) -> {
            for (int i = from; i < to; i++) {
                out[i] = a * x[i] + b * y[i];
            }
        });
    }

    private static void check(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("vectors of different length: " + a.length + " and " + b.length);
        }
    }

    /** Throws if {@code v} does not have {@code expected} entries; {@code what} names it. */
    public static void requireLength(String what, float[] v, int expected) {
        if (v == null || v.length != expected) {
            throw new IllegalArgumentException(what + " has " + (v == null ? "no" : v.length) + " values, expected " + expected);
        }
    }

    /** Throws if {@code v} holds NaN or ±Inf; {@code what} names it. */
    public static void requireFinite(String what, float[] v) {
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new IllegalArgumentException(what + " holds a non-finite value (" + v[i] + ") at index " + i);
            }
        }
    }
}
