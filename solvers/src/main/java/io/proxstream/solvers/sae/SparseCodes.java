package io.proxstream.solvers.sae;

import java.util.Arrays;

/**
 * Codes of a minibatch in compressed-row form: row {@code b} holds entries
 * {@code e ∈ [rowStart(b), rowEnd(b))} with latent {@link #index(int)} and value {@link #value(int)}.
 * TopK rows hold exactly k entries (some may be 0 after the ReLU of {@code topk}); ReLU rows hold
 * their positive entries. The arrays are reused between batches; an instance is owned by one thread.
 */
public final class SparseCodes {
    private int rows;
    private int latents;
    int[] rowPtr = new int[1];
    int[] idx = new int[0];
    float[] val = new float[0];

    /** Makes room for {@code rows} rows and {@code nnz} entries; contents are undefined afterwards. */
    void reset(int rows, int latents, int nnz) {
        this.rows = rows;
        this.latents = latents;
        if (rowPtr.length < rows + 1) {
            rowPtr = new int[rows + 1];
        }
        if (idx.length < nnz) {
            idx = new int[nnz];
            val = new float[nnz];
        }
    }

    public int rows() {
        return rows;
    }

    public int latents() {
        return latents;
    }

    public int rowStart(int b) {
        return rowPtr[b];
    }

    public int rowEnd(int b) {
        return rowPtr[b + 1];
    }

    /** Number of stored entries (including explicit zeros of {@code topk}). */
    public int entries() {
        return rowPtr[rows];
    }

    public int index(int e) {
        return idx[e];
    }

    public float value(int e) {
        return val[e];
    }

    /** Number of non-zero code values. */
    public long nonZeros() {
        long c = 0;
        for (int e = 0, n = entries(); e < n; e++) {
            if (val[e] != 0f) {
                c++;
            }
        }
        return c;
    }

    /** An independent copy holding exactly this batch's entries. */
    public SparseCodes copy() {
        SparseCodes c = new SparseCodes();
        int nnz = entries();
        c.reset(rows, latents, nnz);
        System.arraycopy(rowPtr, 0, c.rowPtr, 0, rows + 1);
        System.arraycopy(idx, 0, c.idx, 0, nnz);
        System.arraycopy(val, 0, c.val, 0, nnz);
        return c;
    }

    /**
     * Codes read back from elsewhere (a message, a file): row {@code b} holds entries
     * {@code [rowPtr[b], rowPtr[b+1])} of {@code idx} and {@code val}. Validated, since they come from outside: the row
     * pointers start at 0, never fall and end at the entries given; every index lies in [0, latents); every value is finite.
     * The arrays are used as they are (not copied).
     */
    public static SparseCodes of(int rows, int latents, int[] rowPtr, int[] idx, float[] val) {
        if (rows < 0 || latents < 1 || rowPtr.length != rows + 1 || idx.length != val.length) {
            throw new IllegalArgumentException("codes: " + rows + " rows need " + (rows + 1) + " row pointers (got " + rowPtr.length
                    + ") and as many values as indices (" + val.length + " vs " + idx.length + ")");
        }
        if (rowPtr[0] != 0 || rowPtr[rows] != idx.length) {
            throw new IllegalArgumentException("codes: row pointers run from " + rowPtr[0] + " to " + rowPtr[rows] + ", expected 0 to "
                    + idx.length);
        }
        for (int b = 0; b < rows; b++) {
            if (rowPtr[b + 1] < rowPtr[b]) {
                throw new IllegalArgumentException("codes: row pointer " + (b + 1) + " falls (" + rowPtr[b] + " -> " + rowPtr[b + 1] + ")");
            }
        }
        for (int e = 0; e < idx.length; e++) {
            if (idx[e] < 0 || idx[e] >= latents) {
                throw new IllegalArgumentException("codes: entry " + e + " names latent " + idx[e] + " outside [0," + latents + ")");
            }
            if (!Float.isFinite(val[e])) {
                throw new IllegalArgumentException("codes: entry " + e + " holds " + val[e]);
            }
        }
        SparseCodes c = new SparseCodes();
        c.rows = rows;
        c.latents = latents;
        c.rowPtr = rowPtr;
        c.idx = idx;
        c.val = val;
        return c;
    }

    /** The sorted latent indices of row {@code b} (a copy; for tests and geometry). */
    public int[] support(int b) {
        int[] s = Arrays.copyOfRange(idx, rowPtr[b], rowPtr[b + 1]);
        Arrays.sort(s);
        return s;
    }

    /** Row {@code b} as a dense vector of length {@code latents} (a copy). */
    public float[] denseRow(int b) {
        float[] z = new float[latents];
        for (int e = rowPtr[b]; e < rowPtr[b + 1]; e++) {
            z[idx[e]] = val[e];
        }
        return z;
    }
}
