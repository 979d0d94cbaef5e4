package io.proxstream.actors.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.config.DecoderConfig;
import io.proxstream.protocol.config.SaeConfig;
import io.proxstream.protocol.config.TrainerConfig;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeTrainer;
import io.proxstream.solvers.sae.TrainerState;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The heap a run is planned to need, against what its trainer really holds; and the refusals. */
class MemoryPlanTest {
    private static long heapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    @Test
    void thePlanCoversWhatATrainerHoldsAfterStepsASolveAndASnapshotWithoutGrosslyOverestimating() {
        for (String algo : new String[] {"adam-strong", "pam", "pam-cg"}) {
            long[] r = measure(algo);
            String what = algo + ": planned " + MemoryPlan.size(r[0]) + ", held " + MemoryPlan.size(r[1]);
            assertTrue(r[1] <= r[0], what);
            assertTrue(r[0] <= 2.5 * r[1], "not grossly overestimated: " + what);
        }
    }

    /** {planned, held}: the heap a trainer holds after four steps (a solve) and a snapshot. */
    private static long[] measure(String algo) {
        int d = 64;
        int b = 256;
        SaeConfig sae = new SaeConfig(2048, "topk", 8, 0, "unit");
        TrainerConfig t = new TrainerConfig(algo.equals("pam-cg") ? "pam" : algo, 1e-3, 0.9, 0.999, 1e-8, 0, 1, 1e-3, 1e-3, 0, 1e-6, 0,
                "decoder-first", 2, 0.995, true);
        if (algo.equals("pam-cg")) {
            // a window of two batches: after four steps two have left it for the old-rows model
            t = t.withDecoder(new DecoderConfig("cg", 2 * b, 12, 1e-3));
        }
        MemoryPlan plan = MemoryPlan.of(t, sae, d, b, true, 0);
        // first use of ND4J and of this trainer's classes: their one-time state is not the run's
        SaeTrainer warm = Trainers.create(t, Trainers.initialModel(new SaeConfig(16, "topk", 2, 0, "unit"), t, 8, 1), 100);
        warm.decoderStage(warm.encoderStage(new float[16 * 8], 16));
        warm.snapshot();
        warm.close();
        float[] x = new float[b * d];
        SplittableRandom r = new SplittableRandom(2);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        long before = heapAfterGc();
        SaeModel model = Trainers.initialModel(sae, t, d, 1);
        SaeTrainer trainer = Trainers.create(t, model, 1_000_000);
        for (int s = 0; s < 4; s++) {
            trainer.decoderStage(trainer.encoderStage(x, b));
        }
        TrainerState snapshot = trainer.snapshot();
        long held = heapAfterGc() - before;
        assertTrue(snapshot.floats().size() > 0 && model.spec().latents() == 2048);
        trainer.close();
        return new long[] {plan.total(), held};
    }

    @Test
    void aShapeBeyondJavasArraysIsRefusedNamingTheArrayAndARunTooBigForTheHeapNamingBothSizes() {
        TrainerConfig pam = new TrainerConfig("pam", 1e-3, 0.9, 0.999, 1e-8, 0, 1, 0, 0, 0, 1e-6, 0, "decoder-first", 16, 0.995, true)
                .withDecoder(new DecoderConfig("exact", 65_536, 12, 1e-3));
        SaeConfig big = new SaeConfig(65_536, "topk", 32, 0, "unit");
        var e = assertThrows(IllegalArgumentException.class, () -> MemoryPlan.require("r", pam, big, 768, 4096, false, 0, 0, 1L << 40));
        assertTrue(e.getMessage().contains("Z^T Z") && e.getMessage().contains("at most 46340 latents"), e.getMessage());
        TrainerConfig adam = new TrainerConfig("adam-strong", 1e-3, 0.9, 0.999, 1e-8, 0, 1, 0, 0, 0, 1e-6, 0, "decoder-first", 16, 0.995,
                true);
        var wide = assertThrows(IllegalArgumentException.class,
                () -> MemoryPlan.require("r", adam, new SaeConfig(1 << 20, "topk", 32, 0, "unit"), 4096, 64, false, 0, 0, 1L << 40));
        assertTrue(wide.getMessage().contains("weights per matrix"), wide.getMessage());
        SaeConfig m16k = new SaeConfig(16_384, "topk", 32, 0, "unit");
        MemoryPlan plan = MemoryPlan.of(pam, m16k, 768, 4096, false, 0);
        // Z^T Z, the solve's workspace and the native copy LAPACK gets through JNI, m² doubles each, dominate
        assertTrue(plan.total() > 3 * 8L * 16_384 * 16_384 && plan.total() < 8L << 30, MemoryPlan.size(plan.total()));
        var heap = assertThrows(IllegalStateException.class,
                () -> MemoryPlan.require("big", pam, m16k, 768, 4096, false, 0, 0, 2L << 30));
        assertTrue(heap.getMessage().contains("needs about " + MemoryPlan.size(plan.total())) && heap.getMessage().contains("2.0 GiB")
                && heap.getMessage().contains("-Xmx"), heap.getMessage());
        // beside the runs already held
        var beside = assertThrows(IllegalStateException.class,
                () -> MemoryPlan.require("more", pam, m16k, 768, 4096, false, 0, 7L << 30, 12L << 30));
        assertTrue(beside.getMessage().contains("beside 7.0 GiB"), beside.getMessage());
        MemoryPlan.require("fits", pam, m16k, 768, 4096, false, 0, 0, 9L << 30);
        // the iterative step (auto above 8 192 latents) holds no m x m matrix: 65 536 latents at width 768 plan within 12 GiB
        TrainerConfig auto = pam.withDecoder(DecoderConfig.defaults());
        assertTrue(MemoryPlan.arrayProblem(auto, big, 768, 4096).isEmpty());
        MemoryPlan cg64k = MemoryPlan.of(auto, big, 768, 4096, true, 0);
        assertTrue(cg64k.total() < 12L << 30, cg64k.describe());
        assertTrue(cg64k.parts().stream().noneMatch(part -> part.what().contains("Z^T Z")), cg64k.describe());
        var window = MemoryPlan.arrayProblem(auto.withDecoder(new DecoderConfig("cg", 1 << 20, 8, 1e-3)), m16k, 768, 4096);
        assertTrue(window.isPresent() && window.get().contains("trainer.decoder.window"), window.toString());
        MemoryPlan cg16k = MemoryPlan.of(auto, m16k, 768, 4096, false, 0);
        assertTrue(cg16k.total() < 4L << 30, cg16k.describe());
        assertEquals("2.0 GiB", MemoryPlan.size(2L << 30));
    }
}
