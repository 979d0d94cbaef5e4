package io.proxstream.monitoring.report;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * A row-major grid of grey images with captions, rendered to PNG: for side-by-side comparisons of
 * reconstructions. Each tile is scaled to a common display size (nearest neighbour) and mapped from
 * its given value range to black..white.
 */
public final class ImageGrid {
    private record Tile(float[] x, int h, int w, double lo, double hi, String caption) {
    }

    private final int columns;
    private final int tile;
    private final List<Tile> tiles = new ArrayList<>();

    /** @param tileSize displayed size of each image in pixels */
    public ImageGrid(int columns, int tileSize) {
        this.columns = columns;
        this.tile = tileSize;
    }

    public ImageGrid add(float[] x, int h, int w, double lo, double hi, String caption) {
        tiles.add(new Tile(x, h, w, lo, hi, caption));
        return this;
    }

    public void writePng(Path file) throws IOException {
        int rows = (tiles.size() + columns - 1) / columns;
        int cap = 22;
        int pad = 6;
        int cw = tile + pad;
        int ch = tile + cap + pad;
        BufferedImage img = new BufferedImage(Math.max(1, columns * cw + pad), Math.max(1, rows * ch + pad), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int k = 0; k < tiles.size(); k++) {
            Tile t = tiles.get(k);
            int ox = pad + (k % columns) * cw;
            int oy = pad + (k / columns) * ch;
            double scale = Math.min(tile / (double) t.w(), tile / (double) t.h());
            int dw = (int) Math.round(t.w() * scale);
            int dh = (int) Math.round(t.h() * scale);
            double range = t.hi() > t.lo() ? t.hi() - t.lo() : 1;
            for (int i = 0; i < dh; i++) {
                int si = Math.min(t.h() - 1, (int) (i / scale));
                for (int j = 0; j < dw; j++) {
                    int sj = Math.min(t.w() - 1, (int) (j / scale));
                    float v = t.x()[si * t.w() + sj];
                    int b = (int) Math.round(Math.max(0, Math.min(1, (v - t.lo()) / range)) * 255);
                    img.setRGB(ox + j, oy + i, (b << 16) | (b << 8) | b);
                }
            }
            g.setColor(Color.BLACK);
            g.drawString(t.caption(), ox, oy + dh + 15);
        }
        g.dispose();
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(img, "png", file.toFile());
    }
}
