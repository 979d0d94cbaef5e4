package io.proxstream.actors.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.format.Npy;
import io.proxstream.protocol.format.Png;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.progress.Progress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageOutputsTest {

    private static ImagePipeline.Result result(String id, double psnr, double ssim, List<Progress> trace) {
        float[] truth = Phantoms.randomEllipses(12, id.hashCode());
        return new ImagePipeline.Result(new ImageTask(id, truth, 12, 12, 0), "tv-pdhg", new float[5 * 7], new int[] {5, 7},
                truth.clone(), 17, false, 0.5, psnr, ssim, trace);
    }

    @Test
    void writesImagesTheCsvAndMeanAndStandardDeviation(@TempDir Path dir) throws Exception {
        List<Progress> trace = new ArrayList<>();
        for (int k = 1; k <= 30; k++) {
            trace.add(new Progress(k, 100.0 / k + 1, Map.of("criticalResidual", 1.0 / k, "primalResidual", 2.0 / k)));
        }
        try (ImageOutputs out = new ImageOutputs(dir, "ct", "results.csv")) {
            out.write(result("a", 30, 0.9, trace), true);
            out.write(result("b", 34, 0.8, List.of()), false);
            // mean 32 ± sample std sqrt(8) = 2.83; SSIM 0.85 ± 0.0707
            assertEquals("| ct | tv-pdhg | 2 | 32.00 ± 2.83 | 0.8500 ± 0.0707 | 0.50 |\n", out.summaryTable("ct"));
        }
        List<String> csv = Files.readAllLines(dir.resolve("results.csv"));
        assertEquals("id,problem,method,psnr,ssim,iterations,stopped_early,seconds", csv.get(0));
        assertEquals(3, csv.size());
        assertTrue(csv.get(1).startsWith("a,ct,tv-pdhg,30") && csv.get(1).contains(",17,false,"), csv.get(1));
        Png.Image truth = Png.readGrey(dir.resolve("a-truth.png"));
        assertEquals(12, truth.h());
        assertEquals(12, truth.w());
        assertEquals(5, Png.readGrey(dir.resolve("a-data.png")).h());
        assertArrayEquals(result("a", 0, 0, List.of()).x(), Npy.readAll(dir.resolve("a-tv-pdhg.npy")));
        assertTrue(Files.size(dir.resolve("a-tv-pdhg-convergence.png")) > 1000);
        assertTrue(Files.notExists(dir.resolve("b-truth.png")), "images only when asked for");
    }

    @Test
    void forwardModelIsSeededPerImageAndRejectsBadSpecifications() {
        ForwardModel m = new ForwardModel("ct", "sparse:20", 0, 1, "gaussian:2", 0.02, Fbp.Filter.HANN, 3);
        var a = m.operator(16, 16);
        ImageTask t0 = new ImageTask("x", Phantoms.sheppLogan(16), 16, 16, 0);
        ImageTask t1 = new ImageTask("x", Phantoms.sheppLogan(16), 16, 16, 1);
        assertArrayEquals(m.measure(a, t0), m.measure(a, t0), "the same image and index give the same data");
        assertNotEquals(m.measure(a, t0)[40], m.measure(a, t1)[40], "another index draws other noise");
        assertEquals(20, a.rangeShape()[0]);

        String[][] bad = {
            {"ct", "sparse:0", "gaussian:2", "angle set 'sparse:0'"},
            {"ct", "limited:0-120", "gaussian:2", "angle set 'limited:0-120' is not full:N, sparse:N or limited:FROM-TO:N"},
            {"ct", "spiral:9", "gaussian:2", "angle set 'spiral:9'"},
            {"deblur", "full:1", "gaussian:x", "blur 'gaussian:x' is not gaussian:SIGMA"},
            {"deblur", "full:1", "box:4", "blur 'box:4'"},
            {"mri", "full:1", "gaussian:1", "unknown problem 'mri'; valid: ct, deblur, denoise"},
        };
        for (String[] b : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new ForwardModel(b[0], b[1], 0, 1, b[2], 0.01, Fbp.Filter.HANN, 1));
            assertTrue(e.getMessage().contains(b[3]), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ForwardModel("ct", "full:10", 0, 1, "gaussian:1", Double.NaN, Fbp.Filter.HANN, 1));
        assertTrue(e.getMessage().contains("noise"), e.getMessage());
    }

    @Test
    void naturalImagesAreCutToTheirCentralSquareAndBoxAveraged() {
        // 4 x 6 image: central square is columns 1..4; down to 2 x 2 averages 2 x 2 blocks
        float[] x = new float[4 * 6];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 6; j++) {
                x[i * 6 + j] = 10 * i + j;
            }
        }
        float[] y = ImageSources.squareResample(x, 4, 6, 2);
        assertArrayEquals(new float[] {(1 + 2 + 11 + 12) / 4f, (3 + 4 + 13 + 14) / 4f, (21 + 22 + 31 + 32) / 4f, (23 + 24 + 33 + 34) / 4f},
                y, 1e-6f);
        assertThrows(IllegalArgumentException.class, () -> ImageSources.squareResample(x, 4, 6, 5));
    }
}
