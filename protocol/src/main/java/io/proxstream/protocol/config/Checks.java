package io.proxstream.protocol.config;

/** Validation helpers for config records: each failure names the field and the value. */
final class Checks {
    private Checks() {
    }

    static void positive(String name, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }

    static void nonNegative(String name, long v) {
        if (v < 0) {
            throw new IllegalArgumentException(name + " must be >= 0, got " + v);
        }
    }

    static void nonNegative(String name, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + " must be finite and >= 0, got " + v);
        }
    }

    static void positive(String name, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + " must be finite and > 0, got " + v);
        }
    }

    static void unitInterval(String name, double v, boolean openLow, boolean openHigh) {
        boolean ok = (openLow ? v > 0 : v >= 0) && (openHigh ? v < 1 : v <= 1);
        if (!ok) {
            throw new IllegalArgumentException(name + " must be in " + (openLow ? "(" : "[") + "0,1"
                    + (openHigh ? ")" : "]") + ", got " + v);
        }
    }

    /** The bound on input values of train and served runs: finite, positive, and small enough for training's squared sums. */
    static void maxAbs(double maxAbs) {
        if (!(maxAbs > 0) || !Double.isFinite(maxAbs) || maxAbs > 1e18) {
            throw new IllegalArgumentException("maxAbs must be in (0, 1e18] (larger values overflow training's squared sums), got "
                    + maxAbs);
        }
    }

    static String oneOf(String name, String v, String... allowed) {
        for (String a : allowed) {
            if (a.equals(v)) {
                return v;
            }
        }
        throw new IllegalArgumentException(name + " must be one of " + java.util.Arrays.toString(allowed) + ", got '" + v + "'");
    }
}
