package io.proxstream.solvers.inverse;

/** Projection angle sets, in radians. */
public final class Angles {
    private Angles() {
    }

    /** {@code count} angles evenly spaced over [0, π) (full parallel-beam data). */
    public static double[] full(int count) {
        return range(0, 180, count);
    }

    /** Sparse view: few angles, evenly spaced over [0, π). */
    public static double[] sparseView(int count) {
        return full(count);
    }

    /**
     * {@code count} angles evenly spaced over [{@code fromDegrees}, {@code toDegrees}) (limited
     * angle when the range is shorter than 180°).
     */
    public static double[] range(double fromDegrees, double toDegrees, int count) {
        if (count <= 0) {
            throw new IllegalArgumentException("an angle set needs at least one angle, got " + count);
        }
        if (!(toDegrees > fromDegrees) || !Double.isFinite(fromDegrees) || !Double.isFinite(toDegrees)) {
            throw new IllegalArgumentException("angle range [" + fromDegrees + ", " + toDegrees + ") is empty or not finite");
        }
        double[] a = new double[count];
        for (int i = 0; i < count; i++) {
            a[i] = Math.toRadians(fromDegrees + (toDegrees - fromDegrees) * i / count);
        }
        return a;
    }

    /** The angular step each angle stands for (the spacing of an evenly spaced set). */
    static double spacing(double[] angles) {
        if (angles.length == 1) {
            return Math.PI;
        }
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double a : angles) {
            lo = Math.min(lo, a);
            hi = Math.max(hi, a);
        }
        return (hi - lo) / (angles.length - 1);
    }
}
