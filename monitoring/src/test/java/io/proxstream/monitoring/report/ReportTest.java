package io.proxstream.monitoring.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {
    @TempDir
    Path tmp;

    @Test
    void csvRowsAreFlushedAndQuoted() throws Exception {
        Path f = tmp.resolve("m.csv");
        try (CsvTable t = new CsvTable(f, List.of("samples", "mse", "note"))) {
            t.row(10L, 0.5, "a,b");
            assertEquals(List.of("samples,mse,note", "10,0.50000000,\"a,b\""), Files.readAllLines(f), "visible before close");
            assertThrows(IllegalArgumentException.class, () -> t.row(1L));
        }
    }

    @Test
    void plotDrawsEachSeriesInItsColour() throws Exception {
        double[] x = {0, 1, 2, 3, 4};
        Path f = tmp.resolve("p.png");
        new LinePlot("loss", "samples", "mse").logY(true)
                .add("pam", x, new double[] {1, 0.5, 0.2, 0.1, 0.05})
                .add("adam", x, new double[] {1, 0.8, Double.NaN, 0.4, 0.3})
                .writePng(f);
        BufferedImage img = ImageIO.read(f.toFile());
        assertEquals(960, img.getWidth());
        int blue = 0;
        int red = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int xx = 0; xx < img.getWidth(); xx++) {
                int rgb = img.getRGB(xx, y) & 0xffffff;
                blue += rgb == 0x1f77b4 ? 1 : 0;
                red += rgb == 0xd62728 ? 1 : 0;
            }
        }
        assertTrue(blue > 200 && red > 200, "series pixels: blue " + blue + ", red " + red);
    }

    @Test
    void theLegendGoesToTheCornerNoCurveCrosses() {
        // a rising curve from bottom left to top right leaves the bottom-right corner free
        java.awt.geom.Line2D rising = new java.awt.geom.Line2D.Double(0, 400, 600, 0);
        java.awt.Shape stroked = new java.awt.BasicStroke(8f).createStrokedShape(rising);
        int[][] corners = {{450, 10}, {450, 340}, {10, 10}, {10, 340}};
        assertEquals(1, LinePlot.quietestBox(List.of(stroked), corners, 140, 50));
        // a falling one leaves the top right free, the first choice
        java.awt.Shape falling = new java.awt.BasicStroke(8f).createStrokedShape(new java.awt.geom.Line2D.Double(0, 0, 600, 400));
        assertEquals(0, LinePlot.quietestBox(List.of(falling), corners, 140, 50));
        assertEquals(0, LinePlot.quietestBox(List.of(), corners, 140, 50), "with no curves the first choice wins");
    }

    @Test
    void ticksAreRoundNumbers() {
        assertArrayEquals(new double[] {0, 0.2, 0.4, 0.6, 0.8, 1.0}, LinePlot.ticks(0, 1, 6), 1e-12);
        assertArrayEquals(new double[] {0, 20000, 40000, 60000}, LinePlot.ticks(0, 65000, 4), 1e-9);
        assertEquals("20k", LinePlot.number(20000));
        assertEquals("0.25", LinePlot.number(0.25));
        assertEquals("1e-4", LinePlot.number(1e-4));
        assertEquals("2.5e6", LinePlot.number(2.5e6));
    }
}
