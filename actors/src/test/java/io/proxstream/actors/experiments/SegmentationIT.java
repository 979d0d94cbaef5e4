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
            assertTrue(r.contains("| image | distortion | method | α | β | accuracy ¹ | PSNR (dB) | SSIM | seconds |"), r);
            for (String m : List.of("MBO on the clean image (bound)", "MBO on the observation (bound)", "sequential", "sequential-psnr",
                    "joint", "joint-b0")) {
                assertTrue(r.contains("| brick-in-grass | noise σ = 0.30 | " + m + " |"), m + "\n" + r);
                assertTrue(r.contains("| coffee | blur σ = 2.0 px + noise 0.02 | " + m + " |"), m + "\n" + r);
                assertTrue(r.contains("| astronaut | noise σ = 0.30 | " + m + " |"), m + "\n" + r);
            }
            assertTrue(r.contains("Joint energy J (without the graph term) after each round: "), r);
            List<java.util.Map<String, String>> csv = io.proxstream.monitoring.report.CsvTable.read(dir.resolve("runs.csv"));
            assertEquals(3 * 2 * 6, csv.size(), "3 images x 2 distortions x 6 methods, one seed");
            for (java.util.Map<String, String> row : csv) {
                if (row.get("method").equals("joint-b0")) {
                    assertEquals(0, Double.parseDouble(row.get("beta")), "the control runs without coupling");
                }
            }
            // the TV weight chosen by PSNR and by accuracy, both reported; the β = 0 control paired with the joint scheme
            assertTrue(r.contains("| image | distortion | α by accuracy | α by PSNR | β | α trials | β trials |"), r);
            assertTrue(r.contains("| brick-in-grass | noise σ = 0.30 | joint − joint-b0 | "), r);
            assertTrue(r.contains("| brick-in-grass | blur σ = 2.0 px + noise 0.02 | sequential-psnr − sequential | "), r);
            assertTrue(r.contains("agreement with the clean-image segmentation"), r);
            assertTrue(r.contains("| noise σ = 0.20 | "), "the sweep's level: " + r);
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
