package io.proxstream.solvers.data;

import java.util.Objects;
import java.util.SplittableRandom;

/**
 * An in-memory table of {@code n} float vectors of width {@code d}, row-major.
 * Used for held-out evaluation sets and offline (epoch-based) training.
 */
public final class Dataset {
    private final float[] data;
    private final int rows;
    private final int dim;

    /** Wraps {@code data} (not copied) as {@code rows × dim}. */
    public Dataset(float[] data, int rows, int dim) {
        Objects.requireNonNull(data, "data");
        if (rows < 0 || dim <= 0 || (long) rows * dim != data.length) {
            throw new IllegalArgumentException("dataset of " + data.length + " values is not " + rows + "x" + dim);
        }
        this.data = data;
        this.rows = rows;
        this.dim = dim;
    }

    public int rows() {
        return rows;
    }

    public int dim() {
        return dim;
    }

    /** The backing array, row-major (not a copy). */
    public float[] data() {
        return data;
    }

    /** Copies rows {@code index[from..to)} into {@code out} (modified), row-major. */
    public void gather(int[] index, int from, int to, float[] out) {
        for (int r = from; r < to; r++) {
            System.arraycopy(data, index[r] * dim, out, (r - from) * dim, dim);
        }
    }

    /** Copies rows {@code [from, to)} into {@code out} (modified). */
    public void copyRows(int from, int to, float[] out) {
        System.arraycopy(data, from * dim, out, 0, (to - from) * dim);
    }

    /** A random permutation of the row indices (Fisher-Yates). */
    public int[] permutation(SplittableRandom rnd) {
        return permutation(rows, rnd);
    }

    /** A random permutation of {@code 0 .. n-1} (Fisher-Yates). */
    public static int[] permutation(int n, SplittableRandom rnd) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** The first {@code count} rows (copied). */
    public Dataset head(int count) {
        if (count < 0 || count > rows) {
            throw new IllegalArgumentException("head(" + count + ") of " + rows + " rows");
        }
        float[] d = new float[count * dim];
        System.arraycopy(data, 0, d, 0, d.length);
        return new Dataset(d, count, dim);
    }

    /** Rows {@code index[from..to)} as a new dataset. */
    public Dataset subset(int[] index, int from, int to) {
        float[] d = new float[(to - from) * dim];
        gather(index, from, to, d);
        return new Dataset(d, to - from, dim);
    }
}
