package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.sae.TrainerState;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The column-sharded round in one process against today's star (the coordinator's cg step and its double-precision
 * encoder average), both fed the same slices: the copies of the sharded model never differ in a bit, the first solve is
 * the coordinator's exactly (same codes, same step), and later rounds stay within rounding of the star.
 */
class ShardedPamTest {

    @Test
    void everyCopyHasTheSameBitsAndTheDecoderStepIsTheCoordinators() {
        DataParallelPam.Config c = new DataParallelPam.Config(48, 48, 96, 4, 3, 128, 2, 128 * 2 * 3 * 8, 5, 10_000, 1, 7, "pam")
                .withDecoder("cg", "codes", 1);
        int n = 3;
        DataParallelPam.CoordinatorState star = new DataParallelPam.CoordinatorState(c);
        List<DataParallelPam.WorkerState> starWorkers = new ArrayList<>();
        for (int w = 0; w < n; w++) {
            starWorkers.add(new DataParallelPam.WorkerState(c));
        }
        double worstDecoder = 0;
        double scale = 0;
        try (ShardedPam sharded = new ShardedPam(c, n)) {
            assertArrayEquals(new int[] {0, 16, 32, 48}, sharded.cuts());
            int rounds = 0;
            while (!star.finished()) {
                List<List<Protocol.Assignment>> slices = star.assign(n);
                TrainerState model = star.modelState();
                List<TrainerState> results = new ArrayList<>();
                for (int w = 0; w < n; w++) {
                    results.add(starWorkers.get(w).round(model, slices.get(w)));
                }
                star.complete(results, slices);
                assertTrue(sharded.round(slices) > 0);
                rounds++;
                for (int w = 1; w < n; w++) {
                    assertArrayEquals(sharded.model(0).encoderWeights(), sharded.model(w).encoderWeights(), "encoder copy " + w);
                    assertArrayEquals(sharded.model(0).encoderBias(), sharded.model(w).encoderBias(), "encoder bias copy " + w);
                    assertArrayEquals(sharded.model(0).decoderWeights(), sharded.model(w).decoderWeights(), "decoder copy " + w);
                    assertArrayEquals(sharded.model(0).decoderBias(), sharded.model(w).decoderBias(), "decoder bias copy " + w);
                }
                float[] a = star.model().decoderWeights();
                float[] b = sharded.model(0).decoderWeights();
                if (rounds == 1) {
                    // round 0's codes come from the same initial model: the sharded step is the coordinator's, bit for bit
                    assertArrayEquals(a, b, "the first solve");
                    float[] ea = star.model().encoderWeights();
                    float[] eb = sharded.model(0).encoderWeights();
                    for (int i = 0; i < ea.length; i++) {
                        assertEquals(ea[i], eb[i], 2e-7 * Math.max(1, Math.abs(ea[i])), "encoder entry " + i + ": ring sum vs double average");
                    }
                }
                for (int i = 0; i < a.length; i++) {
                    worstDecoder = Math.max(worstDecoder, Math.abs(a[i] - b[i]));
                    scale = Math.max(scale, Math.abs(a[i]));
                }
            }
            assertEquals(8, rounds);
            assertEquals(8, sharded.round());
        } finally {
            starWorkers.forEach(DataParallelPam.WorkerState::close);
        }
        System.out.println("[ShardedPamTest] worst decoder difference " + worstDecoder + " of largest entry " + scale);
        assertTrue(worstDecoder <= 1e-5 * scale, "the designs differ only by the encoder average's rounding: " + worstDecoder
                + " against the largest entry " + scale);
    }

    @Test
    void theColumnsAreSplitInWholeBlocksAndTooManyWorkersAreRefused() {
        assertArrayEquals(new int[] {0, 16, 32, 48, 72}, ShardedPam.columnCuts(72, 4));
        assertArrayEquals(new int[] {0, 384, 768}, ShardedPam.columnCuts(768, 2));
        assertArrayEquals(new int[] {0, 96, 192, 288, 384, 480, 576, 672, 768}, ShardedPam.columnCuts(768, 8));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ShardedPam.columnCuts(72, 6));
        assertTrue(e.getMessage().contains("5 blocks") && e.getMessage().contains("6 workers"), e.getMessage());
        DataParallelPam.Config exact = DataParallelPamTest.SMALL.withDecoder("exact", "codes", 1);
        e = assertThrows(IllegalArgumentException.class, () -> new ShardedPam(exact, 2));
        assertTrue(e.getMessage().contains("cg decoder step"), e.getMessage());
    }
}
