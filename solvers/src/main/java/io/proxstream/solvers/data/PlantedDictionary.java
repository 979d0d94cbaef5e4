package io.proxstream.solvers.data;

import io.proxstream.solvers.sae.SaeModel;
import java.util.SplittableRandom;

/**
 * The synthetic feature-recovery benchmark of spec/sae.md: a ground-truth dictionary F of
 * {@code features} unit vectors in {@code dim} dimensions; feature i fires independently with
 * probability {@code p_i = decay^i · baseRate / features}, with magnitude U(0,1); a sample is
 * {@code x = Σ_i c_i F_i} plus optional Gaussian noise of standard deviation {@code noise}.
 *
 * <p>Rows are drawn in blocks: for each feature the rows where it fires are found by geometric
 * skipping, which draws exactly the same Bernoulli(p_i) pattern as one coin per (row, feature) but
 * costs O(features + firings) per block instead of O(rows · features).
 */
public final class PlantedDictionary {

    /**
     * @param dim      d
     * @param features n_gt
     * @param baseRate expected firings per row scale (spec: 5)
     * @param decay    geometric decay of the firing probabilities (spec: 0.99)
     * @param noise    standard deviation of additive Gaussian noise (0 = none)
     * @param seed     seed of the dictionary
     */
    public record Options(int dim, int features, double baseRate, double decay, double noise, long seed) {
        public Options {
            if (dim <= 0 || features <= 0) {
                throw new IllegalArgumentException("dim and features must be positive, got " + dim + ", " + features);
            }
            if (!(baseRate > 0) || baseRate > features) {
                throw new IllegalArgumentException("baseRate must be in (0, features], got " + baseRate);
            }
            if (!(decay > 0 && decay <= 1)) {
                throw new IllegalArgumentException("decay must be in (0,1], got " + decay);
            }
            if (!(noise >= 0) || Double.isInfinite(noise)) {
                throw new IllegalArgumentException("noise must be finite and >= 0, got " + noise);
            }
        }

        /** The spec's defaults: 512 features in 256 dimensions, p_i = 0.99^i · 5/512, no noise. */
        public static Options defaults(long seed) {
            return new Options(256, 512, 5.0, 0.99, 0.0, seed);
        }
    }

    private final Options options;
    private final float[] dictionary;
    private final double[] logMiss;
    private final double[] prob;
    /** Separates the dictionary's random stream from every other stream drawn from the same seed. */
    static final long DICTIONARY_SALT = 0x5DEECE662F1B3A5BL;

    public PlantedDictionary(Options options) {
        this.options = options;
        int d = options.dim();
        int n = options.features();
        // salted: a model initialised with the same seed (SaeModel.Init.UNIT draws unit vectors the same way) must not
        // start out as the planted dictionary
        SplittableRandom rnd = new SplittableRandom(options.seed() ^ DICTIONARY_SALT);
        dictionary = new float[n * d];
        for (int f = 0; f < n; f++) {
            double norm = 0;
            for (int i = 0; i < d; i++) {
                double g = SaeModel.gaussian(rnd);
                dictionary[f * d + i] = (float) g;
                norm += g * g;
            }
            float inv = (float) (1 / Math.sqrt(norm));
            for (int i = 0; i < d; i++) {
                dictionary[f * d + i] *= inv;
            }
        }
        prob = new double[n];
        logMiss = new double[n];
        for (int f = 0; f < n; f++) {
            prob[f] = Math.pow(options.decay(), f) * options.baseRate() / n;
            logMiss[f] = Math.log1p(-prob[f]);
        }
    }

    public Options options() {
        return options;
    }

    /** The ground-truth features, {@code features × dim}, unit rows (not a copy: do not modify). */
    public float[] dictionary() {
        return dictionary;
    }

    /** Firing probability of feature f. */
    public double probability(int f) {
        return prob[f];
    }

    /** Expected number of active features per row, Σ p_i. */
    public double expectedActive() {
        double s = 0;
        for (double p : prob) {
            s += p;
        }
        return s;
    }

    /**
     * Writes {@code rows} fresh samples into {@code out} (modified, {@code rows × dim}).
     *
     * @param rnd the stream's generator (advanced)
     */
    public void fill(float[] out, int rows, SplittableRandom rnd) {
        int d = options.dim();
        java.util.Arrays.fill(out, 0, rows * d, 0f);
        for (int f = 0; f < prob.length; f++) {
            int pos = -1;
            while (true) {
                // gap ~ Geometric(p): number of misses before the next hit
                double u = 1.0 - rnd.nextDouble();
                long gap = (long) Math.floor(Math.log(u) / logMiss[f]);
                long next = pos + 1L + gap;
                if (next >= rows) {
                    break;
                }
                pos = (int) next;
                float c = (float) rnd.nextDouble();
                int o = pos * d;
                int fo = f * d;
                for (int i = 0; i < d; i++) {
                    out[o + i] += c * dictionary[fo + i];
                }
            }
        }
        if (options.noise() > 0) {
            float s = (float) options.noise();
            for (int i = 0; i < rows * d; i++) {
                out[i] += s * (float) SaeModel.gaussian(rnd);
            }
        }
    }

    /** A data set of {@code rows} samples drawn with {@code seed}. */
    public Dataset sample(int rows, long seed) {
        float[] x = new float[rows * options.dim()];
        fill(x, rows, new SplittableRandom(seed));
        return new Dataset(x, rows, options.dim());
    }
}
