package io.proxstream.actors.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.StreamMeters;
import io.proxstream.solvers.data.PlantedDictionary;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.Sparsifier;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The training graph of {@link TrainingStages#graph}: back-pressure, bad input, equivalence with a plain loop. */
class TrainingStreamTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final int D = 32;
    private static final PlantedDictionary GEN = new PlantedDictionary(new PlantedDictionary.Options(D, 64, 5, 0.99, 0, 3));

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    private static PamSgdTrainer trainer() {
        SaeModel model = SaeModel.initialise(new SaeSpec(D, 96, Sparsifier.TOPK, 4, 0, false), SaeModel.Init.UNIT, 5);
        return new PamSgdTrainer(model, PamSgdTrainer.Options.experimentDefaults());
    }

    private static Chunk synthetic(SplittableRandom rnd, int rows, long offset) {
        float[] x = new float[rows * D];
        GEN.fill(x, rows, rnd);
        return new Chunk(x, rows, D, offset, "synthetic");
    }

    @Test
    void aFastSourceIsHeldBackByASlowConsumer() throws Exception {
        AtomicInteger produced = new AtomicInteger();
        SplittableRandom rnd = new SplittableRandom(1);
        Source<Chunk, ?> fast = Source.repeat(0).map(i -> synthetic(rnd, 64, 64L * produced.getAndIncrement()));
        ManualSubscriber<WindowReport> sink = new ManualSubscriber<>();
        try (PamSgdTrainer t = trainer()) {
            StreamMeters meters = new StreamMeters(new SimpleMeterRegistry(), "bp");
            TrainingStages.graph(fast, t, 64, 0, 0, 64, 1_000_000, meters).runWith(Sink.fromSubscriber(sink), KIT.system());
            sink.request(3);
            sink.awaitCount(3, 10_000);
            Thread.sleep(500);
            int held = produced.get();
            Thread.sleep(500);
            assertEquals(held, produced.get(), "the source must stop when nobody asks for reports");
            // 3 reports = 3 batches consumed; the rest is what the bounded buffers between stages hold
            assertTrue(held <= 3 + 40, "chunks produced while 3 reports were demanded: " + held);
            long trained = t.samplesSeen();
            sink.request(5);
            sink.awaitCount(8, 10_000);
            assertTrue(t.samplesSeen() > trained, "training resumes with demand");
            sink.cancel();
        }
    }

    @Test
    void badRecordsAreDroppedAndCountedWhileTrainingContinues() throws Exception {
        SplittableRandom rnd = new SplittableRandom(2);
        List<Chunk> in = new ArrayList<>();
        int good = 0;
        for (int i = 0; i < 40; i++) {
            Chunk c = synthetic(rnd, 50, 50L * i);
            if (i % 7 == 3) {
                c.data()[5] = Float.NaN;                         // one poisoned row
                c.data()[D * 10 + 1] = Float.POSITIVE_INFINITY;  // and another
                good += 48;
            } else {
                good += 50;
            }
            in.add(c);
            if (i % 9 == 4) {
                in.add(new Chunk(new float[3 * (D + 1)], 3, D + 1, 0, "wrong-width"));
            }
        }
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        StreamMeters meters = new StreamMeters(reg, "bad");
        try (PamSgdTrainer t = trainer()) {
            List<WindowReport> reports = TrainingStages.graph(Source.from(in), t, 64, 0, 0, 256, 1_000_000, meters)
                    .runWith(Sink.seq(), KIT.system()).toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertEquals(good, t.samplesSeen(), "every valid row trained on");
            assertEquals(good, reports.get(reports.size() - 1).metrics().samples());
            assertEquals(12.0, reg.get(Meters.RECORDS_REJECTED).tag("reason", "non_finite").counter().count());
            assertEquals(12.0, reg.get(Meters.RECORDS_REJECTED).tag("reason", "width").counter().count());
            assertTrue(t.model().isFinite());
        }
    }

    @Test
    void theStreamTrainsExactlyLikeAPlainLoop() throws Exception {
        int batches = 60;
        int batch = 64;
        List<Chunk> chunks = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(9);
        for (int i = 0; i < batches * batch / 96; i++) {
            chunks.add(synthetic(rnd, 96, 96L * i));
        }
        try (PamSgdTrainer streamed = trainer(); PamSgdTrainer looped = trainer()) {
            TrainingStages.graph(Source.from(chunks), streamed, batch, 0, 0, 1000, 1_000_000,
                    new StreamMeters(new SimpleMeterRegistry(), "s")).runWith(Sink.ignore(), KIT.system())
                    .toCompletableFuture().get(60, TimeUnit.SECONDS);
            float[] all = new float[chunks.size() * 96 * D];
            for (int i = 0; i < chunks.size(); i++) {
                System.arraycopy(chunks.get(i).data(), 0, all, i * 96 * D, 96 * D);
            }
            float[] x = new float[batch * D];
            for (int b = 0; b < batches; b++) {
                System.arraycopy(all, b * batch * D, x, 0, batch * D);
                looped.step(x, batch);
            }
            assertEquals(looped.samplesSeen(), streamed.samplesSeen());
            assertArrayEquals(looped.model().encoderWeights(), streamed.model().encoderWeights(), 0f);
            assertArrayEquals(looped.model().decoderWeights(), streamed.model().decoderWeights(), 0f);
            assertArrayEquals(looped.model().decoderBias(), streamed.model().decoderBias(), 0f);
        }
    }
}
