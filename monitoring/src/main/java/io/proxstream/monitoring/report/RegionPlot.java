package io.proxstream.monitoring.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A 2-D partition drawn as coloured cells (one colour per region id, boundaries darkened) with
 * point sets on top: for power diagrams of SAEs, Voronoi cells of k-means, and their data.
 */
public final class RegionPlot {
    private record Points(String name, double[] x, double[] y, Color colour, boolean cross) {
    }

    private final String title;
    private final int[] regions;
    private final int width;
    private final int height;
    private final double x0;
    private final double x1;
    private final double y0;
    private final double y1;
    private final List<Points> points = new ArrayList<>();

    /**
     * @param regions region id per pixel, {@code height × width}, row 0 at {@code y1} (the top)
     */
    public RegionPlot(String title, int[] regions, int width, int height, double x0, double x1, double y0, double y1) {
        if (regions.length != width * height) {
            throw new IllegalArgumentException("raster has " + regions.length + " cells, not " + width + "x" + height);
        }
        this.title = title;
        this.regions = regions.clone();
        this.width = width;
        this.height = height;
        this.x0 = x0;
        this.x1 = x1;
        this.y0 = y0;
        this.y1 = y1;
    }

    /** Adds points drawn as dots ({@code cross = false}) or crosses. */
    public RegionPlot points(String name, double[] x, double[] y, Color colour, boolean cross) {
        points.add(new Points(name, x.clone(), y.clone(), colour, cross));
        return this;
    }

    /** A light colour for region {@code id} (hues spread by the golden angle). */
    static Color regionColour(int id) {
        float hue = (float) ((id * 0.618033988749895) % 1.0);
        return Color.getHSBColor(hue, 0.35f, 0.97f);
    }

    public BufferedImage render() {
        int left = 50;
        int top = 34;
        int right = 150;
        int bottom = 34;
        BufferedImage img = new BufferedImage(left + width + right, top + height + bottom, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        for (int r = 0; r < height; r++) {
            for (int c = 0; c < width; c++) {
                int id = regions[r * width + c];
                boolean edge = (c + 1 < width && regions[r * width + c + 1] != id) || (r + 1 < height && regions[(r + 1) * width + c] != id);
                Color col = edge ? new Color(90, 90, 90) : regionColour(id);
                img.setRGB(left + c, top + r, col.getRGB());
            }
        }
        g.setColor(Color.DARK_GRAY);
        g.drawRect(left, top, width, height);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, left, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawString(fmt(x0), left, top + height + 16);
        g.drawString(fmt(x1), left + width - 24, top + height + 16);
        g.drawString(fmt(y1), 6, top + 10);
        g.drawString(fmt(y0), 6, top + height);
        int ly = top + 12;
        for (Points p : points) {
            g.setColor(p.colour());
            for (int i = 0; i < p.x().length; i++) {
                double px = left + (p.x()[i] - x0) / (x1 - x0) * width;
                double py = top + (y1 - p.y()[i]) / (y1 - y0) * height;
                if (p.cross()) {
                    g.setStroke(new BasicStroke(2.5f));
                    g.draw(new Line2D.Double(px - 6, py - 6, px + 6, py + 6));
                    g.draw(new Line2D.Double(px - 6, py + 6, px + 6, py - 6));
                } else {
                    g.fill(new Ellipse2D.Double(px - 3, py - 3, 6, 6));
                }
            }
            g.setStroke(new BasicStroke(1f));
            int lx = left + width + 14;
            if (p.cross()) {
                g.drawLine(lx, ly - 8, lx + 8, ly);
                g.drawLine(lx, ly, lx + 8, ly - 8);
            } else {
                g.fillOval(lx + 1, ly - 7, 6, 6);
            }
            g.setColor(Color.BLACK);
            g.drawString(p.name(), lx + 14, ly);
            ly += 18;
        }
        g.dispose();
        return img;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.2g", v);
    }

    public void writePng(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(render(), "png", file.toFile());
    }

    /** Several plots side by side in one PNG. */
    public static void writePngRow(Path file, RegionPlot... plots) throws IOException {
        List<BufferedImage> imgs = new ArrayList<>();
        int w = 0;
        int h = 0;
        for (RegionPlot p : plots) {
            BufferedImage b = p.render();
            imgs.add(b);
            w += b.getWidth();
            h = Math.max(h, b.getHeight());
        }
        BufferedImage all = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = all.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        int x = 0;
        for (BufferedImage b : imgs) {
            g.drawImage(b, x, 0, null);
            x += b.getWidth();
        }
        g.dispose();
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(all, "png", file.toFile());
    }
}
