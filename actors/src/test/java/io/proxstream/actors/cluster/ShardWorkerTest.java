package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The column-sharded round over Artery: three shard workers in three actor systems on loopback (the cluster's
 * serializers) compute {@link ShardedPam}'s bits, round after round, solve rounds and others, and every replica holds its
 * owner's range bit for bit. A worker that dies fails its peers' round at the deadline, saying whose part is missing, and
 * leaves them as they were before the round; promoted (the dead owner's range taken over by its replica) they train on
 * with the bits {@link ShardedPam} computes when the dead worker sends no rows.
 */
class ShardWorkerTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    private static List<List<Protocol.Assignment>> slices(long round, int n, int rows) {
        List<List<Protocol.Assignment>> out = new ArrayList<>();
        for (int w = 0; w < n; w++) {
            out.add(List.of(new Protocol.Assignment(w, round * rows, rows)));
        }
        return out;
    }

    @Test
    void threeWorkersOverArteryComputeTheSingleProcessRoundsBitForBitAndReplicasHoldTheOwnersState() throws Exception {
        // 48 columns in blocks of 16: one block per worker; a solve every second round
        DataParallelPam.Config c = new DataParallelPam.Config(48, 48, 96, 4, 3, 128, 2, 1 << 20, 5, 30_000, 1, 7, "pam")
                .withDecoder("cg", "codes", 2);
        int n = 3;
        try (ShardedDriver cluster = new ShardedDriver(n, WAIT); ShardedPam reference = new ShardedPam(c, n)) {
            cluster.configure(c, true);
            String initial = cluster.digest(0).sha256();
            assertEquals(ShardWorker.digest(reference.model(0)), initial, "the initial copies");
            for (long r = 0; r < 5; r++) {
                List<List<Protocol.Assignment>> slices = slices(r, n, 256);
                long rows = reference.round(slices);
                long sum = 0;
                for (ShardWorker.Reply reply : cluster.round(r, slices, n)) {
                    ShardWorker.Done d = assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                    assertEquals(r, d.round());
                    assertEquals(rows, d.totalRows());
                    assertEquals(r % 2 == 1, d.solved(), "solve every second round");
                    sum += d.rows();
                    assertTrue(d.bytesSent() > 0, "parts were sent to the peers");
                }
                assertEquals(rows, sum);
                List<ShardWorker.Digest> digests = new ArrayList<>();
                for (int w = 0; w < n; w++) {
                    digests.add(cluster.digest(w));
                    assertEquals(ShardWorker.digest(reference.model(w)), digests.get(w).sha256(), "worker " + w + "'s copy after round " + r);
                }
                for (int range = 0; range < n; range++) {
                    String own = digests.get(range).ranges().get(range);
                    String copy = digests.get((range + 1) % n).ranges().get(range);
                    assertFalse(own.isEmpty(), "worker " + range + " holds its range");
                    assertEquals(own, copy, "range " + range + "'s replica on worker " + (range + 1) % n + " after round " + r);
                    assertEquals("", digests.get((range + 2) % n).ranges().get(range), "a third worker does not hold range " + range);
                }
            }
            assertEquals(2, cluster.digest(0).solves(), "worker 0 solved its range on rounds 1 and 3");
            assertNotEquals(initial, cluster.digest(0).sha256(), "the model trained");
        }
    }

    @Test
    void afterAWorkerDiesTheSurvivorsPromoteItsReplicaReseedReplicasAndTrainOnAsIfItHadSentNoRows() throws Exception {
        DataParallelPam.Config c = new DataParallelPam.Config(48, 48, 96, 4, 3, 128, 2, 1 << 20, 5, 5_000, 1, 7, "pam")
                .withDecoder("cg", "codes", 2);
        int n = 3;
        try (ShardedDriver cluster = new ShardedDriver(n, WAIT); ShardedPam reference = new ShardedPam(c, n)) {
            cluster.configure(c, true);
            for (long r = 0; r < 2; r++) {
                reference.round(slices(r, n, 256));
                for (ShardWorker.Reply reply : cluster.round(r, slices(r, n, 256), n)) {
                    assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                }
            }
            String range2 = cluster.digest(2).ranges().get(2);
            cluster.system(2).terminate();
            cluster.system(2).getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
            // round 2 fails on the survivors before anything shared changed
            List<List<Protocol.Assignment>> two = slices(2, n, 256);
            for (ShardWorker.Reply reply : cluster.round(2, two.subList(0, 2), 2)) {
                ShardWorker.Failed f = assertInstanceOf(ShardWorker.Failed.class, reply, reply.toString());
                assertTrue(f.clean(), f.toString());
                assertTrue(f.reason().contains("passed its deadline") && f.reason().contains("parts of workers [2]"), f.reason());
            }
            for (int w = 0; w < 2; w++) {
                assertEquals(ShardWorker.digest(reference.model(w)), cluster.digest(w).sha256(), "worker " + w + " after the failed round");
            }
            assertEquals(range2, cluster.digest(0).ranges().get(2), "worker 0's replica holds the dead owner's range");
            cluster.promote(new boolean[] {true, true, false});
            // ranges 1 (its replica died) and 2 (its replica was promoted) get new replicas from their owners' states
            cluster.restoreReplicas();
            // the round again (a new operation number) among the survivors; the reference runs it with no rows from worker 2
            for (long r = 2; r < 5; r++) {
                List<List<Protocol.Assignment>> slices = slices(r, n, 256);
                List<List<Protocol.Assignment>> withoutTwo = List.of(slices.get(0), slices.get(1), List.of());
                long rows = reference.round(withoutTwo);
                for (ShardWorker.Reply reply : cluster.round(r + 1, slices.subList(0, 2), 2)) {
                    ShardWorker.Done d = assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                    assertEquals(rows, d.totalRows());
                }
                for (int w = 0; w < 2; w++) {
                    assertEquals(ShardWorker.digest(reference.model(w)), cluster.digest(w).sha256(), "survivor " + w + " after round " + r);
                }
            }
            ShardWorker.Digest zero = cluster.digest(0);
            ShardWorker.Digest one = cluster.digest(1);
            for (int range = 0; range < n; range++) {
                assertFalse(zero.ranges().get(range).isEmpty(), "with two workers each holds every range: " + range);
                assertEquals(zero.ranges().get(range), one.ranges().get(range), "range " + range + "'s owner and replica");
            }
            assertEquals(3, zero.solves(), "worker 0 solved range 0 on rounds 1 and 3, and the promoted range 2 on round 3");
        }
    }

    @Test
    void aCheckpointRestoredOnFewerWorkersHoldsTheModelAndEveryRangeBitForBitAndTrainsOn(@org.junit.jupiter.api.io.TempDir
                                                                                          java.nio.file.Path dir) throws Exception {
        DataParallelPam.Config c = new DataParallelPam.Config(48, 48, 96, 4, 3, 128, 2, 1 << 20, 5, 30_000, 1, 7, "pam")
                .withDecoder("cg", "codes", 2);
        int n = 3;
        try (ShardedDriver cluster = new ShardedDriver(n, WAIT)) {
            cluster.configure(c, true);
            for (long r = 0; r < 3; r++) {
                for (ShardWorker.Reply reply : cluster.round(r, slices(r, n, 256), n)) {
                    assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                }
            }
            List<ShardWorker.Digest> before = new ArrayList<>();
            for (int w = 0; w < n; w++) {
                before.add(cluster.digest(w));
            }
            List<ShardWorker.CheckpointWritten> written = cluster.checkpoint(dir);
            java.util.Set<Integer> ranges = new java.util.TreeSet<>();
            written.forEach(w -> ranges.addAll(w.ranges()));
            assertEquals(java.util.Set.of(0, 1, 2), ranges, "the owners wrote every range once: " + written);
            assertTrue(java.nio.file.Files.exists(ShardWorker.modelFile(dir)), "participant 0 wrote the model");
            // another round changes every copy; the restore must bring back the checkpoint's bits, not these
            for (ShardWorker.Reply reply : cluster.round(3, slices(3, n, 256), n)) {
                assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
            }
            assertNotEquals(before.get(0).sha256(), cluster.digest(0).sha256());
            // two workers take the three ranges: worker 0 owns 0 and 2 and replicates 1, worker 1 owns 1 and replicates 0 and 2
            cluster.restore(dir, 3, 2);
            for (int w = 0; w < 2; w++) {
                ShardWorker.Digest d = cluster.digest(w);
                assertEquals(before.get(0).sha256(), d.sha256(), "worker " + w + "'s model is the checkpoint's");
                assertEquals(before.get(0).rounds(), d.rounds(), "the round count (the solve schedule) is the checkpoint's");
                for (int range = 0; range < 3; range++) {
                    assertEquals(before.get(range).ranges().get(range), d.ranges().get(range), "worker " + w + "'s range " + range
                            + " is its owner's state at the checkpoint");
                }
            }
            // and the two train on: both copies the same bits
            for (long r = 4; r < 6; r++) {
                List<List<Protocol.Assignment>> slices = slices(r, n, 256).subList(0, 2);
                for (ShardWorker.Reply reply : cluster.round(r, slices, 2)) {
                    assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                }
                assertEquals(cluster.digest(0).sha256(), cluster.digest(1).sha256(), "after round " + r);
            }
            // a checkpoint that cannot be read is an error naming it, not a fresh start
            java.nio.file.Files.write(ShardWorker.rangeFile(dir, 1), new byte[] {1, 2, 3});
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> cluster.restore(dir, 3, 2));
            assertTrue(e.getMessage().contains("range-1.safetensors"), e.getMessage());
        }
    }

    @Test
    void aWorkerThatDiesAfterTheRingCostsNoRoundItsPromotedReplicaSolvesItsCorrection() throws Exception {
        DataParallelPam.Config c = new DataParallelPam.Config(48, 48, 96, 4, 3, 128, 2, 1 << 20, 5, 4_000, 1, 7, "pam")
                .withDecoder("cg", "codes", 2);
        int n = 3;
        try (ShardedDriver cluster = new ShardedDriver(n, WAIT); ShardedPam reference = new ShardedPam(c, n)) {
            cluster.configure(c, true);
            reference.round(slices(0, n, 256));
            for (ShardWorker.Reply reply : cluster.round(0, slices(0, n, 256), n)) {
                assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
            }
            // worker 2 stops inside the solve round, after the ring: its rows are in every shard and in the encoder sum
            cluster.crash(2);
            long rows = reference.round(slices(1, n, 256));
            for (ShardWorker.Reply reply : cluster.round(1, slices(1, n, 256), 2)) {
                ShardWorker.Stalled st = assertInstanceOf(ShardWorker.Stalled.class, reply, reply.toString());
                assertEquals(List.of(2), st.ranges(), "waiting for range 2's correction");
                assertEquals(List.of(2), st.owners());
            }
            cluster.promote(new boolean[] {true, true, false});
            for (ShardWorker.Reply reply : cluster.resume(1)) {
                ShardWorker.Done d = assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                assertEquals(rows, d.totalRows(), "the dead worker's rows of the round are trained");
                assertTrue(d.solved());
            }
            for (int w = 0; w < 2; w++) {
                assertEquals(ShardWorker.digest(reference.model(w)), cluster.digest(w).sha256(),
                        "survivor " + w + ": the round as if no one had died (worker 0 solved range 2 from its replica)");
            }
            cluster.restoreReplicas();
            for (long r = 2; r < 4; r++) {
                List<List<Protocol.Assignment>> slices = slices(r, n, 256);
                reference.round(List.of(slices.get(0), slices.get(1), List.of()));
                for (ShardWorker.Reply reply : cluster.round(r, slices.subList(0, 2), 2)) {
                    assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                }
                for (int w = 0; w < 2; w++) {
                    assertEquals(ShardWorker.digest(reference.model(w)), cluster.digest(w).sha256(), "survivor " + w + " after round " + r);
                }
            }
        }
    }

    @Test
    void aWorkerThatJoinsGetsTheModelAndTrainsFromTheNextRound() throws Exception {
        DataParallelPam.Config c = new DataParallelPam.Config(48, 48, 96, 4, 3, 128, 2, 1 << 20, 5, 30_000, 1, 7, "pam")
                .withDecoder("cg", "codes", 2);
        try (ShardedDriver cluster = new ShardedDriver(3, WAIT); ShardedPam reference = new ShardedPam(c, 3)) {
            // two workers (two column ranges); the reference has a third that sends no rows until it joins
            cluster.configure(c, true, 2);
            for (long r = 0; r < 3; r++) {
                List<List<Protocol.Assignment>> slices = slices(r, 3, 256);
                reference.round(List.of(slices.get(0), slices.get(1), List.of()));
                for (ShardWorker.Reply reply : cluster.round(r, slices.subList(0, 2), 2)) {
                    assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                }
            }
            cluster.join(2);
            assertEquals(ShardWorker.digest(reference.model(0)), cluster.digest(2).sha256(), "the joined worker's copy of the model");
            for (long r = 3; r < 6; r++) {
                List<List<Protocol.Assignment>> slices = slices(r, 3, 256);
                long rows = reference.round(slices);
                for (ShardWorker.Reply reply : cluster.round(r, slices, 3)) {
                    ShardWorker.Done d = assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
                    assertEquals(rows, d.totalRows());
                }
                for (int w = 0; w < 3; w++) {
                    // the columns are cut in two ranges here and in three in the reference: the cut does not change a bit
                    assertEquals(ShardWorker.digest(reference.model(w)), cluster.digest(w).sha256(), "worker " + w + " after round " + r);
                }
            }
            assertEquals(List.of(), cluster.digest(2).ranges().stream().filter(d -> !d.isEmpty()).toList(), "the joined worker holds no range");
        }
    }

    @Test
    void aMalformedPartFailsTheRoundCleanNamingItsSenderAndTheNextRoundTrains() throws Exception {
        DataParallelPam.Config c = new DataParallelPam.Config(48, 48, 96, 4, 2, 128, 2, 1 << 20, 5, 3_000, 1, 7, "pam")
                .withDecoder("cg", "codes", 1);
        try (ShardedDriver cluster = new ShardedDriver(2, WAIT); ShardedPam reference = new ShardedPam(c, 2)) {
            cluster.configure(c, true);
            // before round 0 starts, "worker 1" sends worker 0 the first of three chunks of garbage; its real part (one chunk)
            // then does not fit that transfer
            cluster.send(0, new ShardWorker.Exchange(0, 1, 0, 3, new byte[] {1, 2, 3}));
            List<ShardWorker.Reply> replies = cluster.round(0, slices(0, 2, 256), 2);
            for (ShardWorker.Reply reply : replies) {
                ShardWorker.Failed f = assertInstanceOf(ShardWorker.Failed.class, reply, reply.toString());
                assertTrue(f.clean(), f.toString());
                // worker 1 fails in the ring, or (when worker 0 found the garbage before its own encoder step ended, and so
                // never sent its part) at its deadline waiting for worker 0's part: both clean
                assertTrue(f.index() == 0 ? f.reason().contains("worker 1's part is malformed")
                        : f.reason().contains("ring all-reduce failed") || f.reason().contains("waiting for the parts of workers [0]"),
                        f.toString());
            }
            // nothing of round 0 stayed: the next round is the reference's first, bit for bit
            reference.round(slices(1, 2, 256));
            for (ShardWorker.Reply reply : cluster.round(1, slices(1, 2, 256), 2)) {
                assertInstanceOf(ShardWorker.Done.class, reply, reply.toString());
            }
            for (int w = 0; w < 2; w++) {
                assertEquals(ShardWorker.digest(reference.model(w)), cluster.digest(w).sha256(), "worker " + w);
            }
        }
    }

    @Test
    void aRangeThatLostItsOwnerAndItsReplicaCannotBePromoted() {
        int[][] p = ShardWorker.initialPlacement(3, true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ShardWorker.afterLoss(p[0], p[1], new boolean[] {true, false, false}));
        assertTrue(e.getMessage().contains("range 1 lost its owner (worker 1) and its replica (worker 2)"), e.getMessage());
        int[][] q = ShardWorker.afterLoss(p[0], p[1], new boolean[] {false, true, true});
        assertArrayEquals(new int[] {0, 0, 1}, q[0], "range 0 goes to its replica, worker 1 (now 0)");
        assertArrayEquals(new int[] {-1, 1, -1}, q[1]);
        assertThrows(IllegalArgumentException.class, () -> ShardWorker.afterLoss(new int[] {0, 1}, new int[] {-1, -1}, new boolean[] {true, false}));
    }
}
