package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.actors.serve.CheckpointStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The coordinator resumes from its newest readable checkpoint and never silently starts over. */
class CoordinatorResumeTest {
    @TempDir
    Path out;

    @Test
    void aCoordinatorWhoseCheckpointsAllFailToReadRefusesInsteadOfStartingOver() throws Exception {
        DataParallelPam.Config c = DataParallelPamTest.SMALL;
        assertEquals("", Coordinator.load(c, out).from(), "no checkpoints: a new run");

        DataParallelPam.CoordinatorState s = new DataParallelPam.CoordinatorState(c);
        new CheckpointStore(out.resolve("checkpoints"), 3).write(4096, s.snapshot(), Map.of("round", "1"));
        Coordinator.Loaded resumed = Coordinator.load(c, out);
        assertTrue(resumed.from().endsWith("ckpt-000000000004096.safetensors"), resumed.from());
        assertEquals(s.round(), resumed.state().round());

        try (var files = Files.list(out.resolve("checkpoints"))) {
            for (Path f : files.toList()) {
                Files.write(f, new byte[] {1, 2, 3});
            }
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Coordinator.load(c, out));
        assertTrue(e.getMessage().contains("none reads back") && e.getMessage().contains("ckpt-000000000004096"), e.getMessage());
    }
}
