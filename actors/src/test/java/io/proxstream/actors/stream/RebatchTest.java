package io.proxstream.actors.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class RebatchTest {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    /** Chunks whose values are their global row index, width 2. */
    private static Chunk chunk(int from, int rows) {
        float[] x = new float[rows * 2];
        for (int r = 0; r < rows; r++) {
            x[2 * r] = from + r;
            x[2 * r + 1] = -(from + r);
        }
        return new Chunk(x, rows, 2, from, "t");
    }

    @Test
    void cutsChunksOfAnySizeIntoExactBatchesKeepingOrder() throws Exception {
        List<Chunk> chunks = List.of(chunk(0, 3), chunk(3, 10), chunk(13, 1), chunk(14, 7));
        List<Minibatch> out = Source.from(chunks).via(new Rebatch(4, 0)).runWith(Sink.seq(), KIT.system())
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(List.of(4, 4, 4, 4, 4, 1), out.stream().map(Minibatch::rows).toList());
        int row = 0;
        for (Minibatch b : out) {
            for (int r = 0; r < b.rows(); r++, row++) {
                assertEquals(row, b.x()[2 * r], 0f);
                assertEquals(-row, b.x()[2 * r + 1], 0f);
            }
        }
        assertEquals(21, row);
    }

    @Test
    void passesChunksOfExactlyOneBatchThroughWithoutCopying() throws Exception {
        List<Chunk> chunks = List.of(chunk(0, 4), chunk(4, 3), chunk(7, 1), chunk(8, 4));
        List<Minibatch> out = Source.from(chunks).via(new Rebatch(4, 0)).runWith(Sink.seq(), KIT.system())
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(3, out.size());
        assertTrue(out.get(0).x() == chunks.get(0).data(), "first chunk passed through");
        assertArrayEquals(new float[] {4, -4, 5, -5, 6, -6, 7, -7}, out.get(1).x());
        assertTrue(out.get(2).x() == chunks.get(3).data(), "last chunk passed through");
    }

    @Test
    void stopsExactlyAtTheRowLimit() throws Exception {
        List<Minibatch> out = Source.repeat(0).zipWithIndex().map(p -> chunk((int) (long) p.second() * 5, 5))
                .via(new Rebatch(4, 10)).runWith(Sink.seq(), KIT.system()).toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(List.of(4, 4, 2), out.stream().map(Minibatch::rows).toList());
        assertArrayEquals(new float[] {8, -8, 9, -9}, out.get(2).x());
    }

    @Test
    void pullsOnlyWhatDownstreamDemands() throws Exception {
        AtomicInteger produced = new AtomicInteger();
        ManualSubscriber<Minibatch> sub = new ManualSubscriber<>();
        Source.repeat(0).map(i -> chunk(produced.getAndIncrement() * 3, 3))
                .via(new Rebatch(4, 0))
                .runWith(Sink.fromSubscriber(sub), KIT.system());
        sub.request(2);
        sub.awaitCount(2, 5000);
        Thread.sleep(300);
        // 8 rows need 3 chunks of 3; the fused graph may prefetch at most its small input buffer
        int seen = produced.get();
        assertTrue(seen >= 3 && seen <= 3 + 16, "chunks produced for 2 batches: " + seen);
        Thread.sleep(300);
        assertEquals(seen, produced.get(), "no production without demand");
        sub.cancel();
    }
}
