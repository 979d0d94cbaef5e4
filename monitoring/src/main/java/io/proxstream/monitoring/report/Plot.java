package io.proxstream.monitoring.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.AxesChartStyler;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The reports' plots, drawn by XChart and written as PNG (headless): line plots of named series on
 * linear or logarithmic axes (log-log for convergence rates), with a legend; histograms and bar charts.
 * Points that cannot be drawn (not finite, or not positive on a log axis) are left out and break the line.
 */
public final class Plot {
    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f),
    };

    private record Series(String name, double[] x, double[] y, boolean dashed) {
    }

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private boolean logX;
    private boolean logY;
    private int width = 960;
    private int height = 560;
    private final List<Series> series = new ArrayList<>();

    /** A line plot. */
    public Plot(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    public Plot logY(boolean on) {
        this.logY = on;
        return this;
    }

    public Plot logX(boolean on) {
        this.logX = on;
        return this;
    }

    public Plot size(int w, int h) {
        this.width = w;
        this.height = h;
        return this;
    }

    public Plot add(String name, double[] x, double[] y) {
        return add(name, x, y, false);
    }

    public Plot add(String name, double[] x, double[] y, boolean dashed) {
        if (x.length != y.length) {
            throw new IllegalArgumentException("series " + name + ": " + x.length + " x values, " + y.length + " y values");
        }
        series.add(new Series(name, x.clone(), y.clone(), dashed));
        return this;
    }

    private boolean drawable(double x, double y) {
        return Double.isFinite(x) && Double.isFinite(y) && (!logX || x > 0) && (!logY || y > 0);
    }

    /** The XChart chart of this plot (series with no drawable point are left out). */
    public XYChart chart() {
        XYChart c = new XYChartBuilder().width(width).height(height).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        style(c.getStyler());
        c.getStyler().setXAxisLogarithmic(logX);
        c.getStyler().setYAxisLogarithmic(logY);
        c.getStyler().setXAxisTickMarkSpacingHint(90);
        c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        int colour = 0;
        double x0 = Double.POSITIVE_INFINITY;
        double x1 = Double.NEGATIVE_INFINITY;
        double y0 = Double.POSITIVE_INFINITY;
        double y1 = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            int drawn = 0;
            for (int i = 0; i < s.x().length; i++) {
                if (drawable(s.x()[i], s.y()[i])) {
                    xs.add(s.x()[i]);
                    ys.add(s.y()[i]);
                    drawn++;
                } else if (!xs.isEmpty() && !Double.isNaN(ys.get(ys.size() - 1)) && Double.isFinite(s.x()[i])
                        && (!logX || s.x()[i] > 0)) {
                    // a gap: XChart breaks the line at NaN
                    xs.add(s.x()[i]);
                    ys.add(Double.NaN);
                }
            }
            if (drawn == 0) {
                continue;
            }
            if (!logX && equallySpaced(xs) && xs.size() > 12) {
                // XChart puts a tick at every point of an equally spaced axis (30 iterations: 30 crowded labels);
                // a trailing gap half a step on makes it choose round ticks instead
                xs.add(xs.get(xs.size() - 1) + (xs.get(1) - xs.get(0)) / 2);
                ys.add(Double.NaN);
            }
            for (int i = 0; i < xs.size(); i++) {
                if (!Double.isNaN(ys.get(i))) {
                    x0 = Math.min(x0, xs.get(i));
                    x1 = Math.max(x1, xs.get(i));
                    y0 = Math.min(y0, ys.get(i));
                    y1 = Math.max(y1, ys.get(i));
                }
            }
            XYSeries xy = c.addSeries(s.name(), xs, ys);
            xy.setMarker(SeriesMarkers.NONE);
            xy.setLineColor(PALETTE[colour++ % PALETTE.length]);
            xy.setLineStyle(s.dashed() ? SeriesLines.DASH_DASH : SeriesLines.SOLID);
        }
        // one legend row if the entries fit the width (about 7 px a character, 40 px a line sample), else one per line
        int legend = 0;
        for (String name : c.getSeriesMap().keySet()) {
            legend += 40 + 7 * name.length();
        }
        c.getStyler().setLegendLayout(legend < width - 40 ? Styler.LegendLayout.Horizontal : Styler.LegendLayout.Vertical);
        // a log axis gets labels at 1..9 x 10^k where 8 and 9 x 10^k (0.05 decade apart) stay readable: on x a decade of
        // 500 px (25 px for a label "80"), on y of 250 px (a text line); else at the decades only
        c.getStyler().setXAxisLogarithmicDecadeOnly(!roomForMinorLabels(x0, x1, width - 120, 500));
        c.getStyler().setYAxisLogarithmicDecadeOnly(!roomForMinorLabels(y0, y1, height - 160, 250));
        // tick labels: plain numbers (0.05, 90, 1,400,000) within 0.001 to 10 000 000, else 2E-4 (XChart places the ticks;
        // a label function would put one at every data point)
        c.getStyler().setXAxisDecimalPattern(pattern(x0, x1));
        c.getStyler().setYAxisDecimalPattern(pattern(y0, y1));
        return c;
    }

    private static boolean roomForMinorLabels(double lo, double hi, int pixels, int perDecade) {
        double decades = Math.log10(hi / lo);
        return lo > 0 && Double.isFinite(decades) && (decades <= 0 || pixels / decades >= perDecade);
    }

    private static boolean equallySpaced(List<Double> xs) {
        if (xs.size() < 3) {
            return false;
        }
        double step = xs.get(1) - xs.get(0);
        for (int i = 2; i < xs.size(); i++) {
            if (Math.abs(xs.get(i) - xs.get(i - 1) - step) > 1e-9 * Math.max(1, Math.abs(step))) {
                return false;
            }
        }
        return true;
    }

    /** The decimal pattern of an axis over [lo, hi]. */
    static String pattern(double lo, double hi) {
        double big = Math.max(Math.abs(lo), Math.abs(hi));
        double small = Math.min(Math.abs(lo), Math.abs(hi));
        boolean plain = big < 1e7 && (small >= 1e-3 || lo <= 0 && hi >= 0 && big >= 1e-2);
        return plain ? "#,##0.###" : "0.##E0";
    }

    /** Renders the plot. */
    public BufferedImage render() {
        return BitmapEncoder.getBufferedImage(chart());
    }

    public void writePng(Path file) throws IOException {
        write(render(), file);
    }

    /** Several plots side by side in one PNG. */
    public static void writePngRow(Path file, Plot... plots) throws IOException {
        List<BufferedImage> images = new ArrayList<>();
        for (Plot p : plots) {
            images.add(p.render());
        }
        write(row(images), file);
    }

    /**
     * A histogram: counts of values in {@code bins} equal bins over [lo, hi) (values outside are not
     * counted), drawn as bars labelled by their bins' lower edges.
     */
    public static CategoryChart histogram(String title, String xLabel, double[] values, double lo, double hi, int bins, int w, int h) {
        if (!(hi > lo) || bins < 1) {
            throw new IllegalArgumentException("histogram needs lo < hi and bins >= 1, got [" + lo + ", " + hi + "), " + bins);
        }
        long[] counts = new long[bins];
        for (double v : values) {
            if (v >= lo && v < hi) {
                counts[Math.min(bins - 1, (int) ((v - lo) / (hi - lo) * bins))]++;
            }
        }
        List<String> labels = new ArrayList<>();
        List<Long> ys = new ArrayList<>();
        for (int b = 0; b < bins; b++) {
            labels.add(String.format(Locale.ROOT, "%.3g", lo + (hi - lo) * b / bins));
            ys.add(counts[b]);
        }
        return bars(title, xLabel, "count", labels, ys, w, h);
    }

    /** A bar chart of one series: a bar per label. */
    public static CategoryChart bars(String title, String xLabel, String yLabel, List<String> labels, List<? extends Number> values,
                                     int w, int h) {
        if (labels.size() != values.size()) {
            throw new IllegalArgumentException(title + ": " + labels.size() + " labels, " + values.size() + " values");
        }
        CategoryChart c = new CategoryChartBuilder().width(w).height(h).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        style(c.getStyler());
        c.getStyler().setLegendVisible(false);
        c.getStyler().setXAxisLabelRotation(labels.size() > 12 ? 90 : 0);
        c.addSeries(yLabel, labels, values).setFillColor(PALETTE[0]);
        return c;
    }

    /** Writes a chart of XChart's as PNG. */
    public static void writePng(org.knowm.xchart.internal.chartpart.Chart<?, ?> chart, Path file) throws IOException {
        write(BitmapEncoder.getBufferedImage(chart), file);
    }

    private static void style(AxesChartStyler s) {
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotBorderVisible(true);
        s.setPlotGridLinesColor(new Color(0xe0e0e0));
        s.setLegendPosition(Styler.LegendPosition.OutsideS);
        s.setLegendLayout(Styler.LegendLayout.Horizontal);
        s.setLegendBorderColor(new Color(0xc0c0c0));
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        s.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        s.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        s.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        s.setAntiAlias(true);
    }

    private static BufferedImage row(List<BufferedImage> images) {
        int w = 0;
        int h = 0;
        for (BufferedImage i : images) {
            w += i.getWidth();
            h = Math.max(h, i.getHeight());
        }
        BufferedImage out = new BufferedImage(Math.max(1, w), Math.max(1, h), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        g.setStroke(new BasicStroke(1f));
        int x = 0;
        for (BufferedImage i : images) {
            g.drawImage(i, x, 0, null);
            x += i.getWidth();
        }
        g.dispose();
        return out;
    }

    private static void write(BufferedImage image, Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        if (!ImageIO.write(image, "png", file.toFile())) {
            throw new IOException("no PNG writer for " + file);
        }
    }
}
