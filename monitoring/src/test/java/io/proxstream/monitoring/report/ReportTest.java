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
            t.row(-3L, Double.NaN, "say \"hi\"");
        }
        assertEquals(List.of("samples,mse,note", "10,0.50000000,\"a,b\"", "-3,NaN,\"say \"\"hi\"\"\""), Files.readAllLines(f));
        var rows = CsvTable.read(f);
        assertEquals(2, rows.size());
        assertEquals(java.util.Map.of("samples", "10", "mse", "0.50000000", "note", "a,b"), rows.get(0));
        assertEquals("say \"hi\"", rows.get(1).get("note"));
    }

    @Test
    void readingStopsAtALineCutShort() throws Exception {
        Path f = tmp.resolve("torn.csv");
        Files.writeString(f, "a,b,c\n1,2,3\n4,5,6\n7,8");
        assertEquals(List.of(java.util.Map.of("a", "1", "b", "2", "c", "3"), java.util.Map.of("a", "4", "b", "5", "c", "6")),
                CsvTable.read(f));
        Files.writeString(f, "a,b\n1,\"unclosed\n");
        assertEquals(List.of(), CsvTable.read(f));
        Files.writeString(f, "");
        assertEquals(List.of(), CsvTable.read(f));
    }

    @Test
    void plotDrawsEachSeriesInItsColour() throws Exception {
        double[] x = {0, 1, 2, 3, 4};
        Path f = tmp.resolve("p.png");
        new Plot("loss", "samples", "mse").logY(true)
                .add("pam", x, new double[] {1, 0.5, 0.2, 0.1, 0.05})
                .add("adam", x, new double[] {1, 0.8, Double.NaN, 0.4, 0.3})
                .writePng(f);
        BufferedImage img = ImageIO.read(f.toFile());
        assertEquals(960, img.getWidth());
        assertEquals(560, img.getHeight());
        int blue = 0;
        int red = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int xx = 0; xx < img.getWidth(); xx++) {
                int rgb = img.getRGB(xx, y) & 0xffffff;
                blue += rgb == 0x1f77b4 ? 1 : 0;
                red += rgb == 0xd62728 ? 1 : 0;
            }
        }
        assertTrue(blue > 200 && red > 150, "series pixels: blue " + blue + ", red " + red);
    }

    @Test
    void logAxesLeaveOutWhatTheyCannotDrawAndBreakTheLineThere() throws Exception {
        double[] x = {0, 1, 10, 100, 1000};
        Plot p = new Plot("rate", "iteration k", "residual").logX(true).logY(true)
                .add("residual", x, new double[] {5, 1, 0.1, -1, 0.001})
                .add("O(1/k)", x, new double[] {Double.POSITIVE_INFINITY, 1, 0.1, 0.01, 0.001}, true)
                .add("nothing drawable", x, new double[] {0, 0, 0, 0, 0});
        var chart = p.chart();
        assertTrue(chart.getStyler().isXAxisLogarithmic() && chart.getStyler().isYAxisLogarithmic());
        assertEquals(2, chart.getSeriesMap().size(), "a series with no drawable point is left out");
        double[] ys = chart.getSeriesMap().get("residual").getYData();
        double[] xs = chart.getSeriesMap().get("residual").getXData();
        // x = 0 cannot be drawn on a log axis, y = -1 cannot either: the line breaks (NaN) at x = 100
        assertArrayEquals(new double[] {1, 10, 100, 1000}, xs, 0);
        assertEquals(1, ys[0]);
        assertTrue(Double.isNaN(ys[2]), "a gap where y <= 0");
        assertEquals(0.001, ys[3]);
        Path f = tmp.resolve("loglog.png");
        Plot.writePngRow(f, p, new Plot("linear", "x", "y").add("line", x, x));
        BufferedImage img = ImageIO.read(f.toFile());
        assertEquals(2 * 960, img.getWidth(), "two plots side by side");
    }

    @Test
    void aHistogramCountsEachValueInItsBin() throws Exception {
        double[] v = {-7, -6.5, -6, -5.2, -5.0, -4.99, -1, -0.5, 0, 3};
        var h = Plot.histogram("density", "log10 firing frequency", v, -7, -1, 6, 640, 400);
        var series = h.getSeriesMap().values().iterator().next();
        List<Long> counts = new java.util.ArrayList<>();
        series.getYData().forEach(n -> counts.add(n.longValue()));
        // bins [-7,-6), [-6,-5), [-5,-4), [-4,-3), [-3,-2), [-2,-1); -1, -0.5, 0 and 3 are outside
        assertEquals(List.of(2L, 2L, 2L, 0L, 0L, 0L), counts);
        assertEquals(List.of("-7.00", "-6.00", "-5.00", "-4.00", "-3.00", "-2.00"), series.getXData());
        Path f = tmp.resolve("h.png");
        Plot.writePng(h, f);
        assertEquals(640, ImageIO.read(f.toFile()).getWidth());
        assertThrows(IllegalArgumentException.class, () -> Plot.histogram("x", "x", v, 1, 1, 3, 10, 10));
    }

    @Test
    void tickLabelsArePlainNumbersUnlessTheRangeNeedsExponents() {
        assertEquals("#,##0.###", Plot.pattern(0, 100_000));
        assertEquals("#,##0.###", Plot.pattern(0.05, 0.8));
        assertEquals("#,##0.###", Plot.pattern(-0.035, 0.02), "a range across zero");
        assertEquals("0.##E0", Plot.pattern(1e-5, 1e-3));
        assertEquals("#,##0.###", Plot.pattern(0, 2e6));
        assertEquals("0.##E0", Plot.pattern(0, 2e7));
    }
}
