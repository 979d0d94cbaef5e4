package io.proxstream.actors.lm;

import io.proxstream.actors.stream.Chunk;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * A live source of transformer activations: MiniLM runs over the fortunes (seeded order, cycling)
 * only when the stream asks for more, on Pekko's blocking-IO dispatcher; each pull runs one batch
 * of texts and emits their residual vectors as one chunk of up to {@code chunkRows} rows.
 */
public final class LmSource {
    private static final int TEXTS_PER_BATCH = 16;

    private LmSource() {
    }

    private static final class Cursor implements AutoCloseable {
        private final MiniLm lm;
        private final List<String> texts;
        private final int chunkRows;
        private int next;
        private long offset;
        private float[] pending = new float[0];
        private int pendingRows;

        Cursor(int block, int maxTokens, int chunkRows, long seed) throws IOException {
            this.texts = Activations.shuffledTexts(seed);
            this.lm = new MiniLm(block, maxTokens, Runtime.getRuntime().availableProcessors());
            this.chunkRows = chunkRows;
        }

        Optional<Chunk> next() {
            while (pendingRows < chunkRows) {
                List<String> batch = new java.util.ArrayList<>(TEXTS_PER_BATCH);
                for (int i = 0; i < TEXTS_PER_BATCH; i++) {
                    batch.add(texts.get(next));
                    next = (next + 1) % texts.size();
                }
                MiniLm.Rows r = lm.residuals(batch);
                float[] grown = java.util.Arrays.copyOf(pending, (pendingRows + r.count()) * MiniLm.WIDTH);
                System.arraycopy(r.data(), 0, grown, pendingRows * MiniLm.WIDTH, r.count() * MiniLm.WIDTH);
                pending = grown;
                pendingRows += r.count();
            }
            float[] out = java.util.Arrays.copyOf(pending, chunkRows * MiniLm.WIDTH);
            pending = java.util.Arrays.copyOfRange(pending, chunkRows * MiniLm.WIDTH, pendingRows * MiniLm.WIDTH);
            pendingRows -= chunkRows;
            Chunk c = new Chunk(out, chunkRows, MiniLm.WIDTH, offset, "minilm block " + lm.block());
            offset += chunkRows;
            return Optional.of(c);
        }

        @Override
        public void close() {
            lm.close();
        }
    }

    /** Endless chunks of {@code chunkRows} residual vectors of {@code block}. */
    public static Source<Chunk, NotUsed> chunks(int block, int maxTokens, int chunkRows, long seed) {
        MiniLm.residualTensor(block);
        return Source.unfoldResource(() -> new Cursor(block, maxTokens, chunkRows, seed), Cursor::next, Cursor::close);
    }
}
