package io.proxstream.protocol.format;

import java.io.IOException;

/** Sequential reader of a 2-D float table [rows, cols] stored in a file, converting to float32. */
public interface RowReader extends AutoCloseable {

    /** Width of a row. */
    int cols();

    /** Number of rows the file declares. */
    long rows();

    /**
     * Reads up to {@code maxRows} next rows into {@code out} (row-major, modified).
     *
     * @return rows read; 0 at the end
     * @throws FormatException if the file ends before the declared data does
     */
    int read(float[] out, int maxRows) throws IOException;

    /**
     * Skips the next {@code n} rows (fewer at the end of the file); returns the rows skipped. The default reads
     * and discards them; positional readers only move their position.
     */
    default long skip(long n) throws IOException {
        float[] scratch = new float[Math.max(1, cols()) * 256];
        long done = 0;
        while (done < n) {
            int got = read(scratch, (int) Math.min(256, n - done));
            if (got == 0) {
                break;
            }
            done += got;
        }
        return done;
    }

    @Override
    void close() throws IOException;
}
