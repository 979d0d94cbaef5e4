package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ring all-reduce between three actor systems over Artery on loopback (the cluster's serializer settings): every
 * node ends with the same bits, the fold in ring order; a node that never takes part makes the others fail at the
 * deadline, saying so.
 */
class RingCollectiveTest {
    private static final List<ActorSystem<RingCollective.Command>> systems = new ArrayList<>();
    private static List<String> paths;

    @BeforeAll
    static void start() {
        paths = ring(3);
    }

    @AfterAll
    static void stop() throws Exception {
        for (ActorSystem<RingCollective.Command> s : systems) {
            s.terminate();
        }
        for (ActorSystem<RingCollective.Command> s : systems) {
            s.getWhenTerminated().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    /** N systems, each with a collective (its guardian); returns the collectives' paths (with their addresses). */
    private static List<String> ring(int n) {
        Config base = ClusterNode.config("127.0.0.1", 0, List.of("127.0.0.1:0"), List.of("worker"), Duration.ofSeconds(5));
        Config remote = ConfigFactory.parseString("pekko.actor.provider = remote\npekko.remote.warn-about-direct-use = off").withFallback(base);
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ActorSystem<RingCollective.Command> s = ActorSystem.create(RingCollective.create(10_000_000), "ring", remote);
            systems.add(s);
            paths.add(ActorRefResolver.get(s).toSerializationFormat(s));
        }
        return paths;
    }

    /** Participant i's view of the ring: every path resolved in its own system (its own entry is local there). */
    private static List<ActorRef<RingCollective.Command>> view(int i, List<String> paths) {
        List<ActorRef<RingCollective.Command>> refs = new ArrayList<>();
        for (String p : paths) {
            refs.add(ActorRefResolver.get(systems.get(i)).resolveActorRef(p));
        }
        return refs;
    }

    @Test
    void threeNodesEndWithTheSameBitsOfTheRingOrderSum() {
        int n = 3;
        int length = 100_003;
        SplittableRandom rnd = new SplittableRandom(5);
        float[][] in = new float[n][length];
        for (float[] a : in) {
            for (int t = 0; t < length; t++) {
                a[t] = (float) rnd.nextDouble(-1, 1);
            }
        }
        TestProbe<RingCollective.Outcome> probe = TestProbe.create(systems.get(0));
        float[][] data = new float[n][];
        for (int i = 0; i < n; i++) {
            data[i] = in[i].clone();
            systems.get(i).tell(new RingCollective.Run(7, view(i, paths), i, data[i], 4096, Duration.ofSeconds(60), probe.getRef()));
        }
        for (int i = 0; i < n; i++) {
            RingCollective.Outcome o = probe.receiveMessage(Duration.ofSeconds(60));
            assertNull(o.error(), o.error());
        }
        float[] expect = RingAllReduceTest.ringOrderSum(in);
        for (int i = 0; i < n; i++) {
            assertArrayEquals(expect, data[i], "node " + i);
        }
    }

    @Test
    void anOperationThatWouldOverflowArterysQueueIsRefusedSayingSo() {
        TestProbe<RingCollective.Outcome> probe = TestProbe.create(systems.get(0));
        systems.get(0).tell(new RingCollective.Run(50, view(0, paths), 0, new float[100_000], 16, Duration.ofSeconds(5), probe.getRef()));
        RingCollective.Outcome o = probe.receiveMessage(Duration.ofSeconds(10));
        assertTrue(o.error() != null && o.error().contains("outbound-message-queue-size") && o.error().contains("8336 messages"),
                String.valueOf(o.error()));
    }

    @Test
    void aPeerThatNeverTakesPartFailsTheOthersAtTheDeadline() {
        int n = 3;
        TestProbe<RingCollective.Outcome> probe = TestProbe.create(systems.get(0));
        for (int i = 0; i < n - 1; i++) {
            systems.get(i).tell(new RingCollective.Run(100, view(i, paths), i, new float[1000], 100, Duration.ofSeconds(2), probe.getRef()));
        }
        for (int i = 0; i < n - 1; i++) {
            RingCollective.Outcome o = probe.receiveMessage(Duration.ofSeconds(30));
            assertTrue(o.error() != null && o.error().contains("passed its deadline"), String.valueOf(o.error()));
        }
    }
}
