package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.data.PlantedDictionary;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * End-to-end behaviour of the trainers on the planted-dictionary stream (d = 64, 128 features,
 * about 2.8 active per row; m = 256 latents, k = 8).
 *
 * <p>MMCS threshold: 256 random unit atoms in 64 dimensions already give every true feature a best
 * cosine of about 0.45 (the maximum of 256 |N(0, 1/64)|-like projections), which the test measures
 * at initialisation. A dictionary that has learnt the features scores above 0.9; in our runs
 * PAM-SGD reached 0.98 after 128k samples, so 0.9 leaves room for platform differences while being
 * far above chance.
 */
class TrainersTest {
    private static final int D = 64;
    private static final int FEATURES = 128;
    private static final int BATCH = 128;

    private static final PlantedDictionary GEN =
            new PlantedDictionary(new PlantedDictionary.Options(D, FEATURES, 5, 0.99, 0, 1));

    private static SaeModel model(boolean tied) {
        return SaeModel.initialise(new SaeSpec(D, 256, Sparsifier.TOPK, 8, 0, tied), SaeModel.Init.UNIT, 7);
    }

    private static void train(SaeTrainer tr, int steps, long seed) {
        float[] x = new float[BATCH * D];
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int s = 0; s < steps; s++) {
            GEN.fill(x, BATCH, rnd);
            StepResult r = tr.step(x, BATCH);
            assertTrue(Double.isFinite(r.loss()), "loss at step " + s);
        }
    }

    @Test
    void pamSgdLowersTestErrorAndRecoversThePlantedFeatures() {
        Dataset test = GEN.sample(4000, 99);
        SaeModel model = model(false);
        double mse0 = SaeEvaluator.evaluate(model, test, 512).mse();
        double chance = FeatureRecovery.mmcs(GEN.dictionary(), FEATURES, model);
        try (PamSgdTrainer tr = new PamSgdTrainer(model, PamSgdTrainer.Options.experimentDefaults())) {
            train(tr, 1000, 5);
            assertEquals(1000L * BATCH, tr.samplesSeen());
        }
        SaeEvaluator.Result r = SaeEvaluator.evaluate(model, test, 512);
        double mmcs = FeatureRecovery.mmcs(GEN.dictionary(), FEATURES, model);
        assertTrue(chance < 0.6, "chance-level MMCS " + chance);
        assertTrue(r.mse() < mse0 / 5, "test MSE " + mse0 + " -> " + r.mse());
        assertTrue(r.fvu() < 0.1, "test FVU " + r.fvu());
        assertTrue(mmcs > 0.9, "MMCS " + mmcs + " (chance " + chance + ")");
        assertTrue(model.isFinite());
    }

    @Test
    void adamBaselinesLowerTestError() {
        Dataset test = GEN.sample(2000, 98);
        for (boolean tied : new boolean[] {true, false}) {
            SaeModel model = model(tied);
            double mse0 = SaeEvaluator.evaluate(model, test, 512).mse();
            try (AdamTrainer tr = new AdamTrainer(model, Adam.Options.withLr(1e-3))) {
                assertEquals(tied ? "adam-tied" : "adam", tr.algorithm());
                train(tr, 400, 6);
            }
            double mse = SaeEvaluator.evaluate(model, test, 512).mse();
            assertTrue(mse < mse0 / 3, (tied ? "tied" : "untied") + " test MSE " + mse0 + " -> " + mse);
        }
    }

    @Test
    void streamingWithAFrozenEncoderAndNoForgettingEqualsTheOfflineDecoderStep() {
        // lr = 0 freezes the encoder; one solve at the end of the stream over all batches
        PamSgdTrainer.Options o = new PamSgdTrainer.Options(Adam.Options.withLr(0), 1, 0, 0, 0, 1e-6, 0,
                PamSgdTrainer.BlockOrder.DECODER_FIRST, 10, 1.0, true);
        SaeModel streamed = model(false);
        Dataset data = GEN.sample(10 * BATCH, 3);
        try (PamSgdTrainer tr = new PamSgdTrainer(streamed, o)) {
            float[] x = new float[BATCH * D];
            for (int b = 0; b < 10; b++) {
                data.copyRows(b * BATCH, (b + 1) * BATCH, x);
                StepResult r = tr.step(x, BATCH);
                assertEquals(b == 9, r.solve() != null, "solve only after the 10th batch");
            }
        }
        SaeModel offline = model(false);
        try (PamSgdTrainer tr = new PamSgdTrainer(offline, o)) {
            tr.offlineEpoch(data, BATCH, new SplittableRandom(1));
        }
        assertArrayEquals(offline.decoderWeights(), streamed.decoderWeights(), 1e-5f);
        assertArrayEquals(offline.decoderBias(), streamed.decoderBias(), 1e-5f);
    }

    @Test
    void offlineEpochsLowerTheTrainingLossInBothOrders() {
        Dataset data = GEN.sample(4096, 11);
        for (PamSgdTrainer.BlockOrder order : PamSgdTrainer.BlockOrder.values()) {
            SaeModel model = model(false);
            PamSgdTrainer.Options o = new PamSgdTrainer.Options(Adam.Options.withLr(2e-3), 2, 1e-3, 1e-3, 1.0, 1e-6, 0.1,
                    order, 8, 1.0, true);
            double before = SaeEvaluator.evaluate(model, data, 512).mse();
            try (PamSgdTrainer tr = new PamSgdTrainer(model, o)) {
                SplittableRandom rnd = new SplittableRandom(2);
                double last = Double.POSITIVE_INFINITY;
                for (int epoch = 0; epoch < 4; epoch++) {
                    tr.offlineEpoch(data, BATCH, rnd);
                    double mse = SaeEvaluator.evaluate(model, data, 512).mse();
                    assertTrue(mse < (epoch == 0 ? before : last), order + " epoch " + epoch + ": " + mse + " after " + last);
                    last = mse;
                }
            }
        }
    }

    @Test
    void rejectsInvalidConfigurations() {
        assertThrows(IllegalArgumentException.class, () -> new PamSgdTrainer(model(true), PamSgdTrainer.Options.experimentDefaults()));
        assertThrows(IllegalArgumentException.class, () -> new PamSgdTrainer.Options(Adam.Options.withLr(1e-3), 0, 0, 0, 0, 0, 0,
                PamSgdTrainer.BlockOrder.DECODER_FIRST, 1, 1, true));
        assertThrows(IllegalArgumentException.class, () -> new PamSgdTrainer.Options(Adam.Options.withLr(1e-3), 1, 0, 0, 0, 0, 0,
                PamSgdTrainer.BlockOrder.DECODER_FIRST, 1, 0, true));
        assertThrows(IllegalArgumentException.class, () -> new PamSgdTrainer.Options(Adam.Options.withLr(1e-3), 1, -1, 0, 0, 0, 0,
                PamSgdTrainer.BlockOrder.DECODER_FIRST, 1, 1, true));
    }
}
