package io.proxstream.actors.serve;

/**
 * The states of a served run, as the {@code /runs} API, the readiness check and the dashboard show them.
 *
 * <ul>
 *   <li>{@link #LOADING}: starting: its trainer is built and its newest checkpoint read (minutes for
 *       a checkpoint of gigabytes); pushes are answered 503 with {@code Retry-After};</li>
 *   <li>{@link #TRAINING}: accepting data and training;</li>
 *   <li>{@link #STOPPING}: asked to stop; trains what is queued, then writes a final checkpoint;</li>
 *   <li>{@link #STOPPED}: stopped by the user; resumes at the next start of the server;</li>
 *   <li>{@link #FAILED}: training stopped on an error (in the status); nothing is accepted until
 *       {@code POST /runs/NAME/restart} starts it again from its newest checkpoint;</li>
 *   <li>{@link #RESUME_FAILED}: the run has checkpoints but none reads back (or its directory cannot be
 *       loaded): it is not started from scratch, its files and the reasons are in the status, and it
 *       stays so until the user deletes the files or calls {@code POST /runs/NAME/start-fresh} (which
 *       moves the unreadable checkpoints aside, never deleting them).</li>
 * </ul>
 * {@link #FAILED} and {@link #RESUME_FAILED} make the readiness check ({@code /health/ready}) answer 503,
 * and so does {@link #LOADING} until the run trains.
 */
public enum RunState {
    LOADING, TRAINING, STOPPING, STOPPED, FAILED, RESUME_FAILED;

    /** Whether a run in this state makes the service not ready. */
    public boolean unhealthy() {
        return this == FAILED || this == RESUME_FAILED;
    }

    /** Whether a run in this state makes the readiness check answer 503 (unhealthy, or still loading). */
    public boolean notReady() {
        return unhealthy() || this == LOADING;
    }
}
