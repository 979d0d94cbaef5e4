package io.proxstream.actors.segment;

import io.proxstream.protocol.format.Png;
import io.proxstream.solvers.graph.Labels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Test images with exact ground truth: two scikit-image textures combined under the horse
 * silhouette (spec/graph.md, data.md), and labelled squares drawn from the truth.
 */
public final class Composites {
    private Composites() {
    }

    /** A grey image with its true label map (class 1 = inside the silhouette). */
    public record Composite(String name, float[] image, int h, int w, int[] truth) {
    }

    /**
     * {@code inside} texture within the horse, {@code outside} elsewhere, the horse scaled by
     * {@code 1/step} (every step-th pixel), textures cropped to the same size; each texture is
     * normalised to mean 0.5 and standard deviation 0.15 so that only texture, not brightness,
     * separates the classes.
     */
    public static Composite horse(Path skimage, String inside, String outside, int step) throws IOException {
        Path horseFile = require(skimage, "horse.png");
        Png.Image horse = Png.readGrey(horseFile).subsample(step);
        int h = horse.h();
        int w = horse.w();
        int[] truth = new int[h * w];
        for (int i = 0; i < truth.length; i++) {
            truth[i] = horse.data()[i] < 0.5f ? 1 : 0;
        }
        float[] tin = crop(Png.readGrey(require(skimage, inside + ".png")), h, w);
        float[] tout = crop(Png.readGrey(require(skimage, outside + ".png")), h, w);
        float[] img = new float[h * w];
        for (int i = 0; i < img.length; i++) {
            img[i] = truth[i] == 1 ? tin[i] : tout[i];
        }
        return new Composite(inside + "-in-" + outside, img, h, w, truth);
    }

    /** {@code perClass} squares of side {@code side} lying wholly inside each class of the truth, seeded. */
    public static List<Labels.Rect> squaresFromTruth(int[] truth, int h, int w, int classes, int perClass, int side, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Labels.Rect> out = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            int found = 0;
            for (int attempt = 0; attempt < 100_000 && found < perClass; attempt++) {
                int x0 = r.nextInt(w - side + 1);
                int y0 = r.nextInt(h - side + 1);
                boolean ok = true;
                for (int y = y0; y < y0 + side && ok; y++) {
                    for (int x = x0; x < x0 + side; x++) {
                        if (truth[y * w + x] != c) {
                            ok = false;
                            break;
                        }
                    }
                }
                if (ok) {
                    out.add(new Labels.Rect(c, x0, y0, x0 + side - 1, y0 + side - 1));
                    found++;
                }
            }
            if (found == 0) {
                throw new IllegalArgumentException("class " + c + " has no " + side + "x" + side + " square to label");
            }
        }
        return out;
    }

    /** {@code dir/file}, or an error naming the command that fetches it. */
    public static Path require(Path dir, String file) {
        Path p = dir.resolve(file);
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException(file + " not found in " + dir + "; fetch the scikit-image test images with ./proxstream setup");
        }
        return p;
    }

    private static float[] crop(Png.Image img, int h, int w) {
        if (img.h() < h || img.w() < w) {
            throw new IllegalArgumentException("texture of " + img.h() + "x" + img.w() + " is smaller than " + h + "x" + w);
        }
        float[] out = new float[h * w];
        for (int y = 0; y < h; y++) {
            System.arraycopy(img.data(), y * img.w(), out, y * w, w);
        }
        return out;
    }

    private static float[] normalised(float[] x) {
        double mean = 0;
        for (float v : x) {
            mean += v;
        }
        mean /= x.length;
        double var = 0;
        for (float v : x) {
            var += (v - mean) * (v - mean);
        }
        double sd = Math.sqrt(var / x.length);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) (0.5 + 0.15 * (x[i] - mean) / Math.max(sd, 1e-6));
        }
        return out;
    }
}
