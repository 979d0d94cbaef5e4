package io.proxstream.actors.stream;

/**
 * A block of rows as it arrives from a source, before validation; or a control token.
 *
 * <p>A control token ({@link #control(Runnable)}) carries no rows. It travels down the training
 * stream in order with the data and its action runs on the training thread once every row that
 * reached training before it has been trained on: a barrier at which the trainer can be
 * snapshotted consistently, whether or not data is flowing. (Rows still waiting in a partial
 * minibatch are not trained yet at that point.)
 *
 * @param data    row-major values ({@code rows × cols}); owned by the chunk once emitted
 * @param rows    number of rows
 * @param cols    width of each row
 * @param offset  index of the first row within its origin (for error messages)
 * @param origin  where the rows came from (file name, "synthetic", "http", ...)
 * @param control the action of a control token, null for data
 */
public record Chunk(float[] data, int rows, int cols, long offset, String origin, Runnable control) {
    public Chunk {
        if (control == null && (rows < 0 || cols <= 0 || data.length < (long) rows * cols)) {
            throw new IllegalArgumentException("chunk of " + (data == null ? 0 : data.length) + " values cannot hold "
                    + rows + "x" + cols);
        }
    }

    /** A data chunk. */
    public Chunk(float[] data, int rows, int cols, long offset, String origin) {
        this(data, rows, cols, offset, origin, null);
    }

    /** A control token running {@code action} at the training barrier. */
    public static Chunk control(Runnable action) {
        return new Chunk(null, 0, 0, 0, "control", java.util.Objects.requireNonNull(action));
    }

    public boolean isControl() {
        return control != null;
    }
}
