package io.proxstream.actors.stream;

import java.util.SplittableRandom;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Flow;

/**
 * A bounded reservoir of rows kept out of training, for evaluating a live run on data it never
 * trained on. Its {@link #flow()} sits behind validation: every {@code stride}-th valid row goes to
 * the reservoir instead of on to the trainer. While the reservoir has room a held-out row is
 * appended; once it is full, the row replaces a uniformly chosen one, so the set follows a drifting
 * stream (a row survives {@code capacity} further arrivals with probability (1 − 1/R)^R ≈ 1/e).
 *
 * <p>The flow runs in the stream's ingest island, the evaluation reads a copy on the training
 * thread, and the status reads the counter from the actor: the reservoir is guarded by its own lock.
 */
public final class HoldOut {
    private final int d;
    private final int capacity;
    private final long stride;
    private final float[] rows;
    private final SplittableRandom rnd;
    private int size;
    private long seen;
    private long heldOut;

    /**
     * @param inputDim row width
     * @param capacity reservoir rows
     * @param stride   every {@code stride}-th valid row is held out (≥ 2)
     * @param seed     seed of the replacement choice
     */
    public HoldOut(int inputDim, int capacity, long stride, long seed) {
        if (inputDim <= 0 || capacity <= 0 || stride < 2) {
            throw new IllegalArgumentException("hold-out needs width > 0, capacity > 0, stride >= 2; got " + inputDim + ", "
                    + capacity + ", " + stride);
        }
        if ((long) inputDim * capacity > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("hold-out of " + capacity + " rows of width " + inputDim + " exceeds one array");
        }
        this.d = inputDim;
        this.capacity = capacity;
        this.stride = stride;
        this.rows = new float[inputDim * capacity];
        this.rnd = new SplittableRandom(seed);
    }

    /** Diverts every stride-th row of the data chunks; control tokens and other rows pass in order. */
    public Flow<Chunk, Chunk, NotUsed> flow() {
        return Flow.<Chunk>create().map(this::divert).filter(c -> c.isControl() || c.rows() > 0).named("hold-out");
    }

    /** The chunk without its held-out rows (the chunk itself when none of its rows is due). */
    synchronized Chunk divert(Chunk c) {
        if (c.isControl() || c.rows() == 0) {
            return c;
        }
        if (c.cols() != d) {
            throw new IllegalArgumentException("hold-out of width " + d + " got a chunk of width " + c.cols()
                    + " (it must sit behind validation)");
        }
        long first = seen;
        seen += c.rows();
        // rows r of the chunk with (first + r) % stride == stride - 1
        long firstDue = (stride - 1 - Math.floorMod(first, stride)) % stride;
        if (firstDue >= c.rows()) {
            return c;
        }
        int due = (int) ((c.rows() - 1 - firstDue) / stride + 1);
        float[] kept = new float[(c.rows() - due) * d];
        float[] in = c.data();
        int k = 0;
        for (int r = 0; r < c.rows(); r++) {
            if (r >= firstDue && (r - firstDue) % stride == 0) {
                keep(in, r * d);
            } else {
                System.arraycopy(in, r * d, kept, k * d, d);
                k++;
            }
        }
        return new Chunk(kept, k, d, c.offset(), c.origin());
    }

    private void keep(float[] src, int from) {
        heldOut++;
        int slot = size < capacity ? size++ : rnd.nextInt(capacity);
        System.arraycopy(src, from, rows, slot * d, d);
    }

    /** Rows held out so far (each is counted once, whether or not it is still in the reservoir). */
    public synchronized long heldOut() {
        return heldOut;
    }

    /** Rows in the reservoir now. */
    public synchronized int size() {
        return size;
    }

    /** A copy of the reservoir's rows ({@link #size()} × d values). */
    public synchronized float[] copy() {
        return java.util.Arrays.copyOf(rows, size * d);
    }

    /** Reservoir capacity in rows. */
    public int capacity() {
        return capacity;
    }
}
