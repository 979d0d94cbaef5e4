package io.proxstream.solvers.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The vector kernels give the scalar kernels' results bit for bit (the claim that lets them replace the scalar loops
 * everywhere without changing a number): random lengths and offsets, values spanning many binades (so rounding
 * differences would show), signed zeros, infinities and NaNs.
 */
class VecSimdTest {

    private static float value(Random r) {
        return switch (r.nextInt(40)) {
            case 0 -> -0f;
            case 1 -> Float.POSITIVE_INFINITY;
            case 2 -> Float.NaN;
            default -> (float) (r.nextGaussian() * Math.pow(10, r.nextInt(13) - 6));
        };
    }

    @Test
    void vectorKernelsMatchTheScalarOnesBitForBit() {
        assertTrue(Vec.SIMD, "the test JVM has jdk.incubator.vector (pom's test.argLine) on a CPU with 256-bit vectors");
        Random r = new Random(5);
        for (int trial = 0; trial < 3000; trial++) {
            int n = trial % 3 == 0 ? 768 : r.nextInt(100);
            boolean special = trial % 10 == 0;
            int ao = r.nextInt(9);
            int bo = r.nextInt(9);
            float[] a = new float[ao + n + r.nextInt(3)];
            float[] b = new float[bo + n + r.nextInt(3)];
            for (int i = 0; i < a.length; i++) {
                a[i] = special ? value(r) : (float) r.nextGaussian() * (1 + i % 7);
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = special ? value(r) : (float) (r.nextGaussian() * Math.pow(2, r.nextInt(20) - 10));
            }
            String at = "trial " + trial + ", n " + n;
            assertEquals(Float.floatToIntBits(Vec.dotScalar(a, ao, b, bo, n)), Float.floatToIntBits(VecSimd.dot(a, ao, b, bo, n)), at);
            assertEquals(Double.doubleToLongBits(Vec.sumSquaresScalar(a, ao, n)), Double.doubleToLongBits(VecSimd.sumSquares(a, ao, n)),
                    at + ": sumSquares");
            float alpha = special ? value(r) : (float) r.nextGaussian();
            float[] y1 = b.clone();
            float[] y2 = b.clone();
            Vec.axpyScalar(alpha, a, ao, y1, bo, n);
            VecSimd.axpy(alpha, a, ao, y2, bo, n);
            for (int i = 0; i < y1.length; i++) {
                assertEquals(Float.floatToIntBits(y1[i]), Float.floatToIntBits(y2[i]), at + ": axpy element " + i);
            }
            Vec.scaleIntoScalar(alpha, a, ao, y1, bo, n);
            VecSimd.scaleInto(alpha, a, ao, y2, bo, n);
            for (int i = 0; i < y1.length; i++) {
                assertEquals(Float.floatToIntBits(y1[i]), Float.floatToIntBits(y2[i]), at + ": scaleInto element " + i);
            }
        }
    }

    /** An axpy whose source and target overlap in one array keeps the scalar loop's meaning (it runs the scalar loop). */
    @Test
    void overlappingAxpyKeepsTheScalarMeaning() {
        float[] y1 = new float[40];
        for (int i = 0; i < y1.length; i++) {
            y1[i] = i;
        }
        float[] y2 = y1.clone();
        Vec.axpy(0.5f, y1, 0, y1, 3, 30);
        Vec.axpyScalar(0.5f, y2, 0, y2, 3, 30);
        for (int i = 0; i < y1.length; i++) {
            assertEquals(y2[i], y1[i], 0f, "element " + i);
        }
    }
}
