package io.proxstream.actors.stream;

import io.proxstream.protocol.format.Mnist;
import io.proxstream.protocol.format.Npy;
import io.proxstream.protocol.format.RowReader;
import io.proxstream.protocol.format.Safetensors;
import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.data.PlantedDictionary;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Optional;
import java.util.SplittableRandom;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Sources of training rows. All are pull-driven: nothing is produced before downstream asks, so a
 * slow trainer slows the source rather than growing a queue.
 */
public final class Sources {
    private Sources() {
    }

    /** Endless chunks from the planted-dictionary generator, deterministic in {@code seed}. */
    public static Source<Chunk, NotUsed> synthetic(PlantedDictionary gen, int chunkRows, long seed) {
        int d = gen.options().dim();
        return Source.fromIterator(() -> new Iterator<Chunk>() {
            private final SplittableRandom rnd = new SplittableRandom(seed);
            private long offset;

            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public Chunk next() {
                float[] x = new float[chunkRows * d];
                gen.fill(x, chunkRows, rnd);
                Chunk c = new Chunk(x, chunkRows, d, offset, "synthetic");
                offset += chunkRows;
                return c;
            }
        });
    }

    /** Opens a row file ({@code .npy}, or {@code .safetensors} with an optional tensor name). */
    public static RowReader open(Path file, String tensor) throws IOException {
        String name = file.getFileName().toString();
        if (name.endsWith(".safetensors")) {
            return Safetensors.openRows(file, tensor == null || tensor.isBlank() ? null : tensor);
        }
        return Npy.open(file);
    }

    /**
     * Chunks read from a row file, {@code epochs} times (0 = forever). Reading happens on Pekko's
     * blocking-IO dispatcher. A file that cannot be read fails the stream with the reader's message.
     */
    public static Source<Chunk, NotUsed> file(Path file, String tensor, int chunkRows, int epochs) {
        Source<Integer, NotUsed> passes = epochs == 0
                ? Source.fromIterator(() -> java.util.stream.IntStream.iterate(0, i -> i + 1).iterator())
                : Source.range(0, epochs - 1);
        return passes.flatMapConcat(pass -> Source.unfoldResource(
                () -> new Cursor(open(file, tensor), file.getFileName().toString()),
                c -> c.next(chunkRows),
                c -> c.reader.close()));
    }

    /** A reader plus the index of its next row. */
    private static final class Cursor {
        private final RowReader reader;
        private final String origin;
        private long offset;

        Cursor(RowReader reader, String origin) {
            this.reader = reader;
            this.origin = origin;
        }

        Optional<Chunk> next(int chunkRows) throws IOException {
            int cols = reader.cols();
            float[] buf = new float[chunkRows * cols];
            int got = reader.read(buf, chunkRows);
            if (got == 0) {
                return Optional.empty();
            }
            Chunk c = new Chunk(got == chunkRows ? buf : java.util.Arrays.copyOf(buf, got * cols), got, cols, offset, origin);
            offset += got;
            return Optional.of(c);
        }
    }

    /**
     * MNIST images as rows, shuffled anew each epoch ({@code epochs} passes, 0 = forever),
     * normalised as the paper's scripts do: {@code (x − 0.1307) / 0.3081}.
     */
    public static Source<Chunk, NotUsed> images(float[] pixels, int rows, int cols, int chunkRows, int epochs, long seed) {
        return Source.fromIterator(() -> new Iterator<Chunk>() {
            private final SplittableRandom rnd = new SplittableRandom(seed);
            private int[] order = Dataset.permutation(rows, rnd);
            private int pos;
            private int epoch;

            @Override
            public boolean hasNext() {
                return epochs == 0 || epoch < epochs;
            }

            @Override
            public Chunk next() {
                int n = Math.min(chunkRows, rows - pos);
                float[] x = new float[n * cols];
                for (int r = 0; r < n; r++) {
                    System.arraycopy(pixels, order[pos + r] * cols, x, r * cols, cols);
                }
                Chunk c = new Chunk(x, n, cols, (long) epoch * rows + pos, "mnist");
                pos += n;
                if (pos == rows) {
                    pos = 0;
                    epoch++;
                    order = Dataset.permutation(rows, rnd);
                }
                return c;
            }
        });
    }

    /** Normalises MNIST pixels in place as the paper's scripts: {@code (x − 0.1307) / 0.3081}. */
    public static void normaliseMnist(Mnist.Images images) {
        float[] p = images.pixels();
        for (int i = 0; i < p.length; i++) {
            p[i] = (p[i] - 0.1307f) / 0.3081f;
        }
    }
}
