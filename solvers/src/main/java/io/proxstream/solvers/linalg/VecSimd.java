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

    static void decodeRow(float[] bias, float[] x, int xo, float[] w, int d, int[] idx, float[] val, int from, int to,
                          float[] r, int ro) {
        int i = 0;
        for (; i + 8 <= d; i += 8) {
            FloatVector y = FloatVector.fromArray(S, bias, i).sub(FloatVector.fromArray(S, x, xo + i));
            for (int e = from; e < to; e++) {
                float v = val[e];
                if (v != 0f) {
                    y = FloatVector.fromArray(S, w, idx[e] * d + i).mul(v).add(y);
                }
            }
            y.intoArray(r, ro + i);
        }
        for (; i < d; i++) {
            float y = bias[i] - x[xo + i];
            for (int e = from; e < to; e++) {
                float v = val[e];
                if (v != 0f) {
                    y += v * w[idx[e] * d + i];
                }
            }
            r[ro + i] = y;
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

    static void sparseRowsTimesBlock8(int rows, int[] ptr, int[] idx, float[] val, float[] p, int bo, float[] x, int xo,
                                      int xStride, float w, float[] ys) {
        FloatVector start = FloatVector.fromArray(S, p, bo);
        for (int b = 0; b < rows; b++) {
            FloatVector y = x == null ? start : start.sub(FloatVector.fromArray(S, x, xo + b * xStride));
            int e1 = ptr[b + 1];
            for (int e = ptr[b]; e < e1; e++) {
                y = y.add(FloatVector.fromArray(S, p, idx[e] << 3).mul(val[e]));
            }
            y.mul(w).intoArray(ys, b << 3);
        }
    }

    static void sparseRowsTransposeTimes8(int rows, int[] ptr, int[] idx, float[] val, float[] ys, float[] q, int bo) {
        FloatVector bias = FloatVector.fromArray(S, q, bo);
        for (int b = 0; b < rows; b++) {
            FloatVector y = FloatVector.fromArray(S, ys, b << 3);
            int e1 = ptr[b + 1];
            for (int e = ptr[b]; e < e1; e++) {
                int o = idx[e] << 3;
                FloatVector.fromArray(S, q, o).add(y.mul(val[e])).intoArray(q, o);
            }
            bias = bias.add(y);
        }
        bias.intoArray(q, bo);
    }

    /**
     * A row's sum is a chain of dependent adds, one per code entry; two rows at a time (each summed in its own order, as
     * the scalar definition) keep four chains in flight instead of two.
     */
    static void sparseRowsTimesBlock16(int rows, int[] ptr, int[] idx, float[] val, float[] p, int bo, float[] x, int xo,
                                       int xStride, float w, float[] ys) {
        FloatVector s0 = FloatVector.fromArray(S, p, bo);
        FloatVector s1 = FloatVector.fromArray(S, p, bo + 8);
        int b = 0;
        for (; b + 2 <= rows; b += 2) {
            FloatVector a0 = s0, a1 = s1, c0 = s0, c1 = s1;
            if (x != null) {
                int o = xo + b * xStride;
                a0 = a0.sub(FloatVector.fromArray(S, x, o));
                a1 = a1.sub(FloatVector.fromArray(S, x, o + 8));
                o += xStride;
                c0 = c0.sub(FloatVector.fromArray(S, x, o));
                c1 = c1.sub(FloatVector.fromArray(S, x, o + 8));
            }
            int ea = ptr[b], ec = ptr[b + 1];
            int na = ec - ea, nc = ptr[b + 2] - ec;
            int common = Math.min(na, nc);
            for (int t = 0; t < common; t++) {
                float va = val[ea + t];
                int oa = idx[ea + t] << 4;
                float vc = val[ec + t];
                int oc = idx[ec + t] << 4;
                a0 = a0.add(FloatVector.fromArray(S, p, oa).mul(va));
                a1 = a1.add(FloatVector.fromArray(S, p, oa + 8).mul(va));
                c0 = c0.add(FloatVector.fromArray(S, p, oc).mul(vc));
                c1 = c1.add(FloatVector.fromArray(S, p, oc + 8).mul(vc));
            }
            for (int t = common; t < na; t++) {
                float va = val[ea + t];
                int oa = idx[ea + t] << 4;
                a0 = a0.add(FloatVector.fromArray(S, p, oa).mul(va));
                a1 = a1.add(FloatVector.fromArray(S, p, oa + 8).mul(va));
            }
            for (int t = common; t < nc; t++) {
                float vc = val[ec + t];
                int oc = idx[ec + t] << 4;
                c0 = c0.add(FloatVector.fromArray(S, p, oc).mul(vc));
                c1 = c1.add(FloatVector.fromArray(S, p, oc + 8).mul(vc));
            }
            a0.mul(w).intoArray(ys, b << 4);
            a1.mul(w).intoArray(ys, (b << 4) + 8);
            c0.mul(w).intoArray(ys, (b + 1) << 4);
            c1.mul(w).intoArray(ys, ((b + 1) << 4) + 8);
        }
        for (; b < rows; b++) {
            FloatVector y0 = s0;
            FloatVector y1 = s1;
            if (x != null) {
                int o = xo + b * xStride;
                y0 = y0.sub(FloatVector.fromArray(S, x, o));
                y1 = y1.sub(FloatVector.fromArray(S, x, o + 8));
            }
            int e1 = ptr[b + 1];
            for (int e = ptr[b]; e < e1; e++) {
                float v = val[e];
                int o = idx[e] << 4;
                y0 = y0.add(FloatVector.fromArray(S, p, o).mul(v));
                y1 = y1.add(FloatVector.fromArray(S, p, o + 8).mul(v));
            }
            y0.mul(w).intoArray(ys, b << 4);
            y1.mul(w).intoArray(ys, (b << 4) + 8);
        }
    }

    static void sparseRowsTransposeTimes16(int rows, int[] ptr, int[] idx, float[] val, float[] ys, float[] q, int bo) {
        FloatVector bias0 = FloatVector.fromArray(S, q, bo);
        FloatVector bias1 = FloatVector.fromArray(S, q, bo + 8);
        for (int b = 0; b < rows; b++) {
            FloatVector y0 = FloatVector.fromArray(S, ys, b << 4);
            FloatVector y1 = FloatVector.fromArray(S, ys, (b << 4) + 8);
            int e1 = ptr[b + 1];
            for (int e = ptr[b]; e < e1; e++) {
                float v = val[e];
                int o = idx[e] << 4;
                FloatVector.fromArray(S, q, o).add(y0.mul(v)).intoArray(q, o);
                FloatVector.fromArray(S, q, o + 8).add(y1.mul(v)).intoArray(q, o + 8);
            }
            bias0 = bias0.add(y0);
            bias1 = bias1.add(y1);
        }
        bias0.intoArray(q, bo);
        bias1.intoArray(q, bo + 8);
    }

    /*
     * The gradient-block kernels, one method per use: one shared method with the uses as branches was compiled by C2 for
     * the first use it saw (a PAM-SGD encoder step, one pair) and ran about four times slower in a later Adam step of the
     * same JVM (two pairs), which the benchmark runs after it.
     */

    static void columnsTimesPackedRows16(int columns, int[] colPtr, int[] rowOf, float[] coefA, float[] ysA, float[] outA,
                                         int stride, int off) {
        for (int j = 0; j < columns; j++) {
            int p0 = colPtr[j];
            int p1 = colPtr[j + 1];
            if (p0 == p1) {
                continue;
            }
            int r = rowOf[p0] << 4;
            float ca = coefA[p0];
            FloatVector a0 = FloatVector.fromArray(S, ysA, r).mul(ca);
            FloatVector a1 = FloatVector.fromArray(S, ysA, r + 8).mul(ca);
            for (int p = p0 + 1; p < p1; p++) {
                int q = rowOf[p] << 4;
                ca = coefA[p];
                a0 = FloatVector.fromArray(S, ysA, q).mul(ca).add(a0);
                a1 = FloatVector.fromArray(S, ysA, q + 8).mul(ca).add(a1);
            }
            int o = j * stride + off;
            a0.intoArray(outA, o);
            a1.intoArray(outA, o + 8);
        }
    }

    static void columnsTimesPackedRows16Two(int columns, int[] colPtr, int[] rowOf, float[] coefA, float[] ysA, float[] outA,
                                            float[] coefB, float[] ysB, float[] outB, int stride, int off) {
        for (int j = 0; j < columns; j++) {
            int p0 = colPtr[j];
            int p1 = colPtr[j + 1];
            if (p0 == p1) {
                continue;
            }
            int r = rowOf[p0] << 4;
            float ca = coefA[p0];
            float cb = coefB[p0];
            FloatVector a0 = FloatVector.fromArray(S, ysA, r).mul(ca);
            FloatVector a1 = FloatVector.fromArray(S, ysA, r + 8).mul(ca);
            FloatVector b0 = FloatVector.fromArray(S, ysB, r).mul(cb);
            FloatVector b1 = FloatVector.fromArray(S, ysB, r + 8).mul(cb);
            for (int p = p0 + 1; p < p1; p++) {
                int q = rowOf[p] << 4;
                ca = coefA[p];
                cb = coefB[p];
                a0 = FloatVector.fromArray(S, ysA, q).mul(ca).add(a0);
                a1 = FloatVector.fromArray(S, ysA, q + 8).mul(ca).add(a1);
                b0 = FloatVector.fromArray(S, ysB, q).mul(cb).add(b0);
                b1 = FloatVector.fromArray(S, ysB, q + 8).mul(cb).add(b1);
            }
            int o = j * stride + off;
            a0.intoArray(outA, o);
            a1.intoArray(outA, o + 8);
            b0.intoArray(outB, o);
            b1.intoArray(outB, o + 8);
        }
    }

    static void columnsTimesPackedRows16Into(int columns, int[] colPtr, int[] rowOf, float[] coefA, float[] ysA, float[] outA,
                                             float[] coefB, float[] ysB, int stride, int off) {
        for (int j = 0; j < columns; j++) {
            int p0 = colPtr[j];
            int p1 = colPtr[j + 1];
            if (p0 == p1) {
                continue;
            }
            int r = rowOf[p0] << 4;
            float ca = coefA[p0];
            float cb = coefB[p0];
            FloatVector a0 = FloatVector.fromArray(S, ysB, r).mul(cb).add(FloatVector.fromArray(S, ysA, r).mul(ca));
            FloatVector a1 = FloatVector.fromArray(S, ysB, r + 8).mul(cb).add(FloatVector.fromArray(S, ysA, r + 8).mul(ca));
            for (int p = p0 + 1; p < p1; p++) {
                int q = rowOf[p] << 4;
                ca = coefA[p];
                cb = coefB[p];
                a0 = FloatVector.fromArray(S, ysA, q).mul(ca).add(a0);
                a1 = FloatVector.fromArray(S, ysA, q + 8).mul(ca).add(a1);
                a0 = FloatVector.fromArray(S, ysB, q).mul(cb).add(a0);
                a1 = FloatVector.fromArray(S, ysB, q + 8).mul(cb).add(a1);
            }
            int o = j * stride + off;
            a0.intoArray(outA, o);
            a1.intoArray(outA, o + 8);
        }
    }

    static void columnsTimesPackedRows8(int columns, int[] colPtr, int[] rowOf, float[] coefA, float[] ysA, float[] outA,
                                        float[] coefB, float[] ysB, float[] outB, int stride, int off) {
        boolean into = coefB != null && outB == null;
        boolean two = outB != null;
        for (int j = 0; j < columns; j++) {
            int p0 = colPtr[j];
            int p1 = colPtr[j + 1];
            if (p0 == p1) {
                continue;
            }
            int r = rowOf[p0] << 3;
            FloatVector a = FloatVector.fromArray(S, ysA, r).mul(coefA[p0]);
            FloatVector b = null;
            if (coefB != null) {
                FloatVector v = FloatVector.fromArray(S, ysB, r).mul(coefB[p0]);
                if (into) {
                    a = v.add(a);
                } else {
                    b = v;
                }
            }
            for (int p = p0 + 1; p < p1; p++) {
                int q = rowOf[p] << 3;
                a = FloatVector.fromArray(S, ysA, q).mul(coefA[p]).add(a);
                if (into) {
                    a = FloatVector.fromArray(S, ysB, q).mul(coefB[p]).add(a);
                } else if (two) {
                    b = FloatVector.fromArray(S, ysB, q).mul(coefB[p]).add(b);
                }
            }
            int o = j * stride + off;
            a.intoArray(outA, o);
            if (two) {
                b.intoArray(outB, o);
            }
        }
    }
}
