package io.proxstream.solvers.inverse;

import io.proxstream.solvers.progress.Progress;

/**
 * The outcome of an iterative solve.
 *
 * @param x          the last iterate
 * @param iterations iterations done
 * @param stoppedEarly true if a stopping rule ended the solve before the iteration budget
 * @param seconds    wall time
 * @param last       the last iteration's report
 */
public record SolverResult(float[] x, int iterations, boolean stoppedEarly, double seconds, Progress last) {
}
