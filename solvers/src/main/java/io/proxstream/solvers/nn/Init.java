package io.proxstream.solvers.nn;

import java.util.SplittableRandom;

/** Seeded initialisers. */
public final class Init {
    private Init() {
    }

    /** He (Kaiming) uniform: U(−b, b) with b = √(6 / fanIn). */
    public static void heUniform(float[] w, int fanIn, SplittableRandom r) {
        double b = Math.sqrt(6.0 / fanIn);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextDouble(-b, b);
        }
    }

    /** U(lo, hi). */
    public static void uniform(float[] w, double lo, double hi, SplittableRandom r) {
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextDouble(lo, hi);
        }
    }
}
