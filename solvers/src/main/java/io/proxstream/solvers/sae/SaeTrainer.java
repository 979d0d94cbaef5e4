package io.proxstream.solvers.sae;

/**
 * An online SAE trainer: consumes minibatches one at a time and updates its model in place.
 *
 * <p>A step has two stages, so that a stream can run them as its encoder stage and its
 * decoder-statistics stage: {@link #encoderStage} does the gradient updates and returns the codes
 * that {@link #decoderStage} accumulates (and solves from, when due). {@link #step} runs both.
 * Both stages of one trainer must run on one thread, in order: the decoder stage writes the
 * decoder the next encoder stage reads. Implementations are not thread-safe.
 */
public interface SaeTrainer extends AutoCloseable {

    /** The model being trained (live: it changes with every step). */
    SaeModel model();

    /** Short name of the algorithm, as on the command line ({@code pam}, {@code adam-tied}, ...). */
    String algorithm();

    /** Gradient updates on {@code rows} rows of {@code x} (row-major {@code rows × d}, not modified). */
    EncodedBatch encoderStage(float[] x, int rows);

    /** Decoder statistics and closed-form solve, if the trainer has them; records the solve in the result. */
    StepResult decoderStage(EncodedBatch batch);

    /** One whole training step. */
    default StepResult step(float[] x, int rows) {
        return decoderStage(encoderStage(x, rows));
    }

    /** Samples consumed so far. */
    long samplesSeen();

    /**
     * A copy of the trainer's complete state (call between steps, on the trainer's thread).
     * Restoring it into a fresh trainer of the same kind and shape continues training exactly.
     */
    TrainerState snapshot();

    /** Replaces the trainer's state (model included) by {@code state}. */
    void restore(TrainerState state);

    @Override
    void close();
}
