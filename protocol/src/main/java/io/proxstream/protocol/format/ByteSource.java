package io.proxstream.protocol.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/** Positional reads from a file or an in-memory body, so that one parser serves both. */
public interface ByteSource extends AutoCloseable {

    long size() throws IOException;

    /** Reads into {@code dst} from {@code position}; returns bytes read or -1 at the end. */
    int read(ByteBuffer dst, long position) throws IOException;

    @Override
    void close() throws IOException;

    static ByteSource of(FileChannel ch) {
        return new ByteSource() {
            @Override
            public long size() throws IOException {
                return ch.size();
            }

            @Override
            public int read(ByteBuffer dst, long position) throws IOException {
                return ch.read(dst, position);
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }

    static ByteSource of(byte[] bytes) {
        return new ByteSource() {
            @Override
            public long size() {
                return bytes.length;
            }

            @Override
            public int read(ByteBuffer dst, long position) {
                if (position >= bytes.length) {
                    return -1;
                }
                int n = (int) Math.min(dst.remaining(), bytes.length - position);
                dst.put(bytes, (int) position, n);
                return n;
            }

            @Override
            public void close() {
            }
        };
    }
}
