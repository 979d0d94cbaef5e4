package io.proxstream.solvers.graph;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Labelled pixels for fidelity-forced segmentation: a label per pixel, −1 where unlabelled.
 *
 * <p>Rectangles are written {@code CLASS:X0,Y0,X1,Y1} (inclusive pixel corners, x = column, y = row),
 * several separated by {@code ;}, e.g. {@code 0:5,5,30,30;1:80,60,120,100}. A mask is a grey image
 * whose value 0 means unlabelled and whose distinct non-zero levels, in increasing order, are
 * classes 0, 1, ….
 */
public final class Labels {
    private Labels() {
    }

    /** One labelled rectangle. */
    public record Rect(int label, int x0, int y0, int x1, int y1) {
    }

    /** Parses the rectangle syntax; errors name the offending part. */
    public static List<Rect> parseRects(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("labels: empty rectangle list (expected CLASS:X0,Y0,X1,Y1[;...])");
        }
        List<Rect> out = new ArrayList<>();
        for (String part : spec.split(";")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            String[] kv = p.split(":");
            String[] xy = kv.length == 2 ? kv[1].split(",") : new String[0];
            if (xy.length != 4) {
                throw new IllegalArgumentException("labels: '" + p + "' is not CLASS:X0,Y0,X1,Y1");
            }
            try {
                int label = Integer.parseInt(kv[0].trim());
                int[] v = new int[4];
                for (int i = 0; i < 4; i++) {
                    v[i] = Integer.parseInt(xy[i].trim());
                }
                if (label < 0) {
                    throw new IllegalArgumentException("labels: class must be >= 0 in '" + p + "'");
                }
                if (v[2] < v[0] || v[3] < v[1]) {
                    throw new IllegalArgumentException("labels: rectangle '" + p + "' has X1 < X0 or Y1 < Y0");
                }
                out.add(new Rect(label, v[0], v[1], v[2], v[3]));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("labels: '" + p + "' has a non-integer entry", e);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("labels: no rectangles in '" + spec + "'");
        }
        return out;
    }

    /** The label map of rectangles on an h × w image; a rectangle reaching outside the image is an error. */
    public static int[] fromRects(List<Rect> rects, int h, int w) {
        int[] out = new int[h * w];
        java.util.Arrays.fill(out, -1);
        for (Rect r : rects) {
            if (r.x0() < 0 || r.y0() < 0 || r.x1() >= w || r.y1() >= h) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "labels: rectangle %d:%d,%d,%d,%d lies outside the %dx%d image (x in [0, %d], y in [0, %d])", r.label(), r.x0(),
                        r.y0(), r.x1(), r.y1(), w, h, w - 1, h - 1));
            }
            for (int y = r.y0(); y <= r.y1(); y++) {
                for (int x = r.x0(); x <= r.x1(); x++) {
                    out[y * w + x] = r.label();
                }
            }
        }
        return out;
    }

    /** The label map of a grey mask (values in [0, 1]): 0 unlabelled, distinct non-zero levels are classes in order. */
    public static int[] fromMask(float[] grey, int h, int w) {
        if (grey.length != h * w) {
            throw new IllegalArgumentException("labels: mask has " + grey.length + " pixels, the image " + h + "x" + w);
        }
        return byLevel(grey, true);
    }

    /** A full label map from a grey image (values in [0, 1]): its distinct levels, 0 included, are classes in order. */
    public static int[] fromLevels(float[] grey) {
        return byLevel(grey, false);
    }

    /** Grey levels (in 1/255 steps) to classes in increasing order; with {@code zeroUnlabelled} level 0 is −1. */
    private static int[] byLevel(float[] grey, boolean zeroUnlabelled) {
        java.util.TreeSet<Integer> levels = new java.util.TreeSet<>();
        int[] q = new int[grey.length];
        for (int i = 0; i < grey.length; i++) {
            q[i] = Math.round(grey[i] * 255);
            if (q[i] != 0 || !zeroUnlabelled) {
                levels.add(q[i]);
            }
        }
        if (zeroUnlabelled && levels.size() < 2) {
            throw new IllegalArgumentException("labels: the mask has " + levels.size() + " non-zero level(s); need one per class, at least 2");
        }
        List<Integer> order = new ArrayList<>(levels);
        int[] out = new int[grey.length];
        for (int i = 0; i < grey.length; i++) {
            out[i] = zeroUnlabelled && q[i] == 0 ? -1 : order.indexOf(q[i]);
        }
        return out;
    }

    /** Number of classes the labels name (largest label + 1). */
    public static int classes(int[] labels) {
        int max = -1;
        for (int v : labels) {
            max = Math.max(max, v);
        }
        return max + 1;
    }

    /** Fails, naming the class, unless every class 0..C−1 has a labelled pixel. */
    public static void requireEveryClass(int[] labels, int classes) {
        int[] count = new int[classes];
        for (int v : labels) {
            if (v >= classes) {
                throw new IllegalArgumentException("labels: class " + v + " given but only " + classes + " classes");
            }
            if (v >= 0) {
                count[v]++;
            }
        }
        for (int c = 0; c < classes; c++) {
            if (count[c] == 0) {
                throw new IllegalArgumentException("labels: class " + c + " has no labelled pixel (classes 0.." + (classes - 1)
                        + " each need at least one)");
            }
        }
    }
}
