package io.proxstream.solvers.sae;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * How well a dictionary recovers planted features: cosine similarities between the true features
 * and the model's decoder atoms.
 */
public final class FeatureRecovery {
    private FeatureRecovery() {
    }

    /** Bytes of the features × latents cosine block {@link #maxCosines} computes at a time. */
    static final long BLOCK_BYTES = 64L << 20;

    /**
     * Per true feature, the largest cosine similarity with any decoder atom. The features × latents cosine matrix is
     * never held whole (24 576 planted features against 16 384 latents would be 1.6 GB): it is computed in blocks of
     * feature rows of at most {@link #BLOCK_BYTES}, each reduced to its row maxima before the next.
     *
     * @param truth    {@code features × d} true features (not modified)
     * @param features number of true features
     */
    public static double[] maxCosines(float[] truth, int features, SaeModel model) {
        int m = model.spec().latents();
        return maxCosines(truth, features, model, (int) Math.max(1, Math.min(features, BLOCK_BYTES / (4L * m))));
    }

    /** {@link #maxCosines(float[], int, SaeModel)} with {@code blockRows} feature rows per block. */
    static double[] maxCosines(float[] truth, int features, SaeModel model, int blockRows) {
        int d = model.spec().inputDim();
        int m = model.spec().latents();
        if (truth.length != (long) features * d) {
            throw new IllegalArgumentException("truth has " + truth.length + " values, expected " + features + "x" + d);
        }
        if (blockRows < 1) {
            throw new IllegalArgumentException("block rows must be positive, got " + blockRows);
        }
        double[] out = new double[features];
        try (INDArray w = normalisedRows(model.decoderWeights(), m, d); INDArray wt = w.transpose()) {
            for (int from = 0; from < features; from += blockRows) {
                int rows = Math.min(blockRows, features - from);
                float[] block = java.util.Arrays.copyOfRange(truth, from * d, (from + rows) * d);
                try (INDArray f = normalisedRows(block, rows, d);
                     INDArray c = f.mmul(wt);
                     INDArray best = c.max(1)) {
                    System.arraycopy(best.toDoubleVector(), 0, out, from, rows);
                }
            }
        }
        return out;
    }

    /** MMCS: the mean over true features of {@link #maxCosines}. */
    public static double mmcs(float[] truth, int features, SaeModel model) {
        double s = 0;
        for (double v : maxCosines(truth, features, model)) {
            s += v;
        }
        return s / features;
    }

    /**
     * MCC: the mean over true features of |cos| between each feature and the decoder atom it is
     * matched to by an optimal one-to-one assignment (Hungarian method) maximising the total |cos|.
     * With more features than atoms, unmatched features count as 0.
     */
    public static double mcc(float[] truth, int features, SaeModel model) {
        int d = model.spec().inputDim();
        int m = model.spec().latents();
        if (truth.length != features * d) {
            throw new IllegalArgumentException("truth has " + truth.length + " values, expected " + features + "x" + d);
        }
        double[][] cost;
        try (INDArray f = normalisedRows(truth, features, d);
             INDArray w = normalisedRows(model.decoderWeights(), m, d);
             INDArray c = f.mmul(w.transpose())) {
            float[] cs = c.data().asFloat();
            boolean rowsAreFeatures = features <= m;
            int n = Math.min(features, m);
            int cols = Math.max(features, m);
            cost = new double[n][cols];
            for (int a = 0; a < features; a++) {
                for (int b = 0; b < m; b++) {
                    double v = -Math.abs(cs[a * m + b]);
                    if (rowsAreFeatures) {
                        cost[a][b] = v;
                    } else {
                        cost[b][a] = v;
                    }
                }
            }
        }
        int[] match = assignment(cost);
        double total = 0;
        for (int r = 0; r < cost.length; r++) {
            total -= cost[r][match[r]];
        }
        return total / features;
    }

    /**
     * Minimum-cost assignment of the n rows of {@code cost} (n ≤ columns) to distinct columns by the
     * Hungarian method with potentials, O(n² · columns). Returns the column of each row.
     */
    static int[] assignment(double[][] cost) {
        int n = cost.length;
        int m = n == 0 ? 0 : cost[0].length;
        if (n > m) {
            throw new IllegalArgumentException("assignment needs rows <= columns, got " + n + " x " + m);
        }
        double[] u = new double[n + 1];
        double[] v = new double[m + 1];
        int[] p = new int[m + 1];      // p[j]: row (1-based) matched to column j, 0 = none
        int[] way = new int[m + 1];
        double[] minv = new double[m + 1];
        boolean[] used = new boolean[m + 1];
        for (int i = 1; i <= n; i++) {
            p[0] = i;
            int j0 = 0;
            java.util.Arrays.fill(minv, Double.POSITIVE_INFINITY);
            java.util.Arrays.fill(used, false);
            do {
                used[j0] = true;
                int i0 = p[j0];
                double delta = Double.POSITIVE_INFINITY;
                int j1 = 0;
                double[] row = cost[i0 - 1];
                for (int j = 1; j <= m; j++) {
                    if (!used[j]) {
                        double cur = row[j - 1] - u[i0] - v[j];
                        if (cur < minv[j]) {
                            minv[j] = cur;
                            way[j] = j0;
                        }
                        if (minv[j] < delta) {
                            delta = minv[j];
                            j1 = j;
                        }
                    }
                }
                for (int j = 0; j <= m; j++) {
                    if (used[j]) {
                        u[p[j]] += delta;
                        v[j] -= delta;
                    } else {
                        minv[j] -= delta;
                    }
                }
                j0 = j1;
            } while (p[j0] != 0);
            do {
                int j1 = way[j0];
                p[j0] = p[j1];
                j0 = j1;
            } while (j0 != 0);
        }
        int[] match = new int[n];
        for (int j = 1; j <= m; j++) {
            if (p[j] != 0) {
                match[p[j] - 1] = j - 1;
            }
        }
        return match;
    }

    private static INDArray normalisedRows(float[] a, int rows, int d) {
        float[] copy = a.clone();
        for (int r = 0; r < rows; r++) {
            double n = 0;
            for (int i = 0; i < d; i++) {
                n += (double) copy[r * d + i] * copy[r * d + i];
            }
            float inv = n > 0 ? (float) (1 / Math.sqrt(n)) : 0f;
            for (int i = 0; i < d; i++) {
                copy[r * d + i] *= inv;
            }
        }
        return Nd4j.create(copy, new long[] {rows, d}, DataType.FLOAT);
    }
}
