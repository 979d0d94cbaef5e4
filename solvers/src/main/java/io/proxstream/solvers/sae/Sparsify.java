package io.proxstream.solvers.sae;

import io.proxstream.solvers.parallel.Parallel;

/**
 * Applies a {@link Sparsifier} to a block of pre-activations, row by row, in plain Java.
 *
 * <p>TopK selection keeps a min-heap of the k best keys seen so far: O(m) comparisons per row in the
 * common case, O(m log k) at worst. Ties go to the lower latent index, so the support is a
 * deterministic function of the pre-activations.
 */
public final class Sparsify {
    private Sparsify() {
    }

    /**
     * Fills {@code out} with the codes of {@code rows} rows of pre-activations.
     *
     * @param pre  pre-activations, row-major {@code rows × m}; not modified
     * @param out  receives the codes; modified
     */
    public static void apply(SaeSpec spec, float[] pre, int rows, SparseCodes out) {
        int m = spec.latents();
        switch (spec.sparsifier()) {
            case TOPK, TOPK_ABS -> topK(spec.sparsifier() == Sparsifier.TOPK_ABS, spec.k(), pre, rows, m, out);
            case RELU -> relu(pre, rows, m, out);
            default -> throw new IllegalStateException(spec.sparsifier().toString());
        }
    }

    private static void topK(boolean abs, int k, float[] pre, int rows, int m, SparseCodes out) {
        out.reset(rows, m, rows * k);
        for (int b = 0; b <= rows; b++) {
            out.rowPtr[b] = b * k;
        }
        Parallel.forRange(rows, 8, (from, to) -> {
            float[] heapKey = new float[k];
            int[] heapIdx = new int[k];
            for (int b = from; b < to; b++) {
                selectRow(abs, k, pre, b * m, m, heapKey, heapIdx);
                int base = b * k;
                for (int t = 0; t < k; t++) {
                    int j = heapIdx[t];
                    float a = pre[b * m + j];
                    out.idx[base + t] = j;
                    out.val[base + t] = abs ? a : Math.max(a, 0f);
                }
            }
        });
    }

    /** Leaves the indices of the k largest keys of {@code pre[off .. off+m)} in {@code heapIdx}. */
    static void selectRow(boolean abs, int k, float[] pre, int off, int m, float[] heapKey, int[] heapIdx) {
        for (int j = 0; j < k; j++) {
            float key = abs ? Math.abs(pre[off + j]) : pre[off + j];
            // sift up in a min-heap ordered by (key, -index): on equal keys the higher index is "smaller"
            int c = j;
            while (c > 0) {
                int p = (c - 1) >>> 1;
                if (less(key, j, heapKey[p], heapIdx[p])) {
                    heapKey[c] = heapKey[p];
                    heapIdx[c] = heapIdx[p];
                    c = p;
                } else {
                    break;
                }
            }
            heapKey[c] = key;
            heapIdx[c] = j;
        }
        float min = heapKey[0];
        for (int j = k; j < m; j++) {
            float v = pre[off + j];
            float key = abs ? Math.abs(v) : v;
            if (key > min) {   // an equal key never displaces a lower index
                siftDownReplace(heapKey, heapIdx, k, key, j);
                min = heapKey[0];
            }
        }
    }

    private static boolean less(float ka, int ia, float kb, int ib) {
        return ka < kb || (ka == kb && ia > ib);
    }

    private static void siftDownReplace(float[] key, int[] idx, int k, float newKey, int newIdx) {
        int c = 0;
        while (true) {
            int l = 2 * c + 1;
            if (l >= k) {
                break;
            }
            int r = l + 1;
            int s = (r < k && less(key[r], idx[r], key[l], idx[l])) ? r : l;
            if (less(key[s], idx[s], newKey, newIdx)) {
                key[c] = key[s];
                idx[c] = idx[s];
                c = s;
            } else {
                break;
            }
        }
        key[c] = newKey;
        idx[c] = newIdx;
    }

    private static void relu(float[] pre, int rows, int m, SparseCodes out) {
        int[] counts = new int[rows];
        Parallel.forRange(rows, 8, (from, to) -> {
            for (int b = from; b < to; b++) {
                int c = 0;
                for (int j = 0, o = b * m; j < m; j++) {
                    if (pre[o + j] > 0f) {
                        c++;
                    }
                }
                counts[b] = c;
            }
        });
        int total = 0;
        for (int c : counts) {
            total += c;
        }
        out.reset(rows, m, total);
        int acc = 0;
        for (int b = 0; b < rows; b++) {
            out.rowPtr[b] = acc;
            acc += counts[b];
        }
        out.rowPtr[rows] = acc;
        Parallel.forRange(rows, 8, (from, to) -> {
            for (int b = from; b < to; b++) {
                int e = out.rowPtr[b];
                for (int j = 0, o = b * m; j < m; j++) {
                    float a = pre[o + j];
                    if (a > 0f) {
                        out.idx[e] = j;
                        out.val[e] = a;
                        e++;
                    }
                }
            }
        });
    }

    /** Derivative σ'(a) at a stored entry with value {@code v}: the ReLU of {@code topk} has 0 at v = 0. */
    static float derivative(Sparsifier s, float v) {
        return s == Sparsifier.TOPK ? (v > 0f ? 1f : 0f) : 1f;
    }
}
