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
    /**
     * The row decode (a vector of the row kept in a register across the entries) gives the bits of its scalar definition
     * and of what it replaced: {@code r = bias − x}, then one {@link Vec#axpy} per entry whose value is not 0, in order.
     */
    @Test
    void rowDecodeMatchesTheScalarOneAndTheAxpySequence() {
        assertTrue(Vec.SIMD, "the test JVM has jdk.incubator.vector (pom's test.argLine) on a CPU with 256-bit vectors");
        Random r = new Random(23);
        for (int trial = 0; trial < 400; trial++) {
            int d = trial % 4 == 0 ? 768 : 1 + r.nextInt(70);
            int atoms = 1 + r.nextInt(40);
            float[] w = new float[atoms * d];
            for (int i = 0; i < w.length; i++) {
                w[i] = value(r);
            }
            int entries = r.nextInt(40);
            int from = r.nextInt(3);
            int[] idx = new int[from + entries];
            float[] val = new float[from + entries];
            for (int e = 0; e < idx.length; e++) {
                idx[e] = r.nextInt(atoms);
                val[e] = r.nextInt(6) == 0 ? 0f : value(r);
            }
            int xo = r.nextInt(5);
            float[] x = new float[xo + d];
            float[] bias = new float[d];
            for (int i = 0; i < d; i++) {
                x[xo + i] = value(r);
                bias[i] = value(r);
            }
            int ro = r.nextInt(5);
            float[] want = new float[ro + d];
            for (int i = 0; i < d; i++) {
                want[ro + i] = bias[i] - x[xo + i];
            }
            for (int e = from; e < idx.length; e++) {
                if (val[e] != 0f) {
                    Vec.axpy(val[e], w, idx[e] * d, want, ro, d);
                }
            }
            float[] vector = new float[ro + d];
            float[] scalar = new float[ro + d];
            VecSimd.decodeRow(bias, x, xo, w, d, idx, val, from, idx.length, vector, ro);
            Vec.decodeRowScalar(bias, x, xo, w, d, idx, val, from, idx.length, scalar, ro);
            for (int i = 0; i < d; i++) {
                // every NaN is one NaN here, as in the tests above (Java leaves a NaN's sign and payload open)
                int wb = Float.floatToIntBits(want[ro + i]);
                assertEquals(wb, Float.floatToIntBits(vector[ro + i]), "trial " + trial + ", d " + d + ": vector, element " + i);
                assertEquals(wb, Float.floatToIntBits(scalar[ro + i]), "trial " + trial + ", d " + d + ": scalar, element " + i);
            }
        }
    }

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

    /**
     * The sparse-rows-times-block kernels of the iterative decoder step: vector (8 and 16 columns, the 16-column one two
     * rows at a time) and unrolled scalar (what runs without the vector API) against the one-lane-at-a-time definition bit
     * for bit, on rows of 0 to 40 entries (odd counts and unequal
     * neighbours exercise the paired rows' tails), repeated indices, an odd number of rows, with and without the x term;
     * and the scalar definition against a direct double-precision sum (so the common definition is the product it says).
     */
    @Test
    void sparseBlockKernelsMatchTheScalarOnesAndTheProduct() {
        assertTrue(Vec.SIMD, "the test JVM has jdk.incubator.vector (pom's test.argLine) on a CPU with 256-bit vectors");
        Random r = new Random(11);
        for (int trial = 0; trial < 400; trial++) {
            int width = trial % 2 == 0 ? 16 : 8;
            int m = 1 + r.nextInt(50);
            int rows = 1 + r.nextInt(9);
            boolean special = trial % 10 == 0;
            int[] ptr = new int[rows + 1];
            for (int b = 0; b < rows; b++) {
                ptr[b + 1] = ptr[b] + (r.nextInt(5) == 0 ? r.nextInt(41) : 32);
            }
            int[] idx = new int[ptr[rows]];
            float[] val = new float[ptr[rows]];
            for (int e = 0; e < idx.length; e++) {
                idx[e] = r.nextInt(m);
                val[e] = special ? value(r) : (float) (r.nextGaussian() * Math.pow(2, r.nextInt(12) - 6));
            }
            float[] p = new float[(m + 1) * width];
            for (int i = 0; i < p.length; i++) {
                p[i] = special ? value(r) : (float) r.nextGaussian();
            }
            int xStride = width + r.nextInt(20);
            int xo = r.nextInt(4);
            float[] x = trial % 3 == 0 ? null : new float[xo + rows * xStride + width];
            if (x != null) {
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextGaussian();
                }
            }
            float w = (float) (0.5 + r.nextDouble());
            int bo = m * width;
            float[] ysScalar = new float[rows * width];
            float[] ysVector = new float[rows * width];
            Vec.sparseRowsTimesBlockScalar(width, rows, ptr, idx, val, p, bo, x, xo, xStride, w, ysScalar);
            float[] unrolled = new float[rows * width];
            if (width == 16) {
                VecSimd.sparseRowsTimesBlock16(rows, ptr, idx, val, p, bo, x, xo, xStride, w, ysVector);
            } else {
                VecSimd.sparseRowsTimesBlock8(rows, ptr, idx, val, p, bo, x, xo, xStride, w, ysVector);
            }
            Vec.sparseRowsTimesBlockUnrolled(width, rows, ptr, idx, val, p, bo, x, xo, xStride, w, unrolled);
            assertBits(ysScalar, unrolled, "trial " + trial + ": unrolled scalar product (the kernel without the vector API)");
            String at = "trial " + trial + ", width " + width + ", rows " + rows;
            assertBits(ysScalar, ysVector, at + ": product");
            if (!special) {
                for (int b = 0; b < rows; b++) {
                    for (int t = 0; t < width; t++) {
                        double direct = p[bo + t] - (x == null ? 0 : x[xo + b * xStride + t]);
                        double scale = Math.abs(direct);
                        for (int e = ptr[b]; e < ptr[b + 1]; e++) {
                            direct += (double) val[e] * p[idx[e] * width + t];
                            scale += Math.abs((double) val[e] * p[idx[e] * width + t]);
                        }
                        assertEquals(w * direct, ysScalar[b * width + t], 1e-5 * w * (scale + 1e-30), at + ": row " + b + " column " + t);
                    }
                }
            }
            float[] qScalar = new float[p.length];
            for (int i = 0; i < qScalar.length; i++) {
                qScalar[i] = (float) r.nextGaussian();
            }
            float[] qVector = qScalar.clone();
            float[] qStart = qScalar.clone();
            Vec.sparseRowsTransposeTimesScalar(width, rows, ptr, idx, val, ysScalar, qScalar, bo);
            float[] qUnrolled = qStart.clone();
            if (width == 16) {
                VecSimd.sparseRowsTransposeTimes16(rows, ptr, idx, val, ysScalar, qVector, bo);
            } else {
                VecSimd.sparseRowsTransposeTimes8(rows, ptr, idx, val, ysScalar, qVector, bo);
            }
            Vec.sparseRowsTransposeTimesUnrolled(width, rows, ptr, idx, val, ysScalar, qUnrolled, bo);
            assertBits(qScalar, qUnrolled, "trial " + trial + ": unrolled scalar transpose (the kernel without the vector API)");
            assertBits(qScalar, qVector, at + ": transpose");
            if (!special) {
                double[] direct = new double[qStart.length];
                double[] scale = new double[qStart.length];
                for (int i = 0; i < direct.length; i++) {
                    direct[i] = qStart[i];
                    scale[i] = Math.abs(qStart[i]);
                }
                for (int b = 0; b < rows; b++) {
                    for (int t = 0; t < width; t++) {
                        double y = ysScalar[b * width + t];
                        for (int e = ptr[b]; e < ptr[b + 1]; e++) {
                            direct[idx[e] * width + t] += val[e] * y;
                            scale[idx[e] * width + t] += Math.abs(val[e] * y);
                        }
                        direct[bo + t] += y;
                        scale[bo + t] += Math.abs(y);
                    }
                }
                for (int i = 0; i < direct.length; i++) {
                    assertEquals(direct[i], qScalar[i], 1e-5 * (scale[i] + 1e-30), at + ": transpose element " + i);
                }
            }
        }
    }

    /**
     * The gradient-block kernel: the vector kernels (16 and 8 columns) against the one-lane definition, bit for bit, in its
     * three uses (one pair; two pairs into two outputs; the second pair into the first's sums, as a tied SAE), with empty
     * columns, columns of one entry and of many, repeated rows, zero coefficients and special values; and the definition
     * against the sums computed directly in double, from the transposed (row-major) side.
     */
    @Test
    void columnBlockKernelMatchesTheScalarOneAndTheDirectSums() {
        assertTrue(Vec.SIMD, "the test JVM has jdk.incubator.vector (pom's test.argLine) on a CPU with 256-bit vectors");
        Random r = new Random(17);
        for (int trial = 0; trial < 400; trial++) {
            int width = trial % 2 == 0 ? 16 : 8;
            int rows = 1 + r.nextInt(50);
            int cols = 1 + r.nextInt(60);
            boolean special = trial % 7 == 0;
            int[] colPtr = new int[cols + 1];
            for (int j = 0; j < cols; j++) {
                int n = switch (r.nextInt(4)) {
                    case 0 -> 0;
                    case 1 -> 1;
                    default -> r.nextInt(3 * rows);
                };
                colPtr[j + 1] = colPtr[j] + n;
            }
            int nnz = colPtr[cols];
            int[] rowOf = new int[nnz];
            float[] ca = new float[nnz];
            float[] cb = new float[nnz];
            for (int p = 0; p < nnz; p++) {
                rowOf[p] = r.nextInt(rows);
                ca[p] = p % 11 == 0 ? 0f : special ? value(r) : (float) (r.nextGaussian() * Math.pow(2, r.nextInt(16) - 8));
                cb[p] = special ? value(r) : (float) r.nextGaussian();
            }
            float[] ya = new float[rows * width];
            float[] yb = new float[rows * width];
            for (int i = 0; i < ya.length; i++) {
                ya[i] = special ? value(r) : (float) (r.nextGaussian() * (1 + i % 5));
                yb[i] = special ? value(r) : (float) r.nextGaussian();
            }
            int stride = width + r.nextInt(20);
            int off = r.nextInt(stride - width + 1);
            String at = "trial " + trial + ", width " + width + ", " + cols + " columns, " + nnz + " entries";
            for (int mode = 0; mode < 3; mode++) {
                float[] cB = mode == 0 ? null : cb;
                float[] yB = mode == 0 ? null : yb;
                float[] oa1 = new float[cols * stride];
                float[] oa2 = new float[cols * stride];
                java.util.Arrays.fill(oa1, 7f);    // columns without entries keep what was there
                java.util.Arrays.fill(oa2, 7f);
                float[] ob1 = mode == 1 ? new float[cols * stride] : null;
                float[] ob2 = mode == 1 ? new float[cols * stride] : null;
                Vec.columnsTimesPackedRowsScalar(width, cols, colPtr, rowOf, ca, ya, oa1, cB, yB, ob1, stride, off);
                Vec.columnsTimesPackedRows(width, cols, colPtr, rowOf, ca, ya, oa2, cB, yB, ob2, stride, off);
                assertBits(oa1, oa2, at + ", mode " + mode + ", first output");
                if (mode == 1) {
                    assertBits(ob1, ob2, at + ", second output");
                }
                if (special) {
                    continue;
                }
                for (int j = 0; j < cols; j++) {
                    for (int t = 0; t < width; t++) {
                        double sa = 0;
                        double sb = 0;
                        double scale = 0;
                        for (int p = colPtr[j]; p < colPtr[j + 1]; p++) {
                            double pa = (double) ca[p] * ya[rowOf[p] * width + t];
                            double pb = mode == 0 ? 0 : (double) cb[p] * yb[rowOf[p] * width + t];
                            sa += pa + (mode == 2 ? pb : 0);
                            sb += pb;
                            scale += Math.abs(pa) + Math.abs(pb);
                        }
                        int o = j * stride + off + t;
                        if (colPtr[j] == colPtr[j + 1]) {
                            assertEquals(7f, oa1[o], at + ": an empty column was written");
                            continue;
                        }
                        assertEquals(sa, oa1[o], 1e-5 * scale + 1e-30, at + ", mode " + mode + ", column " + j + " lane " + t);
                        if (mode == 1) {
                            assertEquals(sb, ob1[o], 1e-5 * scale + 1e-30, at + ", second output, column " + j + " lane " + t);
                        }
                    }
                }
            }
        }
    }

    private static void assertBits(float[] expected, float[] actual, String at) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(actual[i]), at + ", element " + i);
        }
    }
}
