package io.proxstream.solvers.sae;

/**
 * Per-row TopK selection for rows that arrive one at a time (or in column blocks), so that the encoder's pre-activations
 * never need to exist as one {@code rows × m} matrix ({@link EncoderGemm#topK} selects each row as it is copied out of
 * the GEMM, with {@link #selectRow}).
 *
 * <p>Each row owns a min-heap of k slots at offset {@code row · k} in {@link #key}, {@link #index} and {@link #value} (the
 * signed pre-activation, which {@code topk_abs} needs). The operations and their order are those of
 * {@link Sparsify#selectRow}: the first k columns are pushed one by one, every later column replaces the heap's root when
 * its key is strictly larger (ties go to the lower latent index), so the heaps — and the codes read from them — are the
 * same whether a row arrives whole or in blocks. Scanning a block is the hot loop of the encoder after its GEMM: with the
 * JDK's vector API ({@code --add-modules jdk.incubator.vector}, which the launcher sets) a block is compared against the
 * root a vector at a time and only vectors that hold a larger key go through the heap ({@link VectorTopK}); without it a
 * scalar loop does the same.
 */
final class TopKHeaps {
    /** Whether the vector API is present, runs natively and is not switched off ({@link io.proxstream.solvers.linalg.Vec#SIMD}). */
    static final boolean VECTOR = io.proxstream.solvers.linalg.Vec.SIMD;

    final int k;
    float[] key = new float[0];
    int[] index = new int[0];
    float[] value = new float[0];
    /** The root key of each row's heap once it holds k entries. */
    float[] min = new float[0];

    TopKHeaps(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, got " + k);
        }
        this.k = k;
    }

    void reset(int rows) {
        long n = (long) rows * k;
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(rows + " rows x k " + k + " heap slots exceed 2^31 - 1");
        }
        if (key.length < n) {
            key = new float[(int) n];
            index = new int[(int) n];
            value = new float[(int) n];
        }
        if (min.length < rows) {
            min = new float[rows];
        }
    }

    /**
     * Feeds the keys of columns {@code c0 .. c0 + len} of row {@code row} (values {@code s[0 .. len)}, bias included) to the
     * row's heap. The first call of a row must start at column 0 and hold at least k columns.
     */
    void feed(int row, float[] s, int len, int c0, boolean abs) {
        feed(row, s, len, c0, abs, VECTOR);
    }

    /** {@link #feed} with the vector scan or the scalar one (tests run both on one JVM). */
    void feed(int row, float[] s, int len, int c0, boolean abs, boolean vector) {
        int o = row * k;
        int j = 0;
        if (c0 == 0) {
            if (len < k) {
                throw new IllegalArgumentException("the first block of a row holds " + len + " columns, fewer than k = " + k);
            }
            for (; j < k; j++) {
                float v = s[j];
                push(o, j, abs ? Math.abs(v) : v, j, v);
            }
            min[row] = key[o];
        }
        min[row] = vector ? VectorTopK.scan(this, o, s, j, len, c0, abs, min[row]) : scan(o, s, j, len, c0, abs, min[row]);
    }

    /**
     * The heap of row {@code row} for a whole row of keys {@code s[0 .. m)} (bias included), in two passes: the maxima of
     * chunks of consecutive keys, whose k-th largest t is a lower bound of the row's k-th largest key (the k chunks whose
     * maxima reach t hold k keys of at least t); then only the keys of at least t go through the heap, in column order.
     * The heap ends with the k largest keys, ties to the lower index, as {@link #feed} leaves it, though its slots may be
     * in another order; it touches the heap about 1.5·k times a row where {@code feed} does about k·ln(m/k) times. A row
     * with a NaN key, or too short for the chunks to narrow anything, goes through {@link #feed} (exactly the scan of
     * {@link Sparsify}).
     */
    void selectRow(int row, float[] s, int m, boolean abs, float[] chunkScratch) {
        selectRow(row, s, null, m, abs, chunkScratch, VECTOR);
    }

    /**
     * {@link #selectRow(int, float[], int, boolean, float[])} of the keys {@code s + bias}: {@code s} is first made
     * {@code s[j] += bias[j]} (the bits of {@link io.proxstream.solvers.linalg.Vec#axpy} with α = 1), in the same pass
     * as the chunk maxima where the row takes that route, so the row is read once less. {@code s} holds the biased keys
     * after.
     */
    void selectRow(int row, float[] s, float[] bias, int m, boolean abs, float[] chunkScratch) {
        selectRow(row, s, bias, m, abs, chunkScratch, VECTOR);
    }

    /** {@link #selectRow} with the vector passes or the scalar ones (tests run both on one JVM); {@code bias} may be null. */
    void selectRow(int row, float[] s, float[] bias, int m, boolean abs, float[] chunkScratch, boolean vector) {
        int chunk = vector ? VectorTopK.chunk() : 64;
        int chunks = m / chunk;
        if (chunks < 4 * k) {
            if (bias != null) {
                io.proxstream.solvers.linalg.Vec.axpy(1f, bias, 0, s, 0, m);
            }
            feed(row, s, m, 0, abs, vector);
            return;
        }
        float t = vector ? VectorTopK.chunkMaxima(s, bias, chunks, abs, chunkScratch)
                : chunkMaxima(s, bias, chunk, chunks, abs, chunkScratch);
        for (int j = chunks * chunk; j < m; j++) {
            if (bias != null) {
                s[j] += bias[j];
            }
            t = Math.max(t, abs ? Math.abs(s[j]) : s[j]);    // the tail: the NaN test below sees it too
        }
        if (Float.isNaN(t)) {
            feed(row, s, m, 0, abs, vector);
            return;
        }
        t = kthLargest(chunkScratch, chunks, k);
        int o = row * k;
        int n = vector ? VectorTopK.candidates(this, o, s, m, abs, t) : candidates(o, s, 0, m, abs, t, 0);
        if (n < k) {
            throw new IllegalStateException("only " + n + " keys reach the bound " + t + " of the k = " + k + "th largest");
        }
        min[row] = key[o];
    }

    /**
     * Chunk maxima of the keys into {@code out}, after {@code s[j] += bias[j]} over the chunks when {@code bias} is not
     * null; returns their maximum, NaN when a key is NaN.
     */
    static float chunkMaxima(float[] s, float[] bias, int chunk, int chunks, boolean abs, float[] out) {
        float all = Float.NEGATIVE_INFINITY;
        for (int c = 0; c < chunks; c++) {
            float mx = Float.NEGATIVE_INFINITY;
            for (int j = c * chunk, end = j + chunk; j < end; j++) {
                if (bias != null) {
                    s[j] += bias[j];
                }
                mx = Math.max(mx, abs ? Math.abs(s[j]) : s[j]);
            }
            out[c] = mx;
            all = Math.max(all, mx);
        }
        return all;
    }

    /** The k-th largest of {@code v[0 .. n)} (no NaN; k ≤ n): a min-heap of the k largest in {@code v[0 .. k)}, which it reorders. */
    private static float kthLargest(float[] v, int n, int k) {
        for (int i = k / 2 - 1; i >= 0; i--) {
            siftDown(v, i, k, v[i]);
        }
        for (int i = k; i < n; i++) {
            if (v[i] > v[0]) {
                siftDown(v, 0, k, v[i]);
            }
        }
        return v[0];
    }

    private static void siftDown(float[] v, int c, int k, float x) {
        while (true) {
            int l = 2 * c + 1;
            if (l >= k) {
                break;
            }
            int s = (l + 1 < k && v[l + 1] < v[l]) ? l + 1 : l;
            if (v[s] < x) {
                v[c] = v[s];
                c = s;
            } else {
                break;
            }
        }
        v[c] = x;
    }

    /**
     * Feeds the keys of {@code s[from .. to)} that reach {@code t} to the heap at offset o, {@code have} of whose slots
     * are filled; returns the filled slots after.
     */
    int candidates(int o, float[] s, int from, int to, boolean abs, float t, int have) {
        for (int j = from; j < to; j++) {
            float v = s[j];
            float kv = abs ? Math.abs(v) : v;
            if (kv >= t) {
                if (have < k) {
                    push(o, have++, kv, j, v);
                } else if (kv > key[o]) {
                    replace(o, kv, j, v);
                }
            }
        }
        return have;
    }

    /** The scalar scan of {@code s[from .. to)}: returns the root key after it. */
    float scan(int o, float[] s, int from, int to, int c0, boolean abs, float root) {
        for (int j = from; j < to; j++) {
            float v = s[j];
            float kv = abs ? Math.abs(v) : v;
            if (kv > root) {   // an equal key never displaces a lower index
                root = replace(o, kv, c0 + j, v);
            }
        }
        return root;
    }

    /** Writes row {@code row}'s k entries (heap order, as {@link Sparsify#selectRow}) as indices and code values. */
    void emit(int row, boolean abs, int[] idx, float[] val, int at) {
        int o = row * k;
        for (int t = 0; t < k; t++) {
            idx[at + t] = index[o + t];
            float a = value[o + t];
            val[at + t] = abs ? a : Math.max(a, 0f);
        }
    }

    private static boolean less(float ka, int ia, float kb, int ib) {
        return ka < kb || (ka == kb && ia > ib);
    }

    /** Sift-up insertion of the n-th entry (n entries already in the heap at offset o). */
    private void push(int o, int n, float kv, int j, float v) {
        int c = n;
        while (c > 0) {
            int p = (c - 1) >>> 1;
            if (less(kv, j, key[o + p], index[o + p])) {
                move(o + c, o + p);
                c = p;
            } else {
                break;
            }
        }
        key[o + c] = kv;
        index[o + c] = j;
        value[o + c] = v;
    }

    /** Replaces the root by (kv, j, v) and sifts it down; returns the new root key. */
    float replace(int o, float kv, int j, float v) {
        int c = 0;
        while (true) {
            int l = 2 * c + 1;
            if (l >= k) {
                break;
            }
            int r = l + 1;
            int s = (r < k && less(key[o + r], index[o + r], key[o + l], index[o + l])) ? r : l;
            if (less(key[o + s], index[o + s], kv, j)) {
                move(o + c, o + s);
                c = s;
            } else {
                break;
            }
        }
        key[o + c] = kv;
        index[o + c] = j;
        value[o + c] = v;
        return key[o];
    }

    private void move(int to, int from) {
        key[to] = key[from];
        index[to] = index[from];
        value[to] = value[from];
    }
}
