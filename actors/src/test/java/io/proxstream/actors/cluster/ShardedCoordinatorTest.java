package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.monitoring.ClusterMeters;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.pekko.actor.Address;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a column-sharded coordinator does with a control file it finds: resume from the checkpoint it names, or refuse
 * clearly — never start the run over.
 */
class ShardedCoordinatorTest {
    private static final DataParallelPam.Config CONFIG = new DataParallelPam.Config(16, 32, 64, 4, 3, 32, 1, 10_000, 5, 5_000, 1, 7,
            "pam").withDecoder("cg", "auto", 1);

    private static ShardedCoordinator.Run run(DataParallelPam.Config c, Path out) {
        return new ShardedCoordinator.Run(c, out, new ClusterMeters(new SimpleMeterRegistry(), "test"), null,
                new Address("pekko", "proxstream", "127.0.0.1", 1));
    }

    private static String refusal(DataParallelPam.Config c, Path out, String control) throws Exception {
        Files.writeString(out.resolve(ShardedCoordinator.CONTROL_FILE), control);
        return assertThrows(ShardedCoordinator.Unrecoverable.class, () -> run(c, out).readControl()).getMessage();
    }

    @Test
    void aControlFileThatCannotBeReadOrNamesNoUsableCheckpointIsRefusedWithTheFileAndTheReason(@TempDir Path out) throws Exception {
        String f = out.resolve(ShardedCoordinator.CONTROL_FILE).toString();
        String truncated = refusal(CONFIG, out, "{\"design\":\"column-sharded\",\"rounds\":12,\"chec");
        assertTrue(truncated.contains(f) && truncated.contains("cannot be read") && truncated.contains("will not start over"), truncated);
        String none = refusal(CONFIG, out, "{\"design\":\"column-sharded\",\"rounds\":0,\"ranges\":3}");
        assertTrue(none.contains(f) && none.contains("names no checkpoint") && none.contains("move " + out), none);
        String checkpoint = "\"checkpoint\":{\"dir\":\"sharded-checkpoints/round-000000000005\",\"rounds\":5,\"rows\":480,"
                + "\"offsets\":[%s],\"operation\":5}";
        String shards = refusal(CONFIG, out, "{\"ranges\":3,\"operations\":5," + String.format(checkpoint, "160,160") + "}");
        assertTrue(shards.contains("2 shard offsets") && shards.contains("3 shards"), shards);
        String ranges = refusal(CONFIG, out, "{\"ranges\":0,\"operations\":5," + String.format(checkpoint, "160,160,160") + "}");
        assertTrue(ranges.contains("0 column ranges"), ranges);
        // a live run cannot resume from a checkpoint that holds no ingest ledger
        String ledger = refusal(CONFIG.withData(DataParallelPam.Config.LIVE), out, "{\"ranges\":3,\"operations\":5,"
                + String.format(checkpoint, "0,0,0") + "}");
        assertTrue(ledger.contains("without an ingest ledger"), ledger);
        // the same file with a sound checkpoint reads (the refusals above are about the file, not the reader)
        Files.writeString(out.resolve(ShardedCoordinator.CONTROL_FILE), "{\"ranges\":3,\"operations\":5,"
                + String.format(checkpoint, "160,160,160") + "}");
        run(CONFIG, out).readControl();
    }

    @Test
    void aRunWhoseControlFileCannotBeReadStopsWithoutWritingAnything(@TempDir Path out) throws Exception {
        Path control = out.resolve(ShardedCoordinator.CONTROL_FILE);
        Files.writeString(control, "not json");
        java.io.ByteArrayOutputStream said = new java.io.ByteArrayOutputStream();
        java.io.PrintStream was = System.out;
        System.setOut(new java.io.PrintStream(said, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            run(CONFIG, out).run();
        } finally {
            System.setOut(was);
        }
        String text = said.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(text.contains("the run stopped") && text.contains(control.toString()), text);
        assertEquals("not json", Files.readString(control), "the control file is left as it was");
        assertFalse(Files.exists(out.resolve(Coordinator.SUMMARY_FILE)), "no summary");
        assertFalse(Files.exists(out.resolve("sharded-checkpoints")), "no new checkpoint: the run did not start over");
    }
}
