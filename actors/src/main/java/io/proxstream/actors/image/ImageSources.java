package io.proxstream.actors.image;

import io.proxstream.protocol.format.Npy;
import io.proxstream.protocol.format.Png;
import io.proxstream.protocol.format.RowReader;
import io.proxstream.solvers.inverse.Phantoms;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/** Sources of the image stream: generated phantoms, or PNG / .npy files (a file or a directory). */
public final class ImageSources {
    private ImageSources() {
    }

    /**
     * {@code count} phantoms of {@code n × n}: {@code shepp-logan} (the same image each time) or
     * {@code ellipses} (random-ellipse phantom {@code i} drawn with seed {@code seed + i}).
     */
    public static Source<ImageTask, NotUsed> phantoms(String kind, int n, int count, long seed) {
        if (!kind.equals("shepp-logan") && !kind.equals("ellipses")) {
            throw new IllegalArgumentException("unknown phantom '" + kind + "'; valid: shepp-logan, ellipses");
        }
        if (n < 8 || count <= 0) {
            throw new IllegalArgumentException("phantoms need size >= 8 and count >= 1, got " + n + ", " + count);
        }
        return Source.range(0, count - 1).map(i -> new ImageTask(kind + "-" + i,
                kind.equals("shepp-logan") ? Phantoms.sheppLogan(n) : Phantoms.randomEllipses(n, seed + i), n, n, i));
    }

    /**
     * The images in {@code path} (a PNG or 2-D .npy file, or a directory of them, in name order).
     * A file that cannot be read becomes an {@link ImageTask#unreadable} entry, which the stream
     * rejects and counts; the other files still go through.
     */
    public static Source<ImageTask, NotUsed> files(Path path) throws IOException {
        List<Path> files;
        if (Files.isDirectory(path)) {
            try (Stream<Path> s = Files.list(path)) {
                files = s.filter(p -> p.toString().endsWith(".png") || p.toString().endsWith(".npy")).sorted().toList();
            }
            if (files.isEmpty()) {
                throw new IllegalArgumentException("no .png or .npy images in " + path);
            }
        } else if (Files.isRegularFile(path)) {
            files = List.of(path);
        } else {
            throw new IllegalArgumentException("no such image file or directory: " + path);
        }
        return Source.from(files).zipWithIndex().map(p -> {
            try {
                return read(p.first(), p.second());
            } catch (IOException | RuntimeException e) {
                return ImageTask.unreadable(p.first().getFileName().toString(), p.second(), "cannot read " + p.first() + ": "
                        + (e.getMessage() != null ? e.getMessage() : e.toString()));
            }
        });
    }

    /** Reads one image (PNG as grey in [0,1], .npy as a 2-D float array). */
    public static ImageTask read(Path file, long index) throws IOException {
        String name = file.getFileName().toString();
        String id = name.replaceAll("\\.(png|npy)$", "");
        if (name.endsWith(".npy")) {
            try (RowReader r = Npy.open(file)) {
                int h = (int) r.rows();
                int w = r.cols();
                float[] x = Npy.readAll(file);
                return new ImageTask(id, x, h, w, index);
            }
        }
        Png.Image img = Png.readGrey(file);
        return new ImageTask(id, img.data(), img.h(), img.w(), index);
    }

    /**
     * A grey image read from {@code file}, cut to its central square and box-averaged down to
     * {@code n × n} (natural test images for deblurring and denoising).
     */
    public static ImageTask squareGrey(Path file, int n, long index) throws IOException {
        ImageTask full = read(file, index);
        return new ImageTask(full.id(), squareResample(full.truth(), full.h(), full.w(), n), n, n, index);
    }

    /** The central square of an {@code h × w} image, box-averaged down to {@code n × n} ({@code n} ≤ the square's side). */
    static float[] squareResample(float[] x, int h, int w, int n) {
        int s = Math.min(h, w);
        if (n < 1 || n > s) {
            throw new IllegalArgumentException("cannot resample a " + h + "x" + w + " image to " + n + "x" + n
                    + " (the side must be between 1 and " + s + ")");
        }
        int oi = (h - s) / 2;
        int oj = (w - s) / 2;
        float[] out = new float[n * n];
        for (int i = 0; i < n; i++) {
            int i0 = (int) ((long) i * s / n);
            int i1 = (int) ((long) (i + 1) * s / n);
            for (int j = 0; j < n; j++) {
                int j0 = (int) ((long) j * s / n);
                int j1 = (int) ((long) (j + 1) * s / n);
                double sum = 0;
                for (int a = i0; a < i1; a++) {
                    for (int b = j0; b < j1; b++) {
                        sum += x[(oi + a) * w + oj + b];
                    }
                }
                out[i * n + j] = (float) (sum / ((i1 - i0) * (j1 - j0)));
            }
        }
        return out;
    }
}
