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

    @Override
    void close() throws IOException;
}
