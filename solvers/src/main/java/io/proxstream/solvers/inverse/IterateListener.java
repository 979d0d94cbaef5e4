package io.proxstream.solvers.inverse;

/**
 * Sees a solver's iterate after every iteration, for choosing an iteration budget on validation
 * images (score the iterates at several budgets in one solve) without stopping on the truth of the
 * images that are reported. {@code x} is the solver's own array: read it, copy what you keep, never
 * write to it. Runs on the solver's thread.
 */
@FunctionalInterface
public interface IterateListener {

    /** Ignores every iterate. */
    IterateListener NONE = (iteration, x) -> { };

    void onIterate(int iteration, float[] x);
}
