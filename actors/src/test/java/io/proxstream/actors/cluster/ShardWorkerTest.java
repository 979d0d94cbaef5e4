package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.Test;

/**
 * The column-sharded round over Artery: three shard workers in three actor systems on loopback (the cluster's
 * serializers) compute {@link ShardedPam}'s bits, round after round, solve rounds and others; a worker that dies fails
 * its peers' round at the deadline, saying whose part is missing, and they take no further rounds until configured again.
 */
class ShardWorkerTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    /** The workers of one test: n systems, each with a shard worker as its guardian. */
    private static final class Trio implements AutoCloseable {
        final List<ActorSystem<ShardWorker.Command>> systems = new ArrayList<>();
        final List<ActorRef<ShardWorker.Command>> workers = new ArrayList<>();
        final TestProbe<ShardWorker.Reply> probe;

        Trio(int n) {
            Config base = ClusterNode.config("127.0.0.1", 0, List.of("127.0.0.1:0"), List.of("worker"), Duration.ofSeconds(5));
            Config remote = ConfigFactory.parseString("pekko.actor.provider = remote\npekko.remote.warn-about-direct-use = off")
                    .withFallback(base);
            for (int i = 0; i < n; i++) {
                systems.add(ActorSystem.create(ShardWorker.create(), "shard", remote));
            }
            // every worker as the first system sees it (the others' are remote there)
            for (ActorSystem<ShardWorker.Command> s : systems) {
                workers.add(ActorRefResolver.get(systems.get(0)).resolveActorRef(ActorRefResolver.get(s).toSerializationFormat(s)));
            }
            probe = TestProbe.create(systems.get(0));
        }

        void configure(DataParallelPam.Config c) {
            List<ActorRef<ShardWorker.Command>> ws = new ArrayList<>();
            List<ActorRef<RingCollective.Command>> rings = new ArrayList<>();
            for (ActorRef<ShardWorker.Command> w : workers) {
                w.tell(new ShardWorker.Hello(probe.getRef()));
                ShardWorker.Member m = probe.expectMessageClass(ShardWorker.Member.class, WAIT);
                ws.add(m.worker());
                rings.add(m.ring());
            }
            for (int i = 0; i < ws.size(); i++) {
                ws.get(i).tell(new ShardWorker.Configure(c, ws, rings, i, probe.getRef()));
                ShardWorker.Configured ok = probe.expectMessageClass(ShardWorker.Configured.class, WAIT);
                assertEquals(i, ok.index());
            }
        }

        List<ShardWorker.Reply> round(long round, List<List<Protocol.Assignment>> slices, int answers) {
            for (int i = 0; i < slices.size(); i++) {
                workers.get(i).tell(new ShardWorker.Start(round, slices.get(i), probe.getRef()));
            }
            List<ShardWorker.Reply> out = new ArrayList<>();
            for (int i = 0; i < answers; i++) {
                out.add(probe.receiveMessage(WAIT));
            }
            return out;
        }

        String digest(int i) {
            workers.get(i).tell(new ShardWorker.GetDigest(probe.getRef()));
            return probe.expectMessageClass(ShardWorker.Digest.class, WAIT).sha256();
        }

        @Override
        public void close() throws Exception {
            for (ActorSystem<ShardWorker.Command> s : systems) {
                s.terminate();
            }
            for (ActorSystem<ShardWorker.Command> s : systems) {
                s.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
        }
    }

    private static List<List<Protocol.Assignment>> slices(long round, int n, int rows) {
        List<List<Protocol.Assignment>> out = new ArrayList<>();
        for (int w = 0; w < n; w++) {
            out.add(List.of(new Protocol.Assignment(w, round * rows, rows)));
        }
        return out;
    }

    @Test
    void threeWorkersOverArteryComputeTheSingleProcessRoundsBitForBit() throws Exception {
        // 48 columns in blocks of 16: one block per worker; a solve every second round
        DataParallelPam.Config c = new DataParallelPam.Config(48, 48, 96, 4, 3, 128, 2, 1 << 20, 5, 30_000, 1, 7, "pam")
                .withDecoder("cg", "codes", 2);
        int n = 3;
        try (Trio trio = new Trio(n); ShardedPam reference = new ShardedPam(c, n)) {
            trio.configure(c);
            String initial = trio.digest(0);
            assertEquals(ShardWorker.digest(reference.model(0)), initial, "the initial copies");
            int solved = 0;
            for (long r = 0; r < 5; r++) {
                List<List<Protocol.Assignment>> slices = slices(r, n, 256);
                long rows = reference.round(slices);
                List<ShardWorker.Reply> replies = trio.round(r, slices, n);
                long sum = 0;
                for (ShardWorker.Reply reply : replies) {
                    ShardWorker.Done d = assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                    assertEquals(r, d.round());
                    assertEquals(rows, d.totalRows());
                    assertEquals(r % 2 == 1, d.solved(), "solve every second round");
                    sum += d.rows();
                    assertTrue(d.bytesSent() > 0, "parts were sent to the peers");
                }
                assertEquals(rows, sum);
                solved += r % 2 == 1 ? 1 : 0;
                for (int w = 0; w < n; w++) {
                    assertEquals(ShardWorker.digest(reference.model(w)), trio.digest(w), "worker " + w + "'s copy after round " + r);
                }
            }
            assertEquals(2, solved);
            assertNotEquals(initial, trio.digest(0), "the model trained");
        }
    }

    @Test
    void aWorkerThatDiesFailsThePeersRoundAtTheDeadlineAndTheyWaitToBeConfiguredAgain() throws Exception {
        DataParallelPam.Config c = new DataParallelPam.Config(48, 48, 96, 4, 3, 128, 2, 1 << 20, 5, 3_000, 1, 7, "pam")
                .withDecoder("cg", "codes", 1);
        int n = 3;
        try (Trio trio = new Trio(n)) {
            trio.configure(c);
            for (ShardWorker.Reply reply : trio.round(0, slices(0, n, 256), n)) {
                assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
            }
            trio.systems.get(2).terminate();
            trio.systems.get(2).getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
            List<ShardWorker.Reply> replies = trio.round(1, slices(1, n, 256).subList(0, 2), 2);
            for (ShardWorker.Reply reply : replies) {
                ShardWorker.Failed f = assertInstanceOf(ShardWorker.Failed.class, reply, reply.toString());
                assertTrue(f.reason().contains("passed its deadline") && f.reason().contains("parts of workers [2]"), f.reason());
            }
            ShardWorker.Reply again = trio.round(2, slices(2, n, 256).subList(0, 1), 1).get(0);
            ShardWorker.Failed f = assertInstanceOf(ShardWorker.Failed.class, again, again.toString());
            assertTrue(f.reason().contains("takes no rounds") && f.reason().contains("round 1 failed"), f.reason());
        }
    }
}
