package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.data.PlantedDictionary;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FeatureRecoveryTest {

    /** The best assignment by trying every permutation (small n only). */
    private static double bruteForce(double[][] c, int row, boolean[] used) {
        if (row == c.length) {
            return 0;
        }
        double best = Double.POSITIVE_INFINITY;
        for (int j = 0; j < c[0].length; j++) {
            if (!used[j]) {
                used[j] = true;
                best = Math.min(best, c[row][j] + bruteForce(c, row + 1, used));
                used[j] = false;
            }
        }
        return best;
    }

    @Test
    void hungarianAssignmentIsOptimal() {
        SplittableRandom r = new SplittableRandom(5);
        for (int trial = 0; trial < 40; trial++) {
            int n = 1 + r.nextInt(6);
            int m = n + r.nextInt(3);
            double[][] c = new double[n][m];
            for (double[] row : c) {
                for (int j = 0; j < m; j++) {
                    row[j] = r.nextInt(4) == 0 ? 1.0 : r.nextDouble(-3, 3);   // ties too
                }
            }
            int[] match = FeatureRecovery.assignment(c);
            double total = 0;
            java.util.Set<Integer> cols = new java.util.HashSet<>();
            for (int i = 0; i < n; i++) {
                total += c[i][match[i]];
                cols.add(match[i]);
            }
            assertEquals(n, cols.size(), "distinct columns");
            assertEquals(bruteForce(c, 0, new boolean[m]), total, 1e-9, "trial " + trial);
        }
    }

    @Test
    void maxCosinesInBlocksOfFeatureRowsEqualTheDirectDoubleComputation() {
        int d = 7;
        int f = 10;
        int m = 9;
        float[] truth = ReferenceSae.gaussianRows(f, d, 21);
        SaeModel model = ReferenceSae.randomModel(new SaeSpec(d, m, Sparsifier.TOPK, 2, 0, false), 22);
        float[] w = model.decoderWeights();
        double[] direct = new double[f];
        for (int a = 0; a < f; a++) {
            direct[a] = Double.NEGATIVE_INFINITY;
            for (int b = 0; b < m; b++) {
                double dot = 0, na = 0, nb = 0;
                for (int t = 0; t < d; t++) {
                    dot += (double) truth[a * d + t] * w[b * d + t];
                    na += (double) truth[a * d + t] * truth[a * d + t];
                    nb += (double) w[b * d + t] * w[b * d + t];
                }
                direct[a] = Math.max(direct[a], dot / Math.sqrt(na * nb));
            }
        }
        // blocks of 1, 3 (a short last block), f and more than f rows, and the default block size
        for (int block : new int[] {1, 3, f, f + 5}) {
            double[] got = FeatureRecovery.maxCosines(truth, f, model, block);
            for (int a = 0; a < f; a++) {
                assertEquals(direct[a], got[a], 1e-5, "block " + block + ", feature " + a);
            }
        }
        double[] dflt = FeatureRecovery.maxCosines(truth, f, model);
        for (int a = 0; a < f; a++) {
            assertEquals(direct[a], dflt[a], 1e-5, "default block, feature " + a);
        }
    }

    @Test
    void mccIsOneForAPermutedSignedDictionaryAndBelowMmcsWhenAtomsAreShared() {
        int d = 6;
        int f = 4;
        float[] truth = ReferenceSae.gaussianRows(f, d, 9);
        SaeSpec spec = new SaeSpec(d, 5, Sparsifier.TOPK, 2, 0, false);
        SaeModel model = ReferenceSae.randomModel(spec, 10);
        float[] w = model.decoderWeights();
        int[] perm = {3, 0, 4, 1};
        for (int a = 0; a < f; a++) {
            for (int t = 0; t < d; t++) {
                w[perm[a] * d + t] = (a % 2 == 0 ? 2f : -0.5f) * truth[a * d + t];
            }
        }
        assertEquals(1.0, FeatureRecovery.mcc(truth, f, model), 1e-6);
        // one atom copies feature 0 for all: MMCS counts it for every feature it is closest to, MCC only once
        for (int j = 0; j < 5; j++) {
            System.arraycopy(truth, 0, w, j * d, d);
        }
        double mcc = FeatureRecovery.mcc(truth, f, model);
        assertTrue(mcc < 0.75, "MCC " + mcc);
    }

    @Test
    void aModelInitialisedWithTheDataSeedDoesNotStartAtThePlantedDictionary() {
        // regression: the dictionary and the unit-sphere init once drew the same Gaussian stream for the same seed,
        // so every synthetic run started with the answer
        for (long seed : new long[] {0, 1, 42}) {
            PlantedDictionary gen = new PlantedDictionary(PlantedDictionary.Options.defaults(seed));
            SaeModel model = SaeModel.initialise(new SaeSpec(256, 1024, Sparsifier.TOPK, 8, 0, false), SaeModel.Init.UNIT, seed);
            double mmcs = FeatureRecovery.mmcs(gen.dictionary(), 512, model);
            assertTrue(mmcs < 0.4, "seed " + seed + ": the initial model already recovers the features, MMCS " + mmcs);
        }
    }
}
