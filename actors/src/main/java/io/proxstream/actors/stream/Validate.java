package io.proxstream.actors.stream;

import io.proxstream.monitoring.StreamMeters;
import io.proxstream.solvers.linalg.Vec;
import java.util.Optional;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Flow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drops invalid rows and counts them by reason; never fails the stream.
 * <ul>
 *   <li>{@code width}: the chunk's rows are not {@code expectedCols} wide (the whole chunk is dropped);</li>
 *   <li>{@code non_finite}: a row holds NaN or ±Inf (that row is dropped).</li>
 * </ul>
 * The first rejections of each reason are logged with their position (origin and row index); after
 * that, one line per power of ten keeps the log bounded.
 */
public final class Validate {
    private static final Logger LOG = LoggerFactory.getLogger(Validate.class);

    private Validate() {
    }

    public static Flow<Chunk, Chunk, NotUsed> flow(int expectedCols, StreamMeters meters) {
        long[] logged = new long[2];
        return Flow.<Chunk>create()
                .map(c -> check(c, expectedCols, meters, logged))
                .filter(Optional::isPresent)
                .map(Optional::get);
    }

    /** Returns the valid part of {@code c} (possibly {@code c} itself), or empty. */
    static Optional<Chunk> check(Chunk c, int expectedCols, StreamMeters meters, long[] logged) {
        if (c.isControl()) {
            return Optional.of(c);
        }
        if (c.cols() != expectedCols) {
            meters.rejected("width", c.rows());
            if (shouldLog(logged, 0, c.rows())) {
                LOG.warn("rejected {} rows of width {} (expected {}) from {} at row {}", c.rows(), c.cols(), expectedCols,
                        c.origin(), c.offset());
            }
            return Optional.empty();
        }
        int d = c.cols();
        float[] x = c.data();
        int bad = 0;
        for (int r = 0; r < c.rows(); r++) {
            if (!finiteRow(x, r * d, d)) {
                bad++;
            }
        }
        if (bad == 0) {
            meters.accepted(c.rows());
            return c.rows() == 0 ? Optional.empty() : Optional.of(c);
        }
        float[] kept = new float[(c.rows() - bad) * d];
        int k = 0;
        for (int r = 0; r < c.rows(); r++) {
            if (finiteRow(x, r * d, d)) {
                System.arraycopy(x, r * d, kept, k * d, d);
                k++;
            } else if (shouldLog(logged, 1, 1)) {
                LOG.warn("rejected a row with NaN/Inf from {} at row {}", c.origin(), c.offset() + r);
            }
        }
        meters.rejected("non_finite", bad);
        meters.accepted(k);
        return k == 0 ? Optional.empty() : Optional.of(new Chunk(kept, k, d, c.offset(), c.origin()));
    }

    private static boolean finiteRow(float[] x, int off, int d) {
        return Vec.allFinite(x, off, d);
    }

    private static boolean shouldLog(long[] logged, int reason, long n) {
        long before = logged[reason];
        logged[reason] += n;
        if (before < 10) {
            return true;
        }
        return Long.toString(before).length() != Long.toString(logged[reason]).length();
    }
}
