package io.proxstream.solvers.linalg;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Vec}'s dot product and updates a vector at a time with the JDK's incubating vector API (loaded only when
 * {@link Vec#SIMD} holds). C2 (JDK 17) does not vectorise the scalar loops when the two arrays could be the same array:
 * an axpy of 768 floats took 530–600 ns there and 92–115 ns here, a dot product 380–440 ns and about 70 ns (one core of
 * an AMD EPYC with AVX-512, operands in cache).
 *
 * <p>The results are those of the scalar loops, bit for bit, on every CPU: the species is 256 bits (8 floats) on AVX2 and
 * AVX-512 alike, products and sums are rounded separately (no fused multiply-add, as Java's scalar arithmetic), and the
 * dot product's eight lanes are the scalar loop's eight partial sums, combined in its order.
 */
final class VecSimd {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_256;

    private VecSimd() {
    }

    /** Whether the CPU runs 256-bit float vectors natively (otherwise the API would emulate them, slower than scalar). */
    static boolean usable() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
    }

    static int preferredBits() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            acc = acc.add(FloatVector.fromArray(S, a, ao + i).mul(FloatVector.fromArray(S, b, bo + i)));
        }
        float s0 = acc.lane(0);
        for (; i < n; i++) {
            s0 += a[ao + i] * b[bo + i];
        }
        return ((s0 + acc.lane(1)) + (acc.lane(2) + acc.lane(3))) + ((acc.lane(4) + acc.lane(5)) + (acc.lane(6) + acc.lane(7)));
    }

    /**
     * Σ a² in double with four partial sums, as {@link Vec#sumSquares}: four floats widened to a 256-bit vector of
     * doubles a step, lane r the scalar loop's partial sum r.
     */
    static double sumSquares(float[] a, int ao, int n) {
        DoubleVector acc = DoubleVector.zero(DoubleVector.SPECIES_256);
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            DoubleVector v = (DoubleVector) FloatVector.fromArray(FloatVector.SPECIES_128, a, ao + i)
                    .convertShape(VectorOperators.F2D, DoubleVector.SPECIES_256, 0);
            acc = acc.add(v.mul(v));
        }
        double s0 = acc.lane(0);
        for (; i < n; i++) {
            double v = a[ao + i];
            s0 += v * v;
        }
        return (s0 + acc.lane(1)) + (acc.lane(2) + acc.lane(3));
    }

    static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            FloatVector.fromArray(S, x, xo + i).mul(alpha).add(FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += alpha * x[xo + i];
        }
    }

    static void scaleInto(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            FloatVector.fromArray(S, x, xo + i).mul(alpha).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = alpha * x[xo + i];
        }
    }
}
