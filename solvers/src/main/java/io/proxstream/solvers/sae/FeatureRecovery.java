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

    /**
     * Per true feature, the largest cosine similarity with any decoder atom.
     *
     * @param truth    {@code features × d} true features (not modified)
     * @param features number of true features
     */
    public static double[] maxCosines(float[] truth, int features, SaeModel model) {
        int d = model.spec().inputDim();
        int m = model.spec().latents();
        if (truth.length != features * d) {
            throw new IllegalArgumentException("truth has " + truth.length + " values, expected " + features + "x" + d);
        }
        try (INDArray f = normalisedRows(truth, features, d);
             INDArray w = normalisedRows(model.decoderWeights(), m, d);
             INDArray c = f.mmul(w.transpose());
             INDArray best = c.max(1)) {
            return best.toDoubleVector();
        }
    }

    /** MMCS: the mean over true features of {@link #maxCosines}. */
    public static double mmcs(float[] truth, int features, SaeModel model) {
        double s = 0;
        for (double v : maxCosines(truth, features, model)) {
            s += v;
        }
        return s / features;
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
