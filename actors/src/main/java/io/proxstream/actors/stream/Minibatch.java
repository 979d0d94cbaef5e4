package io.proxstream.actors.stream;

/**
 * Exactly {@code rows} validated training rows (the last minibatch of a finite stream may be
 * shorter than the configured size), or a control token passed on from a {@link Chunk}.
 *
 * @param x       row-major values; owned by the minibatch once emitted (null for control)
 * @param rows    number of rows
 * @param cols    width
 * @param control the action of a control token, null for data
 */
public record Minibatch(float[] x, int rows, int cols, Runnable control) {
    /** A data minibatch. */
    public Minibatch(float[] x, int rows, int cols) {
        this(x, rows, cols, null);
    }
}
