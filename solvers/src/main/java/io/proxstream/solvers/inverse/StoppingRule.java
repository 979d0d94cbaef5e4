package io.proxstream.solvers.inverse;

import io.proxstream.solvers.progress.Progress;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Decides after each iteration whether a solver stops, from what the solver reports (never from a
 * ground truth). Rules combine with {@link #or}.
 */
@FunctionalInterface
public interface StoppingRule {

    /** True to stop after the iteration reported in {@code p}. */
    boolean stop(Progress p);

    default StoppingRule or(StoppingRule other) {
        return p -> stop(p) || other.stop(p);
    }

    /** Never stops early (the iteration budget still applies). */
    StoppingRule NEVER = p -> false;

    /** Stops when the named scalar falls below {@code tol} (e.g. {@code relativeChange}). */
    static StoppingRule below(String scalar, double tol) {
        return p -> {
            Double v = p.scalars().get(scalar);
            return v != null && v < tol;
        };
    }

    /** Stops when {@code flag} is set (thread-safe: another thread may set it). */
    static StoppingRule flag(AtomicBoolean flag) {
        return p -> flag.get();
    }
}
