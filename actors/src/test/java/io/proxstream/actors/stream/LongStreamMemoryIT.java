package io.proxstream.actors.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.monitoring.StreamMeters;
import io.proxstream.solvers.data.PlantedDictionary;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.Sparsifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Millions of vectors through the training stream with a producer far faster than training: the
 * process's resident memory must stay flat. ND4J frees off-heap memory only when the garbage
 * collector reclaims its arrays (and its allocations are invisible to the Java heap), so a hot loop
 * that allocated INDArrays would show here as resident memory growing by gigabytes.
 */
class LongStreamMemoryIT {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    private static long rssBytes() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    @Test
    void residentAndOffHeapMemoryStayFlatOverMillionsOfVectors() throws Exception {
        long total = 4_000_000;
        int d = 64;
        PlantedDictionary gen = new PlantedDictionary(new PlantedDictionary.Options(d, 128, 5, 0.99, 0, 1));
        SaeModel model = SaeModel.initialise(new SaeSpec(d, 256, Sparsifier.TOPK, 8, 0, false), SaeModel.Init.UNIT, 1);
        List<long[]> samples = new ArrayList<>();
        try (PamSgdTrainer trainer = new PamSgdTrainer(model, PamSgdTrainer.Options.experimentDefaults())) {
            var done = TrainingStages.graph(Sources.synthetic(gen, 4096, 2), trainer, 256, total, 0, 100_000, 1_000_000,
                            new StreamMeters(new SimpleMeterRegistry(), "mem"))
                    .map(r -> {
                        samples.add(new long[] {r.metrics().samples(), rssBytes()});
                        return r;
                    })
                    .runWith(Sink.ignore(), KIT.system());
            done.toCompletableFuture().get(10, TimeUnit.MINUTES);
            assertEquals(total, trainer.samplesSeen());
        }
        long[] early = samples.stream().filter(s -> s[0] >= total / 4).findFirst().orElseThrow();
        long[] last = samples.get(samples.size() - 1);
        long maxRss = samples.stream().filter(s -> s[0] >= total / 4).mapToLong(s -> s[1]).max().orElseThrow();
        System.out.printf("[LongStreamMemoryIT] RSS at %,d vectors: %d MiB; at %,d: %d MiB; max after 25%%: %d MiB%n",
                early[0], early[1] >> 20, last[0], last[1] >> 20, maxRss >> 20);
        assertTrue(maxRss - early[1] < 160L << 20, "resident memory grew by " + ((maxRss - early[1]) >> 20) + " MiB");
    }
}
