package io.proxstream.actors.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.format.Png;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SegmentCommandTest {

    /** A colour picture of two flat regions (left red, right blue) with a little texture. */
    private static Path twoRegions(Path dir) throws Exception {
        int h = 40;
        int w = 48;
        float[] planes = new float[3 * h * w];
        java.util.SplittableRandom r = new java.util.SplittableRandom(2);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                boolean left = x < w / 2 + (y / 8) % 3;
                float jitter = (float) (0.05 * r.nextDouble());
                planes[y * w + x] = (left ? 0.8f : 0.2f) + jitter;
                planes[h * w + y * w + x] = 0.3f + jitter;
                planes[2 * h * w + y * w + x] = (left ? 0.2f : 0.8f) + jitter;
            }
        }
        Path file = dir.resolve("two.png");
        Png.writeRgb(file, planes, h, w);
        return file;
    }

    private static int run(List<String> args, ByteArrayOutputStream out, ByteArrayOutputStream err) {
        return Main.run(args, new PrintStream(out, true), new PrintStream(err, true));
    }

    @Test
    void segmentsAColourImageWithEveryMethodAndWritesItsOutputs(@TempDir Path dir) throws Exception {
        Path img = twoRegions(dir);
        Path runDir = dir.resolve("run");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run(List.of("segment", "--input", img.toString(), "--labels", "0:2,2,8,8;1:40,30,46,38", "--method", "all",
                "--distortion", "noise:0.2", "--samples", "60", "--eigenpairs", "12", "--patch", "1", "--outer", "2", "--out",
                runDir.toString()), out, err);
        assertEquals(0, code, out + "\n" + err);
        for (String m : List.of("clean", "mbo", "sequential", "joint")) {
            assertTrue(Files.size(runDir.resolve(m + "-segmentation.png")) > 0, m);
            assertTrue(Files.exists(runDir.resolve(m + "-labels.png")), m);
        }
        assertTrue(Files.exists(runDir.resolve("joint-reconstruction.png")));
        List<String> csv = Files.readAllLines(runDir.resolve("results.csv"));
        assertEquals(5, csv.size(), String.join("\n", csv));
        String report = Files.readString(runDir.resolve("report.md"));
        assertTrue(report.contains("| joint |") && report.contains("| sequential |"), report);
        // the clean picture's two regions are found: its label map matches the colour split on most pixels
        Png.Image labels = Png.readGrey(runDir.resolve("clean-labels.png"));
        int agree = 0;
        for (int y = 0; y < 40; y++) {
            for (int x = 0; x < 48; x++) {
                boolean left = x < 24 + (y / 8) % 3;
                agree += (labels.data()[y * 48 + x] < 0.5f) == left ? 1 : 0;
            }
        }
        assertTrue(agree > 0.95 * 40 * 48, "clean segmentation agrees on " + agree + " of " + 40 * 48 + " pixels");
    }

    @Test
    void badLabelsAreRefusedWithTheReason(@TempDir Path dir) throws Exception {
        Path img = twoRegions(dir);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run(List.of("segment", "--input", img.toString(), "--labels", "0:2,2,8,8;1:40,30,60,38", "--out", dir.resolve("r").toString()),
                out, err);
        assertEquals(2, code);
        assertTrue(err.toString().contains("rectangle 1:40,30,60,38 lies outside the 48x40 image"), err.toString());
        err.reset();
        code = run(List.of("segment", "--input", img.toString(), "--labels", "0:2,2,8,8;2:40,30,46,38", "--out", dir.resolve("r").toString()),
                out, err);
        assertEquals(2, code);
        assertTrue(err.toString().contains("class 1 has no labelled pixel"), err.toString());
        err.reset();
        code = run(List.of("segment", "--input", img.toString(), "--out", dir.resolve("r").toString()), out, err);
        assertTrue(err.toString().contains("--labels is required"), err.toString());
    }
}
