package io.proxstream.solvers.inverse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;

/** The adjoint dot test shared by every operator's tests. */
final class OperatorTestSupport {
    private OperatorTestSupport() {
    }

    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return v;
    }

    /** ⟨Ax, y⟩ = ⟨x, Aᵀy⟩ for random x, y, to relative error {@code tol} (in double from float results). */
    static void assertAdjoint(LinearOperator a, double tol, long seed) {
        for (int t = 0; t < 3; t++) {
            float[] x = random(a.domainSize(), seed + 2L * t);
            float[] y = random(a.rangeSize(), seed + 2L * t + 1);
            double lhs = Vectors.dot(a.apply(x), y);
            double rhs = Vectors.dot(x, a.adjoint(y));
            double scale = Math.max(Math.abs(lhs), Math.abs(rhs));
            assertEquals(0.0, Math.abs(lhs - rhs) / scale, tol, "dot test: <Ax,y> = " + lhs + ", <x,A'y> = " + rhs);
        }
    }
}
