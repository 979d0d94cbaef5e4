package io.proxstream.actors.stream;

import io.proxstream.solvers.sae.DecoderStatistics;
import io.proxstream.solvers.sae.TrainingMetrics;

/**
 * One reporting window of a training stream.
 *
 * @param metrics     the window's training metrics
 * @param solves      decoder solves in the window
 * @param solveMillis total time of those solves
 * @param seconds     wall time since the stream started
 * @param last        true for the report emitted at the end of the stream
 * @param lastSolve   the window's last decoder update, or null
 */
public record WindowReport(TrainingMetrics.Report metrics, int solves, double solveMillis, double seconds, boolean last,
                           DecoderStatistics.SolveReport lastSolve) {
    public WindowReport(TrainingMetrics.Report metrics, int solves, double solveMillis, double seconds, boolean last) {
        this(metrics, solves, solveMillis, seconds, last, null);
    }

}
