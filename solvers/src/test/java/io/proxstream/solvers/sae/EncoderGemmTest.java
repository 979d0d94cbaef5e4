package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.blas.BlasInfo;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * ND4J's GEMM, under whatever OpenBLAS kernel this process runs (the launcher sets
 * {@code OPENBLAS_CORETYPE} for the test run), against a plain-Java product in double.
 */
class EncoderGemmTest {

    @Test
    void gemmUnderTheSelectedKernelMatchesPlainJava() {
        BlasInfo blas = BlasInfo.current();
        System.out.println("[EncoderGemmTest] " + blas.describe());
        if (blas.coreTypeOverride() != null && !blas.coreTypeOverride().isBlank()) {
            assertEquals(blas.coreTypeOverride().toLowerCase(), blas.coreName().toLowerCase(),
                    "OpenBLAS did not take the kernel requested by OPENBLAS_CORETYPE");
        }
        assertFalse(blas.coreName().startsWith("unknown"), blas.coreName());
        // shapes large enough for OpenBLAS to use its blocked multithreaded kernel, and odd sizes
        for (int[] s : new int[][] {{256, 384, 768}, {37, 65, 129}, {1, 5, 3}}) {
            int rows = s[0];
            int d = s[1];
            int m = s[2];
            SaeSpec spec = new SaeSpec(d, m, Sparsifier.TOPK, 1, 0, false);
            SaeModel model = ReferenceSae.randomModel(spec, rows + d);
            float[] x = ReferenceSae.gaussianRows(rows, d, m);
            float[] out = new float[rows * m];
            try (EncoderGemm gemm = new EncoderGemm(d, m)) {
                gemm.preActivations(model, x, rows, out);
                // a second call after changing the encoder must see the change
                model.encoderWeights()[0] += 1f;
                model.encoderChanged();
                gemm.preActivations(model, x, rows, out);
            }
            double[] we = ReferenceSae.toDouble(model.encoderWeights());
            double[] be = ReferenceSae.toDouble(model.encoderBias());
            double maxErr = 0;
            for (int b = 0; b < rows; b++) {
                double[] a = ReferenceSae.pre(spec, we, be, x, b);
                for (int j = 0; j < m; j++) {
                    double err = Math.abs(a[j] - out[b * m + j]) / (1 + Math.abs(a[j]));
                    maxErr = Math.max(maxErr, err);
                }
            }
            // float32 dot products of length d: relative error ~ sqrt(d) * 6e-8
            assertEquals(0.0, maxErr, 2e-5, "max relative error at " + rows + "x" + d + "x" + m);
        }
    }

    /**
     * {@link EncoderGemm#topK} (rows selected as they are copied out, two-pass selection) gives the codes of the whole
     * pre-activation matrix followed by {@link Sparsify}: per row the same latents with the same values, bit for bit (the
     * order of a row's entries may differ), with {@code topk} and {@code topk_abs}, at m = 1 000 (the two-pass route) and
     * at m = 100 (too short for it); the kept columns are the whole matrix's columns.
     */
    @Test
    void topKGivesTheCodesOfTheWholeMatrix() {
        int d = 65;
        for (boolean abs : new boolean[] {false, true}) {
            for (int m : new int[] {1000, 100}) {
                for (int rows : new int[] {37, 1}) {
                    int k = 7;
                    SaeSpec spec = new SaeSpec(d, m, abs ? Sparsifier.TOPK_ABS : Sparsifier.TOPK, k, 0, false);
                    SaeModel model = ReferenceSae.randomModel(spec, 5 + rows);
                    float[] x = ReferenceSae.gaussianRows(rows, d, 6 + rows);
                    float[] pre = new float[rows * m];
                    SparseCodes whole = new SparseCodes();
                    SparseCodes fused = new SparseCodes();
                    int[] keep = IntStream.range(0, m).filter(j -> j % 7 == 3 || j == 0 || j == m - 1).toArray();
                    float[] kept = new float[rows * keep.length];
                    try (EncoderGemm gemm = new EncoderGemm(d, m)) {
                        gemm.preActivations(model, x, rows, pre);
                        Sparsify.apply(spec, pre, rows, whole);
                        gemm.topK(model, x, rows, k, abs, fused, keep, kept);
                    }
                    String at = (abs ? "topk_abs" : "topk") + ", m " + m + ", " + rows + " rows";
                    assertArrayEquals(Arrays.copyOf(whole.rowPtr, rows + 1), Arrays.copyOf(fused.rowPtr, rows + 1), at);
                    for (int b = 0; b < rows; b++) {
                        assertArrayEquals(sortedRow(whole, b), sortedRow(fused, b), at + ", row " + b);
                        for (int t = 0; t < keep.length; t++) {
                            assertEquals(pre[b * m + keep[t]], kept[b * keep.length + t], 0f, at + ": kept column " + keep[t]);
                        }
                    }
                }
            }
        }
    }

    /** A row's entries as (index, value bits) pairs in index order. */
    private static long[] sortedRow(SparseCodes c, int b) {
        return IntStream.range(c.rowStart(b), c.rowEnd(b))
                .mapToLong(e -> ((long) c.index(e) << 32) | (Float.floatToRawIntBits(c.value(e)) & 0xffffffffL)).sorted().toArray();
    }

    /**
     * The two-pass selection ({@link TopKHeaps#selectRow}) keeps the set of latents, with their values, that the heap scan
     * of {@link Sparsify} keeps, on rows built to be hard for it: ties everywhere (few distinct values), signed zeros,
     * rising and falling runs, a NaN (which sends the row to the scan itself), rows shorter than the chunks can narrow,
     * k from 1 to 64, with and without the vector API (the vector module is in the test JVM, so both are run here).
     */
    @Test
    void twoPassSelectionKeepsTheScansLatents() {
        Random r = new Random(23);
        for (int trial = 0; trial < 300; trial++) {
            int k = 1 + r.nextInt(64);
            int m = k + r.nextInt(trial % 2 == 0 ? 5000 : 400);
            int kind = trial % 5;
            float[] s = new float[m];
            for (int j = 0; j < m; j++) {
                s[j] = switch (kind) {
                    case 0 -> r.nextInt(5) - 2;
                    case 1 -> r.nextBoolean() ? -0f : 0f;
                    case 2 -> (trial % 4 < 2 ? j : m - j) * 0.5f;
                    default -> (float) r.nextGaussian();
                };
            }
            if (kind == 4) {
                s[r.nextInt(m)] = Float.NaN;
            }
            // the bias is added in the selection's first pass: the keys must be s + bias with an axpy's bits
            float[] bias = new float[m];
            for (int j = 0; j < m; j++) {
                bias[j] = kind == 0 ? r.nextInt(3) - 1 : (float) r.nextGaussian() * 0.3f;
            }
            float[] sb = s.clone();
            io.proxstream.solvers.linalg.Vec.axpy(1f, bias, 0, sb, 0, m);
            for (boolean withBias : new boolean[] {false, true}) {
                float[] keys = withBias ? sb : s;
                for (boolean abs : new boolean[] {false, true}) {
                    float[] heapKey = new float[k];
                    int[] heapIdx = new int[k];
                    Sparsify.selectRow(abs, k, keys, 0, m, heapKey, heapIdx);
                    long[] want = new long[k];
                    for (int t = 0; t < k; t++) {
                        want[t] = ((long) heapIdx[t] << 32) | (Float.floatToRawIntBits(keys[heapIdx[t]]) & 0xffffffffL);
                    }
                    Arrays.sort(want);
                    for (boolean vector : new boolean[] {true, false}) {
                        TopKHeaps h = new TopKHeaps(k);
                        h.reset(1);
                        float[] row = s.clone();
                        h.selectRow(0, row, withBias ? bias : null, m, abs, new float[m], vector);
                        long[] got = new long[k];
                        for (int t = 0; t < k; t++) {
                            got[t] = ((long) h.index[t] << 32) | (Float.floatToRawIntBits(h.value[t]) & 0xffffffffL);
                        }
                        Arrays.sort(got);
                        String what = "trial " + trial + (withBias ? " biased" : "") + (abs ? " abs" : "") + (vector ? " vector" : " scalar")
                                + ", k " + k + ", m " + m + ", kind " + kind;
                        assertArrayEquals(want, got, what);
                        for (int j = 0; j < m; j++) {
                            assertEquals(Float.floatToIntBits(keys[j]), Float.floatToIntBits(row[j]), what + ": key " + j + " after the selection");
                        }
                    }
                }
            }
        }
    }

    /**
     * With small integer weights and inputs every pre-activation is an exact integer, so ties are everywhere and any
     * summation order gives the same numbers: the blocked selection keeps, per row, the k largest keys with ties going to
     * the lower latent index (a sort of all m keys as the reference).
     */
    @Test
    void blockedTopKBreaksTiesTowardsTheLowerIndex() {
        int d = 24;
        int m = 777;
        int rows = 19;
        int k = 9;
        Random r = new Random(3);
        for (boolean abs : new boolean[] {false, true}) {
            SaeSpec spec = new SaeSpec(d, m, abs ? Sparsifier.TOPK_ABS : Sparsifier.TOPK, k, 0, false);
            SaeModel model = ReferenceSae.randomModel(spec, 8);
            float[] w = model.encoderWeights();
            for (int i = 0; i < w.length; i++) {
                w[i] = r.nextInt(3) - 1;
            }
            Arrays.fill(model.encoderBias(), 0f);
            model.encoderChanged();
            float[] x = new float[rows * d];
            for (int i = 0; i < x.length; i++) {
                x[i] = r.nextInt(3) - 1;
            }
            SparseCodes codes = new SparseCodes();
            try (EncoderGemm gemm = new EncoderGemm(d, m)) {
                gemm.topK(model, x, rows, k, abs, codes, new int[0], new float[0]);
            }
            for (int b = 0; b < rows; b++) {
                double[] a = ReferenceSae.pre(spec, ReferenceSae.toDouble(w), new double[m], x, b);
                Integer[] order = IntStream.range(0, m).boxed().toArray(Integer[]::new);
                Arrays.sort(order, (p, q) -> {
                    double kp = abs ? Math.abs(a[p]) : a[p];
                    double kq = abs ? Math.abs(a[q]) : a[q];
                    return kp != kq ? Double.compare(kq, kp) : Integer.compare(p, q);
                });
                int[] want = Arrays.stream(order, 0, k).mapToInt(Integer::intValue).sorted().toArray();
                int[] got = Arrays.stream(codes.idx, b * k, b * k + k).sorted().toArray();
                assertArrayEquals(want, got, (abs ? "topk_abs" : "topk") + " row " + b);
                for (int t = 0; t < k; t++) {
                    double v = a[codes.idx[b * k + t]];
                    assertEquals(abs ? v : Math.max(v, 0), codes.val[b * k + t], 0.0, "row " + b);
                }
            }
        }
    }

    /**
     * The vector scan and the scalar scan leave the same heaps (keys, indices, values, in heap order) on keys with ties,
     * signed zeros, NaNs and rising runs (which make many vectors beat the root); the test JVM has the vector module, so
     * both are exercised here whatever the CPU (the species is the CPU's widest).
     */
    @Test
    void vectorScanLeavesTheHeapsOfTheScalarScan() {
        assertTrue(TopKHeaps.VECTOR, "the tests run with --add-modules jdk.incubator.vector (pom's test.argLine)");
        Random r = new Random(17);
        for (int trial = 0; trial < 200; trial++) {
            int k = 1 + r.nextInt(40);
            int len = k + r.nextInt(700);
            float[] s = new float[len];
            for (int j = 0; j < len; j++) {
                s[j] = switch (r.nextInt(10)) {
                    case 0 -> r.nextInt(4);
                    case 1 -> -0f;
                    case 2 -> trial % 3 == 0 ? Float.NaN : 0f;
                    case 3 -> j * 0.01f;
                    default -> (float) r.nextGaussian();
                };
            }
            for (boolean abs : new boolean[] {false, true}) {
                TopKHeaps vector = new TopKHeaps(k);
                TopKHeaps scalar = new TopKHeaps(k);
                vector.reset(1);
                scalar.reset(1);
                int split = k + r.nextInt(len - k + 1);
                // the first block through feed (the vector scan), the second also at a column offset; the scalar twin
                // runs the same two blocks through the scalar scan
                vector.feed(0, Arrays.copyOfRange(s, 0, split), split, 0, abs, true);
                float[] tail = Arrays.copyOfRange(s, split, len);
                vector.min[0] = VectorTopK.scan(vector, 0, tail, 0, tail.length, split, abs, vector.min[0]);
                float[] first = Arrays.copyOfRange(s, 0, split);
                feedScalar(scalar, first, abs);
                scalar.min[0] = scalar.scan(0, tail, 0, tail.length, split, abs, scalar.min[0]);
                String at = "trial " + trial + (abs ? " abs" : "") + " k " + k + " len " + len;
                assertArrayEquals(Arrays.copyOf(scalar.index, k), Arrays.copyOf(vector.index, k), at);
                assertArrayEquals(Arrays.copyOf(scalar.key, k), Arrays.copyOf(vector.key, k), at);
                assertArrayEquals(Arrays.copyOf(scalar.value, k), Arrays.copyOf(vector.value, k), at);
            }
        }
    }

    /** The scalar twin of {@link TopKHeaps#feed} for a row's first block. */
    private static void feedScalar(TopKHeaps h, float[] s, boolean abs) {
        float[] head = Arrays.copyOf(s, h.k);
        // push the first k through feed on a block of exactly k columns (no scan), then the rest through the scalar scan
        h.feed(0, head, h.k, 0, abs, false);
        h.min[0] = h.scan(0, s, h.k, s.length, 0, abs, h.min[0]);
    }
}
