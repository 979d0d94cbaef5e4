package io.proxstream.solvers.progress;

/**
 * Receives progress from a solver. Solvers never import meters or actors; the running system
 * adapts this interface to them. Implementations must be cheap: they run on the solver's thread.
 */
@FunctionalInterface
public interface ProgressListener {

    /** A listener that ignores everything. */
    ProgressListener NONE = p -> { };

    void onProgress(Progress progress);
}
