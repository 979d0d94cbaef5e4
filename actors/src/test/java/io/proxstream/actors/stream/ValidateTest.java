package io.proxstream.actors.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.StreamMeters;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class ValidateTest {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    @Test
    void dropsBadRowsCountsThemByReasonAndKeepsGoing() throws Exception {
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        StreamMeters meters = new StreamMeters(reg, "v");
        List<Chunk> in = List.of(
                new Chunk(new float[] {1, 2, 3, Float.NaN, 5, 6}, 3, 2, 0, "a"),
                new Chunk(new float[] {1, 2, 3}, 1, 3, 3, "a"),
                new Chunk(new float[] {Float.POSITIVE_INFINITY, 0, 0, Float.NEGATIVE_INFINITY}, 2, 2, 4, "a"),
                new Chunk(new float[] {7, 8}, 1, 2, 6, "a"));
        List<Chunk> out = Source.from(in).via(Validate.flow(2, meters)).runWith(Sink.seq(), KIT.system())
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(2, out.size());
        assertArrayEquals(new float[] {1, 2, 5, 6}, out.get(0).data());
        assertArrayEquals(new float[] {7, 8}, out.get(1).data());
        assertEquals(3.0, reg.get(Meters.RECORDS_REJECTED).tag("reason", "non_finite").counter().count());
        assertEquals(1.0, reg.get(Meters.RECORDS_REJECTED).tag("reason", "width").counter().count());
        assertEquals(3.0, reg.get(Meters.RECORDS_ACCEPTED).counter().count());
        assertEquals(4.0, meters.rejectedTotal());
    }

    @Test
    void rowsWithValuesBeyondMaxAbsAreDroppedAndCountedLikeNonFiniteOnes() throws Exception {
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        StreamMeters meters = new StreamMeters(reg, "v");
        List<Chunk> in = List.of(new Chunk(new float[] {1, 2, 3e38f, 0, -1e30f, 5, 99_999, -100_000, Float.NaN, 1}, 5, 2, 0, "a"));
        List<Chunk> out = Source.from(in).via(Validate.flow(2, 1e5, meters)).runWith(Sink.seq(), KIT.system())
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(1, out.size());
        assertArrayEquals(new float[] {1, 2, 99_999, -100_000}, out.get(0).data(), "|x| = maxAbs passes, beyond it does not");
        assertEquals(2.0, reg.get(Meters.RECORDS_REJECTED).tag("reason", "too_large_value").counter().count());
        assertEquals(1.0, reg.get(Meters.RECORDS_REJECTED).tag("reason", "non_finite").counter().count());
        assertEquals(-1, Validate.firstBeyond(new float[] {1, -2, 3}, 0, 3, 3));
        assertEquals(1, Validate.firstBeyond(new float[] {1, -4, 3}, 0, 3, 3));
    }
}
