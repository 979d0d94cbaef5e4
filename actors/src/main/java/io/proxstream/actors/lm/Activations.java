package io.proxstream.actors.lm;

import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.protocol.format.Npy;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/** Runs MiniLM over the fortunes and caches the residual stream of one block to {@code .npy}. */
public final class Activations {
    private Activations() {
    }

    /** The corpus in a seeded random order (texts are drawn from all files, not file by file). */
    public static List<String> shuffledTexts(long seed) throws IOException {
        List<String> texts = new ArrayList<>(Fortunes.load(Fortunes.directory()));
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = texts.size() - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            String t = texts.get(i);
            texts.set(i, texts.get(j));
            texts.set(j, t);
        }
        return texts;
    }

    /**
     * Writes {@code rows} residual vectors of {@code block} to {@code out} (atomically), taken in
     * order from the seeded shuffle of the fortunes (cycling if the corpus runs out); returns the
     * number of texts used.
     */
    public static int cache(int block, int rows, int maxTokens, long seed, Path out, PrintStream log) throws IOException {
        if (rows <= 0) {
            throw new IllegalArgumentException("rows must be positive, got " + rows);
        }
        List<String> texts = shuffledTexts(seed);
        int[] used = {0};
        long t0 = System.nanoTime();
        try (MiniLm lm = new MiniLm(block, maxTokens, Runtime.getRuntime().availableProcessors())) {
            AtomicFiles.write(out, os -> {
                try (Npy.Writer w = new Npy.Writer(os, MiniLm.WIDTH)) {
                    w.declareRows(rows);
                    int done = 0;
                    int next = 0;
                    long lastLog = System.nanoTime();
                    while (done < rows) {
                        List<String> batch = new ArrayList<>();
                        for (int i = 0; i < 16; i++) {
                            batch.add(texts.get(next));
                            next = (next + 1) % texts.size();
                        }
                        used[0] += batch.size();
                        MiniLm.Rows r = lm.residuals(batch);
                        int take = Math.min(r.count(), rows - done);
                        w.writeRows(r.data(), take);
                        done += take;
                        if (System.nanoTime() - lastLog > 5e9) {
                            lastLog = System.nanoTime();
                            log.printf(Locale.ROOT, "  %,d / %,d vectors (%.0f tokens/s)%n", done, rows,
                                    done / ((System.nanoTime() - t0) / 1e9));
                        }
                    }
                }
            });
        }
        log.printf(Locale.ROOT, "cached %,d vectors of block %d from %,d texts in %.1f s -> %s%n", rows, block, used[0],
                (System.nanoTime() - t0) / 1e9, out);
        return used[0];
    }
}
