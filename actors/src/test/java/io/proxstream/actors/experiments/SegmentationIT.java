package io.proxstream.actors.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SegmentationIT {

    @Test
    void theQuickExperimentWritesItsTableCsvAndPictures(@TempDir Path dir) throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "segmentation-it");
        try {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            new SegmentationExperiment().run(true, dir, new PrintStream(log, true), system);
            String r = Files.readString(dir.resolve("report.md"));
            assertTrue(r.contains("| image | distortion | method | accuracy | PSNR (dB) | SSIM | seconds |"), r);
            for (String m : List.of("MBO on the clean image (bound)", "MBO on the observation (bound)", "sequential", "joint")) {
                assertTrue(r.contains("| brick-in-grass | noise σ = 0.30 | " + m + " |"), m + "\n" + r);
                assertTrue(r.contains("| coffee | blur σ = 2.0 px + noise 0.02 | " + m + " |"), m + "\n" + r);
                assertTrue(r.contains("| astronaut | noise σ = 0.30 | " + m + " |"), m + "\n" + r);
            }
            assertTrue(r.contains("Joint energy J (without the graph term) after each round: "), r);
            List<java.util.Map<String, String>> csv = io.proxstream.monitoring.report.CsvTable.read(dir.resolve("runs.csv"));
            assertEquals(3 * 2 * 4, csv.size(), "3 images x 2 distortions x 4 methods, one seed");
            for (java.util.Map<String, String> row : csv) {
                double acc = Double.parseDouble(row.get("accuracy"));
                assertTrue(acc > 0.3 && acc <= 1, row.toString());
            }
            assertTrue(Files.size(dir.resolve("coffee-noise-joint-segmentation.png")) > 1000);
        } finally {
            system.terminate();
        }
    }
}
