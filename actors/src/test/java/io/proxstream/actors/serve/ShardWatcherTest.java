package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.config.RunConfig;
import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.protocol.format.Npy;
import io.proxstream.solvers.data.PlantedDictionary;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardWatcherTest {
    @TempDir
    Path tmp;

    @Test
    void shardsAreFedInOrderAndBadOnesSetAsideWithTheReason() throws Exception {
        Path watch = tmp.resolve("watch");
        ServeConfig cfg = new ServeConfig("127.0.0.1", 0, -1, tmp.resolve("runs").toString(), watch.toString(), 1 << 20, 500, 100);
        PlantedDictionary gen = new PlantedDictionary(new PlantedDictionary.Options(16, 32, 5, 0.99, 0, 1));
        try (ServeServer s = ServeServer.start(cfg)) {
            RunConfig rc = RunConfig.defaults("w", 16);
            s.create(new RunConfig("w", 16, rc.sae(), rc.trainer(), 64, rc.checkpointEvery(), 2, 256, rc.deadWindow(), 1 << 20, 1, "", RunConfig.DEFAULT_MAX_ABS));
            Path dir = watch.resolve("w");
            Files.createDirectories(dir);
            // written under a temporary name, then renamed: the watcher only sees whole shards
            for (int i = 0; i < 3; i++) {
                Path part = dir.resolve(".shard" + i + ".npy.tmp");
                Npy.write(part, gen.sample(640, i).data(), 640, 16);
                Files.move(part, dir.resolve("shard" + i + ".npy"), StandardCopyOption.ATOMIC_MOVE);
            }
            Npy.write(dir.resolve("wide.npy"), new float[10 * 17], 10, 17);
            Path good = tmp.resolve("g.npy");
            Npy.write(good, gen.sample(100, 9).data(), 100, 16);
            byte[] b = Files.readAllBytes(good);
            Files.write(dir.resolve("cut.npy"), java.util.Arrays.copyOf(b, b.length - 100));

            // the ledger: every 256th valid row is held out for latent health (the default), and the rows short of a
            // full minibatch of 64 wait for more data: (1920 - 7) = 29 batches of 64 + 57 waiting
            long end = System.currentTimeMillis() + 30_000;
            while (System.currentTimeMillis() < end && (s.runs().get("w").status().samples() < 29 * 64
                    || !Files.exists(dir.resolve("rejected/cut.npy")) || !Files.exists(dir.resolve("rejected/wide.npy")))) {
                Thread.sleep(50);
            }
            assertEquals(7, s.runs().get("w").status().heldOutRows());
            assertEquals(29 * 64, s.runs().get("w").status().samples());
            for (int i = 0; i < 3; i++) {
                assertTrue(Files.exists(dir.resolve("done/shard" + i + ".npy")), "shard " + i + " done");
            }
            String wide = Files.readString(dir.resolve("rejected/wide.npy.reason.txt"));
            assertTrue(wide.contains("width 17"), wide);
            String cut = Files.readString(dir.resolve("rejected/cut.npy.reason.txt"));
            assertTrue(cut.contains("truncated"), cut);
            assertEquals(2, s.runs().get("w").status().rejectedBatches());
        }
    }
}
