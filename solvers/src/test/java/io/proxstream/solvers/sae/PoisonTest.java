package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.data.PlantedDictionary;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A batch no validation caught (legal float32 values near the range's end) cannot poison PAM-SGD: the
 * step is skipped before anything is committed, and a failing decoder solve keeps the previous decoder.
 */
class PoisonTest {
    private static final int D = 32;
    private static final int B = 64;
    private static final PlantedDictionary GEN = new PlantedDictionary(new PlantedDictionary.Options(D, 64, 5, 0.99, 0, 1));

    private static PamSgdTrainer trainer() {
        SaeModel model = SaeModel.initialise(new SaeSpec(D, 128, Sparsifier.TOPK, 4, 0, false), SaeModel.Init.UNIT, 3);
        PamSgdTrainer.Options o = PamSgdTrainer.Options.experimentDefaults();
        return new PamSgdTrainer(model, new PamSgdTrainer.Options(o.adam(), o.sgdRepeats(), o.muEnc(), o.nuEnc(), o.clipNorm(), o.rho(),
                o.muDec(), o.order(), 4, o.forgetting(), o.holdUnfired()));
    }

    /** Twelve clean batches of the planted-dictionary stream (seed 1), the same for every trainer. */
    private static float[][] batches() {
        SplittableRandom rnd = new SplittableRandom(1);
        float[][] batches = new float[12][B * D];
        for (float[] b : batches) {
            GEN.fill(b, B, rnd);
        }
        return batches;
    }

    /** A copy of {@code batch} with one entry (row 5, column 7) set to {@code huge}. */
    private static float[] poisoned(float[] batch, float huge) {
        float[] bad = batch.clone();
        bad[5 * D + 7] = huge;
        return bad;
    }

    private static StepResult step(PamSgdTrainer t, float[] x) {
        return t.decoderStage(t.encoderStage(x, B));
    }

    @Test
    void aBatchWithOneHugeRowIsSkippedWholeAndTrainingGoesOnExactlyAsWithoutIt() {
        for (float huge : new float[] {3e38f, 1e30f, -1e20f}) {
            try (PamSgdTrainer poisoned = trainer(); PamSgdTrainer clean = trainer()) {
                float[][] batches = batches();
                float[] bad = poisoned(batches[0], huge);
                for (int i = 0; i < 12; i++) {
                    if (i == 6) {
                        float[] enc = poisoned.model().encoderWeights().clone();
                        float[] dec = poisoned.model().decoderWeights().clone();
                        double n = poisoned.statistics().count();
                        StepResult r = step(poisoned, bad);
                        assertTrue(r.skipped(), huge + ": step should be skipped");
                        assertArrayEquals(enc, poisoned.model().encoderWeights(), "encoder untouched");
                        assertArrayEquals(dec, poisoned.model().decoderWeights(), "decoder untouched");
                        assertEquals(n, poisoned.statistics().count(), "statistics untouched");
                    }
                    assertFalse(step(poisoned, batches[i]).skipped());
                    step(clean, batches[i]);
                }
                assertEquals(1, poisoned.skippedSteps());
                assertEquals(clean.samplesSeen(), poisoned.samplesSeen(), "the skipped rows are not counted as trained");
                assertArrayEquals(clean.model().encoderWeights(), poisoned.model().encoderWeights(),
                        "nothing of the skipped batch was committed: the runs are bit-for-bit equal");
                assertArrayEquals(clean.model().decoderWeights(), poisoned.model().decoderWeights());
                Dataset test = GEN.sample(1000, 9);
                double fvu = SaeEvaluator.evaluate(poisoned.model(), test, 500).fvu();
                assertTrue(Double.isFinite(fvu) && fvu < 1, "FVU " + fvu);
            }
        }
    }

    @Test
    void aDecoderSolveThatFailsKeepsThePreviousDecoderAndIsCounted() {
        try (PamSgdTrainer t = trainer()) {
            SplittableRandom rnd = new SplittableRandom(2);
            float[] x = new float[B * D];
            for (int i = 0; i < 4; i++) {
                GEN.fill(x, B, rnd);
                step(t, x);
            }
            float[] dec = t.model().decoderWeights().clone();
            // poison the statistics behind the trainer's back (the guarded steps never do this)
            GEN.fill(x, B, rnd);
            EncodedBatch e = t.encoderStage(x, B);
            x[3] = Float.NaN;
            t.statistics().accumulate(e.codes(), x, B);
            StepResult r = null;
            for (int i = 0; i < 4; i++) {
                GEN.fill(x, B, rnd);
                r = step(t, x);
            }
            assertNotNull(r.solveError(), "the solve was due and failed");
            assertNull(r.solve());
            assertEquals(1, t.failedSolves());
            assertArrayEquals(dec, t.model().decoderWeights(), "the previous decoder is kept");
            assertTrue(t.model().isFinite());
        }
    }

    private static AdamTrainer adam(boolean strong) {
        SaeSpec spec = new SaeSpec(D, 128, Sparsifier.TOPK, 4, 0, false);
        SaeModel model = SaeModel.initialise(spec, SaeModel.Init.UNIT, 3);
        return new AdamTrainer(model, Adam.Options.withLr(1e-3),
                strong ? AdamTrainer.Recipe.strong(spec, 4 * B) : AdamTrainer.Recipe.plain());
    }

    @Test
    void adamSkipsAPoisonedBatchWholeEvenTheFirstOneAndStaysBitForBitEqualToACleanRun() {
        for (boolean strong : new boolean[] {false, true}) {
            for (int at : new int[] {0, 6}) {
                for (float huge : new float[] {3e38f, 1e30f, -1e20f}) {
                    AdamTrainer poisoned = adam(strong);
                    AdamTrainer clean = adam(strong);
                    float[][] batches = batches();
                    float[] bad = poisoned(batches[0], huge);
                    String what = (strong ? "strong" : "plain") + " Adam, poison before batch " + at + ", value " + huge;
                    for (int i = 0; i < 12; i++) {
                        if (i == at) {
                            TrainerState before = poisoned.snapshot();
                            StepResult r = poisoned.decoderStage(poisoned.encoderStage(bad, B));
                            assertTrue(r.skipped(), what + ": step should be skipped");
                            TrainerState after = poisoned.snapshot();
                            for (var e : before.floats().entrySet()) {
                                assertArrayEquals(e.getValue(), after.floats().get(e.getKey()), what + ": " + e.getKey() + " untouched");
                            }
                            assertEquals(before.counter("adam.steps"), after.counter("adam.steps"), what);
                        }
                        assertFalse(poisoned.decoderStage(poisoned.encoderStage(batches[i], B)).skipped(), what);
                        clean.decoderStage(clean.encoderStage(batches[i], B));
                    }
                    assertEquals(1, poisoned.skippedSteps(), what);
                    assertEquals(clean.samplesSeen(), poisoned.samplesSeen(), what);
                    assertArrayEquals(clean.model().encoderWeights(), poisoned.model().encoderWeights(), what);
                    assertArrayEquals(clean.model().decoderWeights(), poisoned.model().decoderWeights(), what);
                    assertArrayEquals(clean.model().decoderBias(), poisoned.model().decoderBias(), what);
                    double fvu = SaeEvaluator.evaluate(poisoned.model(), GEN.sample(1000, 9), 500).fvu();
                    assertTrue(Double.isFinite(fvu), what + ": FVU " + fvu);
                    poisoned.close();
                    clean.close();
                }
            }
        }
    }
}
