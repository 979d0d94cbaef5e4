package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.sae.TrainerState;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DataParallelPamTest {
    static final DataParallelPam.Config SMALL = new DataParallelPam.Config(32, 48, 96, 4, 4, 128, 2, 163_840, 5, 10_000, 1, 7, "pam");

    @Test
    void chunksCarryAStateExactlyAndRefuseMalformedPayloads() {
        TrainerState.Builder b = new TrainerState.Builder("x");
        float[] f = new float[100_000];
        double[] d = new double[40_000];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) Math.sin(i);
        }
        for (int i = 0; i < d.length; i++) {
            d[i] = Math.cos(i) * 1e10;
        }
        b.put("f", f).put("d", d).put("n", 3L, -4L);
        byte[] bytes = Chunks.encode(b.build());
        List<byte[]> parts = Chunks.split(bytes);
        assertEquals((bytes.length + Chunks.MAX_CHUNK - 1) / Chunks.MAX_CHUNK, parts.size());
        Chunks.Assembler a = new Chunks.Assembler();
        for (int i = parts.size() - 1; i >= 0; i--) {
            assertEquals(i == 0, a.add(i, parts.size(), parts.get(i)), "complete only with the last chunk");
        }
        TrainerState back = Chunks.decode(a.bytes());
        assertArrayEquals(f, back.floats().get("f"));
        assertArrayEquals(d, back.doubles().get("d"));
        assertArrayEquals(new long[] {3, -4}, back.longs().get("n"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Chunks.decode(Arrays.copyOf(bytes, 1000)));
        assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("malformed"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Chunks.Assembler().add(3, 2, new byte[1]));
    }

    @Test
    void liveRoundsOnTheRowsPushedToEachWorkerComputeWhatTheSameRowsAsShardsCompute() {
        // two shards of the synthetic stream, each pushed to one worker's ingest queue in its order: the live rounds
        // (each worker up to batchesPerShard minibatches of its queue) are the shard rounds, so the models are equal
        DataParallelPam.Config shards = new DataParallelPam.Config(32, 48, 96, 4, 2, 128, 2, 128 * 2 * 2 * 12, 5, 10_000, 1, 7, "pam")
                .withDecoder("exact", "codes", 1);
        DataParallelPam.Config live = shards.withData(DataParallelPam.Config.LIVE);
        DataParallelPam.CoordinatorState ref = DataParallelPam.reference(shards, 2);
        var timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        try {
            var gen = shards.generator();
            List<LiveRows> queues = new java.util.ArrayList<>();
            for (int w = 0; w < 2; w++) {
                LiveRows q = new LiveRows(32, new io.proxstream.actors.serve.ByteBudget(1 << 24, timer));
                for (int j = 0; j < 2 * 12; j++) {
                    q.budget().reserve(4L * 128 * 32, 0).toCompletableFuture().join();
                    q.add(DataParallelPam.minibatch(shards, gen, w, j), 128);
                }
                queues.add(q);
            }
            DataParallelPam.CoordinatorState coord = new DataParallelPam.CoordinatorState(live);
            List<DataParallelPam.WorkerState> ws = List.of(new DataParallelPam.WorkerState(live), new DataParallelPam.WorkerState(live));
            while (!coord.finished()) {
                long[] waiting = {queues.get(0).ledger().available(), queues.get(1).ledger().available()};
                List<List<Protocol.Assignment>> slices = coord.assignLive(waiting);
                TrainerState m = coord.modelState();
                List<TrainerState> results = new java.util.ArrayList<>();
                for (int w = 0; w < 2; w++) {
                    float[] x = queues.get(w).lease(coord.round(), slices.get(w).get(0).rows(), live.batch());
                    results.add(ws.get(w).round(m, List.of(Protocol.Assignment.live(x.length / 32)), x));
                    coord.ledger().report("w" + w, queues.get(w).ledger().accepted());
                    coord.ledger().merged("w" + w, x.length / 32);
                }
                coord.complete(results, slices);
            }
            ws.forEach(DataParallelPam.WorkerState::close);
            assertEquals(ref.rows(), coord.rows());
            assertArrayEquals(ref.model().decoderWeights(), coord.model().decoderWeights(), "live rounds = shard rounds, exactly");
            assertArrayEquals(ref.model().encoderWeights(), coord.model().encoderWeights());
            assertEquals(2L * 2 * 12 * 128, coord.ledger().accepted());
            assertEquals(coord.rows(), coord.ledger().trained());
            assertEquals(0, coord.ledger().queued());
            // the live run's FVU is measured on the latest trained rows
            assertTrue(coord.quality().fvu() < 0.5, "trained: " + coord.quality());
        } finally {
            timer.shutdownNow();
        }
    }

    @Test
    void theIngestLedgerCountsWhatADeadOrRestartedNodeHadNotMergedAsLostAndSurvivesACheckpoint() {
        DataParallelPam.IngestLedger l = new DataParallelPam.IngestLedger();
        l.report("a", 1000);
        l.report("b", 500);
        l.merged("a", 600);
        l.merged("b", 200);
        assertEquals(1500, l.accepted());
        assertEquals(800, l.trained());
        assertEquals(700, l.queued());
        l.close("b"); // died: its 300 queued rows are lost
        assertEquals(300, l.lost());
        long seq = l.seq();
        l.report("a", 1, 900); // a report of a's overtaken by a later one (another path): nothing changes
        assertEquals(1500, l.accepted());
        assertEquals(seq, l.seq());
        l.report("a", 2, 400); // another incarnation: a new process under the same address; the old one's 400 are lost
        assertEquals(700, l.lost());
        assertEquals(1900, l.accepted());
        assertEquals(l.accepted(), l.trained() + l.queued() + l.lost());
        DataParallelPam.Config live = SMALL.withData(DataParallelPam.Config.LIVE);
        DataParallelPam.CoordinatorState s = new DataParallelPam.CoordinatorState(live);
        s.ledger().report("x", 77);
        s.ledger().merged("x", 50);
        s.ledger().close("x");
        s.ledger().report("y", 9);
        DataParallelPam.CoordinatorState back = new DataParallelPam.CoordinatorState(live);
        back.restore(s.snapshot());
        assertEquals(s.ledger().describe(), back.ledger().describe());
        assertEquals(27, back.ledger().lost());
    }

    @Test
    void aRollBackToACheckpointRequeuesTheOpenNodesRowsMergedSinceAndCountsAClosedNodesLost() throws Exception {
        DataParallelPam.IngestLedger l = new DataParallelPam.IngestLedger();
        l.report("a", 11, 1000);
        l.report("b", 22, 500);
        l.merged("a", 600);
        l.merged("b", 100);
        // the checkpoint's copy, through the whole state a column-sharded coordinator writes (JSON)
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        DataParallelPam.IngestLedger atCheckpoint = DataParallelPam.IngestLedger.fromState(json.readTree(json.writeValueAsString(l.state())));
        assertEquals(l.describe(), atCheckpoint.describe());
        // after it: more merged on both, b dies (its 500 - 300 = 200 unmerged lost), c joins and merges 50, a restarts
        l.merged("a", 300);
        l.merged("b", 200);
        l.close("b");
        l.report("c", 33, 80);
        l.merged("c", 50);
        assertEquals(200, l.lost());
        l.report("a", 44, 70); // a new process under a's address: the old one's 1000 - 900 = 100 lost
        assertEquals(300, l.lost());
        long accepted = l.accepted();
        DataParallelPam.IngestLedger written = DataParallelPam.IngestLedger.fromState(json.readTree(json.writeValueAsString(l.state())));
        assertEquals(l.describe(), written.describe(), "the whole state round-trips, closed entries included");
        long back = written.rollBack(atCheckpoint);
        // taken back: a's old process 300 (now lost with it), b's 200 (lost), c's 50 (queued again: c lives)
        assertEquals(550, back);
        assertEquals(accepted, written.accepted(), "what was accepted stays accepted");
        assertEquals(700, written.trained(), "the checkpoint's 600 of a and 100 of b");
        assertEquals(400 + 400, written.lost(), "a's old process: 1000 - 600; b: 500 - 100");
        assertEquals(80 + 70, written.queued(), "c's 80 and a's new process's 70 wait on their nodes");
        assertEquals(written.accepted(), written.trained() + written.queued() + written.lost());
        assertEquals(0, written.rollBack(atCheckpoint), "a second roll-back to the same checkpoint takes nothing more");
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> DataParallelPam.IngestLedger.fromState(
                json.readTree("{\"seq\":3,\"open\":{\"a\":[10,20,1]},\"closed\":[]}")), "more merged than accepted");
    }

    @Test
    void aLedgerRestoredFromACheckpointCatchesUpWithTheCountsWrittenAfterIt() {
        DataParallelPam.Config live = SMALL.withData(DataParallelPam.Config.LIVE);
        DataParallelPam.CoordinatorState s = new DataParallelPam.CoordinatorState(live);
        s.ledger().report("a", 1000);
        s.ledger().report("b", 500);
        s.ledger().merged("a", 600);
        s.ledger().report("gone", 50);
        TrainerState checkpoint = s.snapshot();
        long seqAtCheckpoint = s.ledger().seq();
        // after the checkpoint: more rows reported, merges (rolled back with the model), a node leaves, one joins
        s.ledger().report("a", 1800);
        s.ledger().merged("b", 400);
        s.ledger().close("gone");
        s.ledger().report("c", 300);
        Map<String, Object> snap = s.ledger().snapshot();
        @SuppressWarnings("unchecked")
        Map<String, Long> accepted = (Map<String, Long>) snap.get("accepted");
        assertEquals(Map.of("a", 1800L, "b", 500L, "c", 300L), accepted);

        DataParallelPam.CoordinatorState back = new DataParallelPam.CoordinatorState(live);
        back.restore(checkpoint);
        assertEquals(seqAtCheckpoint, back.ledger().seq(), "the change count travels with the checkpoint");
        back.ledger().catchUp((Long) snap.get("seq"), accepted);
        // accepted as last reported; trained as the checkpoint held it (the later merges are not in its model)
        assertEquals(1800 + 500 + 300 + 50, back.ledger().accepted());
        assertEquals(600, back.ledger().trained());
        assertEquals(50, back.ledger().lost(), "the node that left after the checkpoint: nothing of it trained there");
        assertEquals(back.ledger().accepted(), back.ledger().trained() + back.ledger().queued() + back.ledger().lost());

        // a snapshot older than the checkpoint (its write was still pending when the checkpoint came) changes nothing
        DataParallelPam.CoordinatorState again = new DataParallelPam.CoordinatorState(live);
        again.restore(checkpoint);
        Map<String, Object> before = again.ledger().describe();
        again.ledger().catchUp(seqAtCheckpoint - 1, Map.of("a", 5000L));
        assertEquals(before, again.ledger().describe());
        // a node that restarted after the checkpoint (the snapshot knows its new incarnation): its checkpointed entry is
        // closed (its 400 unmerged rows lost), the new process's count opens a new one
        DataParallelPam.CoordinatorState restarted = new DataParallelPam.CoordinatorState(live);
        restarted.restore(checkpoint);
        restarted.ledger().catchUp((Long) snap.get("seq"), Map.of("a", 70L, "b", 500L), Map.of("a", 9L, "b", 1L));
        assertEquals(400 + 50, restarted.ledger().lost(), "a's old process and the node that left");
        assertEquals(1000 + 70 + 500 + 50, restarted.ledger().accepted());
        assertEquals(restarted.ledger().accepted(), restarted.ledger().trained() + restarted.ledger().queued()
                + restarted.ledger().lost());

        // reports that repeat a count are not changes (no rewrite of the file every 250 ms)
        long seq = again.ledger().seq();
        again.ledger().report("a", 1000);
        assertEquals(seq, again.ledger().seq());
    }

    @Test
    void dataParallelRoundsRecoverThePlantedFeaturesWithOneOrThreeWorkers() {
        DataParallelPam.Quality one = DataParallelPam.reference(SMALL, 1).quality();
        DataParallelPam.Quality three = DataParallelPam.reference(SMALL, 3).quality();
        // measured: 0.988 and 0.956 (averaging three encoders every two minibatches costs a little)
        assertTrue(one.mmcs() > 0.95, "one worker: " + one);
        assertTrue(three.mmcs() > 0.93, "three workers: " + three);
        assertEquals(one.mmcs(), three.mmcs(), 0.05, one + " vs " + three);
    }

    @Test
    void theAdamBaselineTrainsDataParallelByAveragingAllParameters() {
        DataParallelPam.Config adam = new DataParallelPam.Config(32, 48, 96, 4, 4, 128, 2, 163_840, 5, 10_000, 1, 7, "adam");
        DataParallelPam.CoordinatorState start = new DataParallelPam.CoordinatorState(adam);
        double before = start.quality().fvu();
        DataParallelPam.Quality two = DataParallelPam.reference(adam, 2).quality();
        assertTrue(two.fvu() < 0.5 * before, "Adam with two workers lowers the held-out FVU: " + before + " -> " + two);
        assertThrows(IllegalArgumentException.class, () -> new DataParallelPam.Config(32, 48, 96, 4, 4, 128, 2, 1, 5, 1, 1, 7, "sgd"));
    }

    @Test
    void aShardMovesBetweenWorkersWithoutLosingOrRepeatingRows() {
        DataParallelPam.CoordinatorState c = new DataParallelPam.CoordinatorState(SMALL);
        List<List<Protocol.Assignment>> two = c.assign(2);
        assertEquals(List.of(0, 2), two.get(0).stream().map(Protocol.Assignment::shard).toList());
        DataParallelPam.WorkerState w = new DataParallelPam.WorkerState(SMALL);
        // only worker 0 answers: shards 0 and 2 advance, 1 and 3 are handed out again from offset 0
        c.complete(List.of(w.round(c.modelState(), two.get(0))), List.of(two.get(0)));
        List<List<Protocol.Assignment>> next = c.assign(1);
        assertEquals(List.of(SMALL.sliceRows() * 1L, 0L, SMALL.sliceRows() * 1L, 0L),
                next.get(0).stream().map(Protocol.Assignment::offset).toList());
        assertEquals(2L * SMALL.sliceRows(), c.rows());
        TrainerState snap = c.snapshot();
        DataParallelPam.CoordinatorState r = new DataParallelPam.CoordinatorState(SMALL);
        r.restore(snap);
        assertEquals(c.round(), r.round());
        assertEquals(c.assign(1), r.assign(1));
        assertArrayEquals(c.model().encoderWeights(), r.model().encoderWeights());
        w.close();
    }

    /** Runs {@code rounds} rounds of {@code c} with {@code workers} workers in one process. */
    private static DataParallelPam.CoordinatorState rounds(DataParallelPam.Config c, int workers, int rounds) {
        DataParallelPam.CoordinatorState coord = new DataParallelPam.CoordinatorState(c);
        List<DataParallelPam.WorkerState> ws = new java.util.ArrayList<>();
        for (int w = 0; w < workers; w++) {
            ws.add(new DataParallelPam.WorkerState(c));
        }
        for (int r = 0; r < rounds; r++) {
            TrainerState m = coord.modelState();
            List<List<Protocol.Assignment>> slices = coord.assign(workers);
            List<TrainerState> results = new java.util.ArrayList<>();
            for (int w = 0; w < workers; w++) {
                results.add(Chunks.decode(Chunks.encode(ws.get(w).round(m, slices.get(w)))));
            }
            coord.complete(results, slices);
        }
        ws.forEach(DataParallelPam.WorkerState::close);
        return coord;
    }

    @Test
    void shippingCodesOrStatisticsGivesTheSameExactDecoderStep() {
        DataParallelPam.CoordinatorState stats = rounds(SMALL.withDecoder("exact", "statistics", 1), 2, 6);
        DataParallelPam.CoordinatorState codes = rounds(SMALL.withDecoder("exact", "codes", 1), 2, 6);
        assertArrayEquals(new long[] {0, 12}, stats.resultKinds());
        assertArrayEquals(new long[] {12, 0}, codes.resultKinds());
        // the same minibatches forgotten and summed in the same order, once at the workers and once at the coordinator:
        // equal up to the rounding of the sums
        float[] a = stats.model().decoderWeights();
        float[] b = codes.model().decoderWeights();
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            norm = Math.max(norm, Math.abs(a[i]));
        }
        assertTrue(diff < 1e-4 * norm, "decoders differ by " + diff + " (largest entry " + norm + ")");
    }

    @Test
    void theIterativeDecoderStepTrainsDataParallelOnShippedCodesAndResumesBitForBit() {
        DataParallelPam.Config cg = SMALL.withDecoder("cg", "auto", 1);
        assertTrue(cg.shipsCodes(1) && cg.shipsCodes(1_000_000), "the cg step always takes codes");
        DataParallelPam.Quality exact = DataParallelPam.reference(SMALL.withDecoder("exact", "auto", 1), 2).quality();
        DataParallelPam.Quality iterative = DataParallelPam.reference(cg, 2).quality();
        assertTrue(iterative.mmcs() > 0.93, "cg, two workers: " + iterative);
        assertEquals(exact.fvu(), iterative.fvu(), 0.1 * exact.fvu() + 0.005, exact + " vs " + iterative);
        // a coordinator restored from a snapshot continues exactly as the original
        DataParallelPam.CoordinatorState c = rounds(cg, 2, 4);
        DataParallelPam.CoordinatorState r = new DataParallelPam.CoordinatorState(cg);
        r.restore(Chunks.decode(Chunks.encode(c.snapshot())));
        DataParallelPam.WorkerState w = new DataParallelPam.WorkerState(cg);
        List<Protocol.Assignment> all = c.assign(1).get(0);
        TrainerState result = w.round(c.modelState(), all);
        c.complete(List.of(result), List.of(all));
        r.complete(List.of(result), List.of(all));
        assertArrayEquals(c.model().decoderWeights(), r.model().decoderWeights());
        assertArrayEquals(c.model().decoderBias(), r.model().decoderBias());
        w.close();
        // an exact checkpoint cannot resume a cg run: an error that says so, not a silent new start
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DataParallelPam.CoordinatorState(cg).restore(rounds(SMALL.withDecoder("exact", "auto", 1), 1, 1).snapshot()));
        assertTrue(e.getMessage().contains("cg"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SMALL.withDecoder("cg", "statistics", 1));
        // 65 536 x 4 096: the model's payload would pass 2 GiB; refused with the size, before anything is allocated
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
                () -> new DataParallelPam.Config(4096, 48, 65_536, 32, 4, 128, 2, 1, 5, 10_000, 1, 7, "pam"));
        assertTrue(big.getMessage().contains("2 GiB"), big.getMessage());
        new DataParallelPam.Config(768, 48, 65_536, 32, 4, 128, 2, 1, 5, 10_000, 1, 7, "pam");
    }

    @Test
    void autoShipsTheSmallerPayloadAndItsByteModelHoldsWithinTenPercent() {
        for (int latents : new int[] {96, 512}) {
            DataParallelPam.Config c = new DataParallelPam.Config(32, 48, latents, 4, 4, 128, 2, 163_840, 5, 10_000, 1, 7, "pam");
            DataParallelPam.CoordinatorState coord = new DataParallelPam.CoordinatorState(c);
            List<Protocol.Assignment> all = coord.assign(1).get(0);
            long rows = 4L * c.sliceRows();
            DataParallelPam.WorkerState w = new DataParallelPam.WorkerState(c.withDecoder("exact", "codes", 1));
            long codes = Chunks.encode(w.round(coord.modelState(), all)).length;
            w.close();
            w = new DataParallelPam.WorkerState(c.withDecoder("exact", "statistics", 1));
            long stats = Chunks.encode(w.round(coord.modelState(), all)).length;
            w.close();
            long encoder = 4L * (latents * 32L + latents);
            // the model's bytes (what bench cluster uses) against the encoded results less their encoder
            assertEquals(1.0, (double) c.codeBytes(rows) / (codes - encoder), 0.1, "codes at " + latents + " latents");
            assertEquals(1.0, (double) c.statisticsBytes() / (stats - encoder), 0.1, "statistics at " + latents + " latents");
            assertEquals(codes < stats, c.shipsCodes(rows), "auto picks the smaller at " + latents + " latents: " + codes + " vs " + stats);
        }
    }

    /**
     * The column-sharded decoder step a worker would own, fed the same worker results as the coordinator's cg step: two
     * shards of the 32 columns solve, round by round, exactly the coordinator's decoder.
     */
    @Test
    void columnShardsFedTheWorkersResultsSolveTheCoordinatorsDecoder() {
        DataParallelPam.Config c = SMALL.withDecoder("cg", "codes", 2);
        DataParallelPam.CoordinatorState coord = new DataParallelPam.CoordinatorState(c);
        io.proxstream.solvers.sae.SaeModel sharded = DataParallelPam.initialModel(c);
        assertArrayEquals(coord.model().decoderWeights(), sharded.decoderWeights());
        io.proxstream.solvers.sae.IterativeDecoder.Options o = c.pam().decoder().cg();
        io.proxstream.solvers.sae.IterativeDecoder[] shards = {
            new io.proxstream.solvers.sae.IterativeDecoder(sharded, o, 0, 16),
            new io.proxstream.solvers.sae.IterativeDecoder(sharded, o, 16, 32)};
        DataParallelPam.WorkerState[] workers = {new DataParallelPam.WorkerState(c), new DataParallelPam.WorkerState(c)};
        for (int round = 0; round < 6; round++) {
            List<List<Protocol.Assignment>> slices = coord.assign(2);
            TrainerState model = coord.modelState();
            List<TrainerState> results = List.of(workers[0].round(model, slices.get(0)), workers[1].round(model, slices.get(1)));
            for (TrainerState r : results) {
                for (io.proxstream.solvers.sae.IterativeDecoder s : shards) {
                    DataParallelPam.feedShard(r, c, s);
                }
            }
            coord.complete(results, slices);
            if ((round + 1) % 2 == 0) {
                for (io.proxstream.solvers.sae.IterativeDecoder s : shards) {
                    s.solveInto(sharded, c.pam().rho(), c.pam().muDec(), c.pam().holdUnfired());
                }
            }
            assertArrayEquals(coord.model().decoderWeights(), sharded.decoderWeights(), "decoder after round " + round);
            assertArrayEquals(coord.model().decoderBias(), sharded.decoderBias(), "decoder bias after round " + round);
        }
        for (DataParallelPam.WorkerState w : workers) {
            w.close();
        }
    }

    @Test
    void aMalformedCodesResultIsRefusedAndChangesNothing() {
        DataParallelPam.Config c = SMALL.withDecoder("exact", "codes", 1);
        DataParallelPam.CoordinatorState coord = new DataParallelPam.CoordinatorState(c);
        List<Protocol.Assignment> all = coord.assign(1).get(0);
        DataParallelPam.WorkerState w = new DataParallelPam.WorkerState(c);
        TrainerState good = w.round(coord.modelState(), all);
        w.close();
        float[] before = coord.model().decoderWeights().clone();
        float[] encoder = coord.model().encoderWeights().clone();
        long[] idx = good.longs().get("codes.idx").clone();
        idx[idx.length - 1] = c.latents();
        TrainerState.Builder bad = new TrainerState.Builder("dp-result");
        good.floats().forEach(bad::put);
        good.doubles().forEach(bad::put);
        good.longs().forEach(bad::put);
        bad.put("codes.idx", idx);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> coord.complete(List.of(bad.build()), List.of(all)));
        assertTrue(e.getMessage().contains("outside"), e.getMessage());
        assertEquals(0, coord.round());
        assertEquals(0, coord.rows());
        assertArrayEquals(before, coord.model().decoderWeights());
        assertArrayEquals(encoder, coord.model().encoderWeights(), "the encoders were not averaged either");
    }

    /** Writes planted-dictionary rows into .npy shards of the given sizes under {@code dir}; returns the rows written. */
    static long writeShards(java.nio.file.Path dir, DataParallelPam.Config c, int[] sizes) throws java.io.IOException {
        java.nio.file.Files.createDirectories(dir);
        long all = 0;
        for (int i = 0; i < sizes.length; i++) {
            float[] x = c.generator().sample(sizes[i], 1000L + i).data();
            io.proxstream.protocol.format.Npy.write(dir.resolve(String.format("shard-%02d.npy", i)), x, sizes[i], c.dim());
            all += sizes[i];
        }
        return all;
    }

    @Test
    void aShardAWorkerCannotReadGoesToTheNextWorkerThatCanAndOneNoWorkerCanReadEndsTheRunWithoutIt(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        DataParallelPam.Config c = SMALL.withData(dir.toString());
        writeShards(dir, c, new int[] {512, 512, 512, 512});
        DataParallelPam.CoordinatorState st = new DataParallelPam.CoordinatorState(c);
        List<String> names = List.of("a", "b");
        // without refusals: shard i to worker i mod 2, as assign(2)
        assertEquals(st.assign(2).toString(), st.assign(names, java.util.Map.of()).toString());
        // a cannot read shard 0: it goes to b; the next shard goes to the worker after b, a
        var refused = java.util.Map.of(0, java.util.Set.of("a"));
        List<List<Protocol.Assignment>> s = st.assign(names, refused);
        assertEquals(List.of(1, 3), s.get(0).stream().map(Protocol.Assignment::shard).toList(), "a: " + s);
        assertEquals(List.of(0, 2), s.get(1).stream().map(Protocol.Assignment::shard).toList(), "b: " + s);
        // neither can read shard 2: nobody gets it, and the run counts as finished once the others are used up
        var none = java.util.Map.of(2, java.util.Set.of("a", "b"));
        assertTrue(st.assign(names, none).stream().flatMap(List::stream).noneMatch(x -> x.shard() == 2));
        assertTrue(!st.finished(java.util.Set.of(2)));
        // a file cut short after it was listed: the reader names the shard and the file
        java.nio.file.Path f = dir.resolve("shard-02.npy");
        try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 2);
        }
        DataParallelPam.WorkerState w = new DataParallelPam.WorkerState(c);
        DataParallelPam.UnreadableShard e = org.junit.jupiter.api.Assertions.assertThrows(DataParallelPam.UnreadableShard.class,
                () -> w.round(st.modelState(), List.of(new Protocol.Assignment(2, 0, 512, f.toString()))));
        assertEquals(2, e.shard());
        assertTrue(e.getMessage().contains("shard-02.npy"), e.getMessage());
        DataParallelPam.UnreadableShard missing = org.junit.jupiter.api.Assertions.assertThrows(DataParallelPam.UnreadableShard.class,
                () -> w.round(st.modelState(), List.of(new Protocol.Assignment(3, 0, 128, dir.resolve("gone.npy").toString()))));
        assertEquals(3, missing.shard());
        w.close();
    }

    @Test
    void shardFilesAreTrainedToTheirLastWholeMinibatchOnceEachWithBadRowsDroppedAndCounted(@org.junit.jupiter.api.io.TempDir
                                                                                             java.nio.file.Path dir) throws Exception {
        // 3 files of 1 000, 1 536 and 700 rows, minibatches of 128: 7, 12 and 5 whole minibatches (the tails are not used)
        DataParallelPam.Config c = SMALL.withData(dir.toString());
        writeShards(dir, c, new int[] {1000, 1536, 700});
        // two rows of the second shard hold a NaN and an infinity
        float[] x = io.proxstream.protocol.format.Npy.readAll(dir.resolve("shard-01.npy"));
        x[5 * c.dim() + 3] = Float.NaN;
        x[700 * c.dim()] = Float.POSITIVE_INFINITY;
        io.proxstream.protocol.format.Npy.write(dir.resolve("shard-01.npy"), x, 1536, c.dim());
        java.nio.file.Files.writeString(dir.resolve("README.txt"), "not a shard");
        DataParallelPam.CoordinatorState start = new DataParallelPam.CoordinatorState(c);
        double before = start.quality().fvu();
        assertEquals(3, start.files().size());
        DataParallelPam.CoordinatorState done = DataParallelPam.reference(c, 2);
        assertTrue(done.finished());
        assertArrayEquals(new long[] {7 * 128, 12 * 128, 5 * 128}, done.offsets());
        assertEquals((7 + 12 + 5) * 128, done.rows());
        assertEquals(2, done.rejected());
        DataParallelPam.Quality q = done.quality();
        assertTrue(Double.isNaN(q.mmcs()));
        assertTrue(q.fvu() < 0.7 * before, "FVU on the first shard's rows falls: " + before + " -> " + q.fvu());

        // a checkpoint resumes over the same listing, and refuses a changed one (a file sorted before the others)
        DataParallelPam.CoordinatorState half = new DataParallelPam.CoordinatorState(c);
        DataParallelPam.WorkerState w = new DataParallelPam.WorkerState(c);
        List<Protocol.Assignment> all = half.assign(1).get(0);
        half.complete(List.of(w.round(half.modelState(), all)), List.of(all));
        w.close();
        TrainerState snap = half.snapshot();
        DataParallelPam.CoordinatorState resumed = new DataParallelPam.CoordinatorState(c);
        resumed.restore(snap);
        assertEquals(half.assign(2), resumed.assign(2));
        writeShards(dir.resolve("sub"), c, new int[] {256});
        java.nio.file.Files.move(dir.resolve("sub/shard-00.npy"), dir.resolve("shard-00a.npy"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DataParallelPam.CoordinatorState(c).restore(snap));
        assertTrue(e.getMessage().contains("other shard files") || e.getMessage().contains("shard offsets"), e.getMessage());

        // a file of another width is refused by name when the coordinator starts
        io.proxstream.protocol.format.Npy.write(dir.resolve("shard-99.npy"), new float[10 * 7], 10, 7);
        java.io.UncheckedIOException bad = assertThrows(java.io.UncheckedIOException.class, () -> new DataParallelPam.CoordinatorState(c));
        assertTrue(bad.getMessage().contains("shard-99.npy") && bad.getMessage().contains("rows of 7 values"), bad.getMessage());
    }
}
