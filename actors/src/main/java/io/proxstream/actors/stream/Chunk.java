package io.proxstream.actors.stream;

/**
 * A block of rows as it arrives from a source, before validation.
 *
 * @param data   row-major values ({@code rows × cols}); owned by the chunk once emitted
 * @param rows   number of rows
 * @param cols   width of each row
 * @param offset index of the first row within its origin (for error messages)
 * @param origin where the rows came from (file name, "synthetic", ...)
 */
public record Chunk(float[] data, int rows, int cols, long offset, String origin) {
    public Chunk {
        if (rows < 0 || cols <= 0 || data.length < (long) rows * cols) {
            throw new IllegalArgumentException("chunk of " + data.length + " values cannot hold " + rows + "x" + cols);
        }
    }
}
