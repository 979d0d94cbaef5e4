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
 *   <li>{@code non_finite}: a row holds NaN or ±Inf (that row is dropped);</li>
 *   <li>{@code too_large_value}: a row holds a finite value beyond ±maxAbs (that row is dropped): values near
 *       float32's range overflow training's squared sums and would poison the model
 *       ({@link io.proxstream.protocol.config.RunConfig#DEFAULT_MAX_ABS} says why the default passes real data).</li>
 * </ul>
 * The first rejections of each reason are logged with their position (origin and row index); after
 * that, one line per power of ten keeps the log bounded.
 */
public final class Validate {
    private static final Logger LOG = LoggerFactory.getLogger(Validate.class);

    private Validate() {
    }

    public static Flow<Chunk, Chunk, NotUsed> flow(int expectedCols, StreamMeters meters) {
        return flow(expectedCols, io.proxstream.protocol.config.RunConfig.DEFAULT_MAX_ABS, meters);
    }

    public static Flow<Chunk, Chunk, NotUsed> flow(int expectedCols, double maxAbs, StreamMeters meters) {
        long[] logged = new long[3];
        return Flow.<Chunk>create()
                .map(c -> check(c, expectedCols, maxAbs, meters, logged))
                .filter(Optional::isPresent)
                .map(Optional::get);
    }

    /** Returns the valid part of {@code c} (possibly {@code c} itself), or empty. */
    static Optional<Chunk> check(Chunk c, int expectedCols, double maxAbs, StreamMeters meters, long[] logged) {
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
        int tooLarge = 0;
        for (int r = 0; r < c.rows(); r++) {
            int p = problem(x, r * d, d, maxAbs);
            if (p == NON_FINITE) {
                bad++;
            } else if (p == TOO_LARGE) {
                tooLarge++;
            }
        }
        int dropped = bad + tooLarge;
        if (dropped == 0) {
            meters.accepted(c.rows());
            return c.rows() == 0 ? Optional.empty() : Optional.of(c);
        }
        float[] kept = new float[(c.rows() - dropped) * d];
        int k = 0;
        for (int r = 0; r < c.rows(); r++) {
            int p = problem(x, r * d, d, maxAbs);
            if (p == NON_FINITE) {
                if (shouldLog(logged, 1, 1)) {
                    LOG.warn("rejected a row with NaN/Inf from {} at row {}", c.origin(), c.offset() + r);
                }
            } else if (p == TOO_LARGE) {
                if (shouldLog(logged, 2, 1)) {
                    LOG.warn("rejected a row with a value beyond maxAbs {} from {} at row {}", maxAbs, c.origin(), c.offset() + r);
                }
            } else {
                System.arraycopy(x, r * d, kept, k * d, d);
                k++;
            }
        }
        if (bad > 0) {
            meters.rejected("non_finite", bad);
        }
        if (tooLarge > 0) {
            meters.rejected("too_large_value", tooLarge);
        }
        meters.accepted(k);
        return k == 0 ? Optional.empty() : Optional.of(new Chunk(kept, k, d, c.offset(), c.origin()));
    }

    /** {@link #problem}: the row is fine. */
    public static final int OK = 0;
    /** {@link #problem}: the row holds NaN or ±Inf. */
    public static final int NON_FINITE = 1;
    /** {@link #problem}: the row is finite but holds a value beyond ±maxAbs. */
    public static final int TOO_LARGE = 2;

    /**
     * What is wrong with the row {@code x[off, off+d)}: one vectorised scan for a good row
     * ({@link Vec#allWithin}); a bad one is classified by a second.
     */
    public static int problem(float[] x, int off, int d, double maxAbs) {
        if (Vec.allWithin(x, off, d, (float) maxAbs)) {
            return OK;
        }
        return Vec.allFinite(x, off, d) ? TOO_LARGE : NON_FINITE;
    }

    /** Index (from {@code off}) of the first of {@code d} values with |v| > maxAbs, or -1. */
    public static int firstBeyond(float[] x, int off, int d, double maxAbs) {
        float lim = (float) maxAbs;
        for (int j = 0; j < d; j++) {
            if (Math.abs(x[off + j]) > lim) {
                return j;
            }
        }
        return -1;
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
