package io.proxstream.solvers.sae;

/**
 * An online SAE trainer: consumes minibatches one at a time and updates its model in place.
 * Implementations are not thread-safe; one stream stage owns a trainer.
 */
public interface SaeTrainer extends AutoCloseable {

    /** The model being trained (live: it changes with every step). */
    SaeModel model();

    /** Short name of the algorithm, as on the command line ({@code pam}, {@code adam-tied}, ...). */
    String algorithm();

    /**
     * One training step on {@code rows} rows of {@code x} (row-major {@code rows × d}, not modified).
     * The returned result is reused by the next call.
     */
    StepResult step(float[] x, int rows);

    /** Samples consumed so far. */
    long samplesSeen();

    @Override
    void close();
}
