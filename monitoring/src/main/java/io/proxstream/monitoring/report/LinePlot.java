package io.proxstream.monitoring.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A line chart rendered to PNG with Java2D (headless): several named series, linear or
 * logarithmic y axis, 1-2-5 ticks, legend. Non-finite points (and non-positive ones on a log
 * axis) are skipped and break the line.
 */
public final class LinePlot {
    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f),
    };

    private record Series(String name, double[] x, double[] y, boolean dashed) {
    }

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private boolean logY;
    private int width = 960;
    private int height = 560;
    private final List<Series> series = new ArrayList<>();

    public LinePlot(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    public LinePlot logY(boolean on) {
        this.logY = on;
        return this;
    }

    public LinePlot size(int w, int h) {
        this.width = w;
        this.height = h;
        return this;
    }

    public LinePlot add(String name, double[] x, double[] y) {
        return add(name, x, y, false);
    }

    public LinePlot add(String name, double[] x, double[] y, boolean dashed) {
        if (x.length != y.length) {
            throw new IllegalArgumentException("series " + name + ": " + x.length + " x values, " + y.length + " y values");
        }
        series.add(new Series(name, x.clone(), y.clone(), dashed));
        return this;
    }

    private boolean usable(double x, double y) {
        return Double.isFinite(x) && Double.isFinite(y) && (!logY || y > 0);
    }

    /** Renders the chart. */
    public BufferedImage render() {
        double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY;
        double y0 = Double.POSITIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x.length; i++) {
                if (usable(s.x[i], s.y[i])) {
                    double y = logY ? Math.log10(s.y[i]) : s.y[i];
                    x0 = Math.min(x0, s.x[i]);
                    x1 = Math.max(x1, s.x[i]);
                    y0 = Math.min(y0, y);
                    y1 = Math.max(y1, y);
                }
            }
        }
        if (!(x0 <= x1)) {
            x0 = 0;
            x1 = 1;
            y0 = 0;
            y1 = 1;
        }
        if (x1 == x0) {
            x1 = x0 + 1;
        }
        if (y1 == y0) {
            y0 -= 0.5;
            y1 += 0.5;
        }
        double pad = 0.05 * (y1 - y0);
        y0 -= pad;
        y1 += pad;
        if (!logY && y0 < 0 && y0 + pad >= 0) {
            y0 = 0;
        }

        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
        g.setFont(font);
        FontMetrics fm = g.getFontMetrics();
        int left = 86;
        int right = 24;
        int top = 44;
        int bottom = 58;
        int pw = width - left - right;
        int ph = height - top - bottom;

        g.setColor(Color.BLACK);
        g.setFont(font.deriveFont(Font.BOLD, 15f));
        FontMetrics tfm = g.getFontMetrics();
        g.drawString(title, (width - tfm.stringWidth(title)) / 2, 26);
        g.setFont(font);

        // grid and ticks
        g.setStroke(new BasicStroke(1f));
        double[] xt = ticks(x0, x1, 8);
        for (double t : xt) {
            int px = left + (int) Math.round((t - x0) / (x1 - x0) * pw);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(px, top, px, top + ph);
            g.setColor(Color.DARK_GRAY);
            String label = number(t);
            g.drawString(label, px - fm.stringWidth(label) / 2, top + ph + 18);
        }
        double[] yt = logY ? logTicks(y0, y1) : ticks(y0, y1, 7);
        for (double t : yt) {
            int py = top + ph - (int) Math.round((t - y0) / (y1 - y0) * ph);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(left, py, left + pw, py);
            g.setColor(Color.DARK_GRAY);
            String label = logY ? number(Math.pow(10, t)) : number(t);
            g.drawString(label, left - 8 - fm.stringWidth(label), py + 5);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, pw, ph);
        g.drawString(xLabel, left + (pw - fm.stringWidth(xLabel)) / 2, height - 16);
        Graphics2D gy = (Graphics2D) g.create();
        gy.rotate(-Math.PI / 2);
        gy.drawString(yLabel + (logY ? " (log scale)" : ""), -(top + ph / 2 + fm.stringWidth(yLabel) / 2), 18);
        gy.dispose();

        // series
        List<Shape> drawn = new ArrayList<>();
        g.setClip(left + 1, top + 1, pw - 1, ph - 1);
        for (int s = 0; s < series.size(); s++) {
            Series sr = series.get(s);
            g.setColor(PALETTE[s % PALETTE.length]);
            g.setStroke(sr.dashed
                    ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {7f, 5f}, 0f)
                    : new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            Path2D path = new Path2D.Double();
            boolean pen = false;
            int points = 0;
            for (int i = 0; i < sr.x.length; i++) {
                if (!usable(sr.x[i], sr.y[i])) {
                    pen = false;
                    continue;
                }
                double y = logY ? Math.log10(sr.y[i]) : sr.y[i];
                double px = left + (sr.x[i] - x0) / (x1 - x0) * pw;
                double py = top + ph - (y - y0) / (y1 - y0) * ph;
                if (pen) {
                    path.lineTo(px, py);
                } else {
                    path.moveTo(px, py);
                    pen = true;
                }
                points++;
            }
            g.draw(path);
            drawn.add(new BasicStroke(8f).createStrokedShape(path));
            if (points <= 30) {
                for (int i = 0; i < sr.x.length; i++) {
                    if (usable(sr.x[i], sr.y[i])) {
                        double y = logY ? Math.log10(sr.y[i]) : sr.y[i];
                        int px = (int) Math.round(left + (sr.x[i] - x0) / (x1 - x0) * pw);
                        int py = (int) Math.round(top + ph - (y - y0) / (y1 - y0) * ph);
                        g.fillOval(px - 3, py - 3, 7, 7);
                    }
                }
            }
        }
        g.setClip(null);

        // legend
        if (series.size() > 1 || (series.size() == 1 && !series.get(0).name.isEmpty())) {
            int lw = 0;
            for (Series sr : series) {
                lw = Math.max(lw, fm.stringWidth(sr.name));
            }
            // the corner whose box covers the fewest curves (top right first on ties)
            int bw = lw + 56;
            int bh = series.size() * 20 + 8;
            int[][] corners = {{left + pw - bw - 4, top + 6}, {left + pw - bw - 4, top + ph - bh - 6},
                {left + 6, top + 6}, {left + 6, top + ph - bh - 6}};
            int best = quietestBox(drawn, corners, bw, bh);
            int lx = corners[best][0] + 8;
            int ly = corners[best][1] + 4;
            g.setColor(new Color(255, 255, 255, 230));
            g.fillRect(lx - 8, ly - 4, lw + 56, series.size() * 20 + 8);
            g.setColor(Color.GRAY);
            g.drawRect(lx - 8, ly - 4, lw + 56, series.size() * 20 + 8);
            for (int s = 0; s < series.size(); s++) {
                g.setColor(PALETTE[s % PALETTE.length]);
                g.setStroke(new BasicStroke(3f));
                g.drawLine(lx, ly + 10 + s * 20, lx + 30, ly + 10 + s * 20);
                g.setColor(Color.BLACK);
                g.drawString(series.get(s).name, lx + 38, ly + 15 + s * 20);
            }
        }
        g.dispose();
        return img;
    }

    /** Index of the first box (x, y of each; all {@code w × h}) that the fewest of {@code curves} cross. */
    static int quietestBox(List<Shape> curves, int[][] boxes, int w, int h) {
        int best = 0;
        int bestHits = Integer.MAX_VALUE;
        for (int c = 0; c < boxes.length; c++) {
            int hits = 0;
            for (Shape sh : curves) {
                hits += sh.intersects(boxes[c][0], boxes[c][1], w, h) ? 1 : 0;
            }
            if (hits < bestHits) {
                bestHits = hits;
                best = c;
            }
        }
        return best;
    }

    /** Renders and writes a PNG. */
    public void writePng(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(render(), "png", file.toFile());
    }

    /** Renders several charts side by side (each at its own size) into one PNG. */
    public static void writePngRow(Path file, LinePlot... plots) throws IOException {
        List<BufferedImage> panels = new ArrayList<>();
        int w = 0;
        int h = 0;
        for (LinePlot p : plots) {
            BufferedImage b = p.render();
            panels.add(b);
            w += b.getWidth();
            h = Math.max(h, b.getHeight());
        }
        BufferedImage img = new BufferedImage(Math.max(1, w), Math.max(1, h), BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        int x = 0;
        for (BufferedImage b : panels) {
            g.drawImage(b, x, 0, null);
            x += b.getWidth();
        }
        g.dispose();
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    static double[] ticks(double lo, double hi, int target) {
        double span = hi - lo;
        double raw = span / target;
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = mag;
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * mag >= raw) {
                step = m * mag;
                break;
            }
        }
        List<Double> t = new ArrayList<>();
        for (double v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) {
            t.add(Math.abs(v) < 1e-12 * step ? 0.0 : v);
        }
        return t.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static double[] logTicks(double lo, double hi) {
        List<Double> t = new ArrayList<>();
        int span = (int) Math.ceil(hi - lo);
        int every = Math.max(1, span / 8);
        for (int e = (int) Math.ceil(lo); e <= Math.floor(hi); e += every) {
            t.add((double) e);
        }
        if (t.size() < 3) {
            int[] mults = hi - lo > 0.7 ? new int[] {2, 5} : new int[] {2, 3, 4, 5, 6, 7, 8, 9};
            for (int e = (int) Math.floor(lo); e <= Math.ceil(hi); e++) {
                for (int m : mults) {
                    double v = e + Math.log10(m);
                    if (v >= lo && v <= hi) {
                        t.add(v);
                    }
                }
            }
            t.sort(Double::compare);
        }
        return t.stream().mapToDouble(Double::doubleValue).toArray();
    }

    static String number(double v) {
        double a = Math.abs(v);
        if (v == 0) {
            return "0";
        }
        if (a >= 1e6 || a < 1e-3) {
            String[] parts = String.format(Locale.ROOT, "%.2e", v).split("e");
            String mant = parts[0].replaceAll("0+$", "").replaceAll("\\.$", "");
            int exp = Integer.parseInt(parts[1]);
            return mant + "e" + exp;
        }
        if (a >= 1000) {
            String s = String.format(Locale.ROOT, "%.0f", v);
            return a >= 10_000 && v % 1000 == 0 ? String.format(Locale.ROOT, "%.0fk", v / 1000) : s;
        }
        String s = String.format(Locale.ROOT, "%.4g", v);
        if (s.contains(".")) {
            s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return s;
    }
}
