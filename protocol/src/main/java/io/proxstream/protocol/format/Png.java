package io.proxstream.protocol.format;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * PNG images as float arrays in [0, 1]: grey ({@code h × w}) or RGB ({@code [3, h, w]} planes).
 * Colour images read as grey use the luminance weights of scikit-image's {@code rgb2gray}
 * (0.2125 R + 0.7154 G + 0.0721 B).
 */
public final class Png {
    private Png() {
    }

    /** A decoded image: {@code channels} planes of {@code h × w} values in [0, 1], channel-major. */
    public record Image(float[] data, int channels, int h, int w) {
        /** Every {@code step}-th pixel in both directions (the top-left one of each block), all channels. */
        public Image subsample(int step) {
            if (step < 1) {
                throw new IllegalArgumentException("subsampling step must be >= 1, got " + step);
            }
            int sh = h / step;
            int sw = w / step;
            float[] out = new float[channels * sh * sw];
            for (int c = 0; c < channels; c++) {
                for (int y = 0; y < sh; y++) {
                    for (int x = 0; x < sw; x++) {
                        out[(c * sh + y) * sw + x] = data[(c * h + y * step) * w + x * step];
                    }
                }
            }
            return new Image(out, channels, sh, sw);
        }
    }

    private static BufferedImage load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new FormatException(file, "no such image file");
        }
        BufferedImage img = ImageIO.read(file.toFile());
        if (img == null) {
            throw new FormatException(file, "not a readable image (PNG expected)");
        }
        return img;
    }

    /** Reads a PNG as grey. */
    public static Image readGrey(Path file) throws IOException {
        BufferedImage img = load(file);
        int h = img.getHeight();
        int w = img.getWidth();
        float[] out = new float[h * w];
        boolean grey = img.getColorModel().getNumColorComponents() == 1;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                if (grey) {
                    out[i * w + j] = img.getRaster().getSample(j, i, 0) / (float) ((1 << img.getColorModel().getComponentSize(0)) - 1);
                } else {
                    int rgb = img.getRGB(j, i);
                    float r = ((rgb >> 16) & 0xff) / 255f;
                    float g = ((rgb >> 8) & 0xff) / 255f;
                    float b = (rgb & 0xff) / 255f;
                    out[i * w + j] = 0.2125f * r + 0.7154f * g + 0.0721f * b;
                }
            }
        }
        return new Image(out, 1, h, w);
    }

    /** Reads a PNG as three colour planes (grey images give three equal planes). */
    public static Image readRgb(Path file) throws IOException {
        BufferedImage img = load(file);
        int h = img.getHeight();
        int w = img.getWidth();
        float[] out = new float[3 * h * w];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                int rgb = img.getRGB(j, i);
                out[i * w + j] = ((rgb >> 16) & 0xff) / 255f;
                out[h * w + i * w + j] = ((rgb >> 8) & 0xff) / 255f;
                out[2 * h * w + i * w + j] = (rgb & 0xff) / 255f;
            }
        }
        return new Image(out, 3, h, w);
    }

    /** Writes a grey image, mapping [lo, hi] to 0..255 (values outside are clipped), atomically. */
    public static void writeGrey(Path file, float[] x, int h, int w, double lo, double hi) throws IOException {
        if (x.length != h * w) {
            throw new IllegalArgumentException(x.length + " values are not a " + h + "x" + w + " image");
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        double scale = hi > lo ? 255 / (hi - lo) : 0;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                double v = (x[i * w + j] - lo) * scale;
                img.getRaster().setSample(j, i, 0, (int) Math.round(Math.max(0, Math.min(255, Double.isNaN(v) ? 0 : v))));
            }
        }
        AtomicFiles.write(file, out -> ImageIO.write(img, "png", out));
    }

    /** Writes a grey image scaled from its own min..max. */
    public static void writeGrey(Path file, float[] x, int h, int w) throws IOException {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (float v : x) {
            if (Float.isFinite(v)) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        writeGrey(file, x, h, w, lo, hi);
    }

    /** Writes an RGB image from [3, h, w] planes in [0, 1] (clipped), atomically. */
    public static void writeRgb(Path file, float[] planes, int h, int w) throws IOException {
        if (planes.length != 3 * h * w) {
            throw new IllegalArgumentException(planes.length + " values are not a 3x" + h + "x" + w + " image");
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                int r = byteOf(planes[i * w + j]);
                int g = byteOf(planes[h * w + i * w + j]);
                int b = byteOf(planes[2 * h * w + i * w + j]);
                img.setRGB(j, i, (r << 16) | (g << 8) | b);
            }
        }
        AtomicFiles.write(file, out -> ImageIO.write(img, "png", out));
    }

    private static int byteOf(float v) {
        return (int) Math.round(Math.max(0, Math.min(1, Float.isNaN(v) ? 0 : v)) * 255);
    }
}
