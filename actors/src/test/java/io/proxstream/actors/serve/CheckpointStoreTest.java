package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.sae.TrainerState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {
    @TempDir
    Path tmp;

    private static TrainerState state(float v) {
        return new TrainerState.Builder("pam").put("W", new float[] {v, 2 * v}).put("S", new double[] {Math.PI * v})
                .put("samples", (long) v).build();
    }

    @Test
    void keepsTheNewestAndFallsBackPastACorruptOne() throws Exception {
        CheckpointStore s = new CheckpointStore(tmp.resolve("ck"), 2);
        s.write(100, state(1), Map.of("run", "r"));
        s.write(200, state(2), Map.of("run", "r"));
        Path newest = s.write(300, state(3), Map.of("run", "r"));
        assertEquals(2, s.list().size(), "only the newest two are kept");
        assertEquals(newest, s.list().get(0));
        CheckpointStore.Loaded l = s.loadLatest(x -> { }).orElseThrow();
        assertArrayEquals(new float[] {3, 6}, l.state().floats().get("W"));
        assertEquals(Math.PI * 3, l.state().doubles().get("S")[0]);
        assertEquals(3, l.state().counter("samples"));
        assertEquals("r", l.metadata().get("run"));

        // truncate the newest: the previous one is used, and the skip is reported
        byte[] b = Files.readAllBytes(newest);
        Files.write(newest, java.util.Arrays.copyOf(b, b.length - 10));
        List<String> skipped = new ArrayList<>();
        l = s.loadLatest(skipped::add).orElseThrow();
        assertArrayEquals(new float[] {2, 4}, l.state().floats().get("W"));
        assertEquals(1, skipped.size());
        assertTrue(skipped.get(0).contains("ckpt-000000000000300") && skipped.get(0).contains("truncated"), skipped.get(0));

        // flip a data byte of the other one too: nothing usable is left
        Path other = s.list().get(1);
        byte[] o = Files.readAllBytes(other);
        o[o.length - 2] ^= 1;
        Files.write(other, o);
        skipped.clear();
        assertTrue(s.loadLatest(skipped::add).isEmpty());
        assertEquals(2, skipped.size());
        assertTrue(skipped.stream().anyMatch(x -> x.contains("checksum mismatch")), skipped.toString());
        assertTrue(skipped.stream().anyMatch(x -> x.contains("truncated")), skipped.toString());
    }

    @Test
    void pruningKeepsTheCheckpointJustWrittenAndTheNewestByWriteTimeNotByNumber() throws Exception {
        CheckpointStore s = new CheckpointStore(tmp.resolve("ck"), 2);
        Path high1 = s.write(900, state(9), Map.of());
        Path high2 = s.write(800, state(8), Map.of());
        Files.setLastModifiedTime(high1, java.nio.file.attribute.FileTime.fromMillis(1_000_000));
        Files.setLastModifiedTime(high2, java.nio.file.attribute.FileTime.fromMillis(2_000_000));
        // a run that restarted from fewer samples writes lower-numbered checkpoints: they are kept
        Path low = s.write(100, state(1), Map.of());
        assertEquals(List.of(low, high2), s.list(), "the one just written, then the newest by write time");
        Path low2 = s.write(200, state(2), Map.of());
        assertEquals(List.of(low2, low), s.list());
        assertArrayEquals(new float[] {2, 4}, s.loadLatest(x -> { }).orElseThrow().state().floats().get("W"));
    }

    @Test
    void temporaryFilesOfInterruptedWritesAreDeletedWhenARunLoads() throws Exception {
        CheckpointStore s = new CheckpointStore(tmp.resolve("ck"), 3);
        s.write(100, state(1), Map.of());
        Path dead = tmp.resolve("ck/.ckpt-000000000000200.safetensors.999999999.12345.tmp");
        Path mine = tmp.resolve("ck/.ckpt-000000000000300.safetensors." + ProcessHandle.current().pid() + ".1.tmp");
        Files.write(dead, new byte[100]);
        Files.write(mine, new byte[100]);
        assertEquals(1, s.list().size(), "temporary files are never listed as checkpoints");
        assertEquals(1, s.loadLatest(x -> { }).orElseThrow().state().counter("samples"), "the checkpoint of state(1)");
        assertTrue(Files.notExists(dead), "a dead process's temporary file is removed");
        assertTrue(Files.exists(mine), "this process's own write in progress is left alone");
    }

    @Test
    void aCheckpointOfAnotherFormatVersionIsRefusedNamingBothVersions() throws Exception {
        Path f = tmp.resolve("ckpt-000000000000001.safetensors");
        io.proxstream.protocol.format.Safetensors.writeArrays(f, Map.of("f:W", io.proxstream.protocol.format.Safetensors.Array.of(
                new float[] {1})), Map.of("format", "proxstream-checkpoint/0", "algorithm", "pam", "samples", "1"));
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> CheckpointStore.read(f));
        assertTrue(e.getMessage().contains("proxstream-checkpoint/0") && e.getMessage().contains(CheckpointStore.FORMAT), e.getMessage());
    }
}
