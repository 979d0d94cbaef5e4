package io.proxstream.actors.segment;

import io.proxstream.protocol.format.Png;
import java.io.IOException;
import java.nio.file.Path;

/** Pictures of a segmentation: a colour overlay on the image, and the label map as grey levels. */
public final class SegmentOutputs {
    private static final float[][] PALETTE = {
        {0.12f, 0.47f, 0.71f}, {0.84f, 0.15f, 0.16f}, {0.17f, 0.63f, 0.17f}, {1.0f, 0.5f, 0.05f}, {0.58f, 0.4f, 0.74f}, {0.55f, 0.34f, 0.29f},
    };

    private SegmentOutputs() {
    }

    /** RGB planes: the image (grey or colour, clipped to [0, 1]) blended 50/50 with its class colours, class boundaries in white. */
    public static float[] overlay(float[] image, int channels, int h, int w, int[] labels) {
        int n = h * w;
        float[] out = new float[3 * n];
        for (int i = 0; i < n; i++) {
            float[] col = PALETTE[labels[i] % PALETTE.length];
            int y = i / w;
            int x = i % w;
            boolean edge = (x + 1 < w && labels[i + 1] != labels[i]) || (y + 1 < h && labels[i + w] != labels[i]);
            for (int ch = 0; ch < 3; ch++) {
                float v = Math.max(0f, Math.min(1f, image[(channels == 1 ? 0 : ch) * n + i]));
                out[ch * n + i] = edge ? 1f : 0.5f * v + 0.5f * col[ch];
            }
        }
        return out;
    }

    public static void writeOverlay(Path file, float[] image, int channels, int h, int w, int[] labels) throws IOException {
        Png.writeRgb(file, overlay(image, channels, h, w, labels), h, w);
    }

    /** The label map, class k as grey level k/(C−1). */
    public static void writeLabels(Path file, int[] labels, int classes, int h, int w) throws IOException {
        float[] g = new float[labels.length];
        for (int i = 0; i < g.length; i++) {
            g[i] = classes <= 1 ? 0 : labels[i] / (float) (classes - 1);
        }
        Png.writeGrey(file, g, h, w, 0, 1);
    }

    /** An image (grey or colour) clipped to [0, 1]. */
    public static void writeImage(Path file, float[] image, int channels, int h, int w) throws IOException {
        if (channels == 1) {
            Png.writeGrey(file, image, h, w, 0, 1);
        } else {
            Png.writeRgb(file, image, h, w);
        }
    }

    /** RGB planes of an image: colour as is, grey repeated in the three planes (values clipped to [0, 1]). */
    public static float[] rgb(float[] image, int channels, int h, int w) {
        int n = h * w;
        float[] out = new float[3 * n];
        for (int ch = 0; ch < 3; ch++) {
            for (int i = 0; i < n; i++) {
                out[ch * n + i] = Math.max(0f, Math.min(1f, image[(channels == 1 ? 0 : ch) * n + i]));
            }
        }
        return out;
    }

    /** Equal-sized RGB tiles in rows of {@code columns}, 4 px white gaps, as one PNG. */
    public static void writeMontage(Path file, java.util.List<float[]> tiles, int h, int w, int columns) throws IOException {
        int gap = 4;
        int rows = (tiles.size() + columns - 1) / columns;
        int mh = rows * h + (rows + 1) * gap;
        int mw = columns * w + (columns + 1) * gap;
        int n = mh * mw;
        float[] out = new float[3 * n];
        java.util.Arrays.fill(out, 1f);
        for (int t = 0; t < tiles.size(); t++) {
            int oy = gap + (t / columns) * (h + gap);
            int ox = gap + (t % columns) * (w + gap);
            float[] tile = tiles.get(t);
            for (int ch = 0; ch < 3; ch++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        out[ch * n + (oy + y) * mw + ox + x] = tile[ch * h * w + y * w + x];
                    }
                }
            }
        }
        Png.writeRgb(file, out, mh, mw);
    }
}
