package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.sae.TrainerState;
import java.util.Arrays;
import java.util.List;
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
}
