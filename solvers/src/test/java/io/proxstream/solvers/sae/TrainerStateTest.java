package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.proxstream.solvers.data.PlantedDictionary;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** A trainer restored from a snapshot continues exactly as the original would have. */
class TrainerStateTest {
    private static final int D = 24;
    private static final PlantedDictionary GEN = new PlantedDictionary(new PlantedDictionary.Options(D, 48, 5, 0.99, 0, 1));

    private static void train(SaeTrainer t, SplittableRandom rnd, int steps) {
        float[] x = new float[32 * D];
        for (int s = 0; s < steps; s++) {
            GEN.fill(x, 32, rnd);
            t.step(x, 32);
        }
    }

    private static void assertContinuesExactly(Function<SaeModel, SaeTrainer> make, boolean tied) {
        SaeSpec spec = new SaeSpec(D, 64, Sparsifier.TOPK, 4, 0, tied);
        SaeTrainer original = make.apply(SaeModel.initialise(spec, SaeModel.Init.UNIT, 3));
        train(original, new SplittableRandom(1), 37);
        TrainerState snap = original.snapshot();
        SaeTrainer restored = make.apply(SaeModel.initialise(spec, SaeModel.Init.UNIT, 99));
        restored.restore(snap);
        assertEquals(original.samplesSeen(), restored.samplesSeen());
        train(original, new SplittableRandom(2), 23);
        train(restored, new SplittableRandom(2), 23);
        assertArrayEquals(original.model().encoderWeights(), restored.model().encoderWeights(), 0f);
        assertArrayEquals(original.model().encoderBias(), restored.model().encoderBias(), 0f);
        assertArrayEquals(original.model().decoderWeights(), restored.model().decoderWeights(), 0f);
        assertArrayEquals(original.model().decoderBias(), restored.model().decoderBias(), 0f);
        original.close();
        restored.close();
    }

    @Test
    void pamSgdContinuesExactlyAfterRestore() {
        for (PamSgdTrainer.BlockOrder order : PamSgdTrainer.BlockOrder.values()) {
            PamSgdTrainer.Options o = new PamSgdTrainer.Options(Adam.Options.withLr(2e-3), 2, 1e-3, 1e-3, 1.0, 1e-6, 0.1,
                    order, 5, 0.97, true);
            assertContinuesExactly(m -> new PamSgdTrainer(m, o), false);
        }
    }

    @Test
    void adamContinuesExactlyAfterRestore() {
        assertContinuesExactly(m -> new AdamTrainer(m, Adam.Options.withLr(1e-3)), false);
        assertContinuesExactly(m -> new AdamTrainer(m, Adam.Options.withLr(1e-3)), true);
    }

    @Test
    void refusesAStateOfAnotherKindOrShape() {
        SaeSpec spec = new SaeSpec(D, 64, Sparsifier.TOPK, 4, 0, false);
        TrainerState pam = new PamSgdTrainer(SaeModel.initialise(spec, SaeModel.Init.UNIT, 1),
                PamSgdTrainer.Options.experimentDefaults()).snapshot();
        AdamTrainer adam = new AdamTrainer(SaeModel.initialise(spec, SaeModel.Init.UNIT, 1), Adam.Options.withLr(1e-3));
        assertThrows(IllegalArgumentException.class, () -> adam.restore(pam));
        PamSgdTrainer wider = new PamSgdTrainer(SaeModel.initialise(new SaeSpec(D, 65, Sparsifier.TOPK, 4, 0, false),
                SaeModel.Init.UNIT, 1), PamSgdTrainer.Options.experimentDefaults());
        assertThrows(IllegalArgumentException.class, () -> wider.restore(pam));
    }
}
