package io.proxstream.protocol.format;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes files so that a reader sees either the old complete file or the new complete file, never a
 * partial one: the content goes to a temporary file in the same directory, is forced to disk, renamed
 * over the target, and the directory is forced too, so that when {@link #write} returns the new file
 * survives a crash (it is durable). Runs of zero bytes a megabyte long are skipped rather than written,
 * so a checkpoint whose statistics are mostly zeros is a sparse file where the file system allows.
 * Temporary files are named {@code .NAME.PID.RANDOM.tmp}; {@link #removeStale} deletes those that an
 * interrupted process left behind.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes the content produced by {@code body}. */
    @FunctionalInterface
    public interface Body {
        void write(OutputStream out) throws IOException;
    }

    public static void write(Path target, Body body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        // a unique sibling name, created with the process umask (createTempFile would make it private)
        Path tmp = dir.resolve("." + target.getFileName() + "." + ProcessHandle.current().pid() + "."
                + java.util.concurrent.ThreadLocalRandom.current().nextLong(Long.MAX_VALUE) + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW);
                 HoleOutputStream out = new HoleOutputStream(ch)) {
                body.write(out);
                out.finish();
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            forceDirectory(dir);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Forces a directory's entries to disk (a rename is durable only then). Where the platform cannot
     * open a directory this is a no-op (the rename is still atomic); a failure to force one is an error.
     */
    static void forceDirectory(Path dir) throws IOException {
        FileChannel d;
        try {
            d = FileChannel.open(dir, StandardOpenOption.READ);
        } catch (IOException | UnsupportedOperationException e) {
            return;
        }
        try (d) {
            d.force(true);
        }
    }

    /**
     * Deletes the temporary files of interrupted writes in {@code dir} ({@code .NAME.PID.RANDOM.tmp}) whose
     * process is gone; returns how many it deleted. This process's own writes in progress are left alone.
     */
    public static int removeStale(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        int n = 0;
        try (var s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String name = p.getFileName().toString();
                java.util.regex.Matcher m = STALE.matcher(name);
                if (m.matches()) {
                    long pid = Long.parseLong(m.group(1));
                    boolean alive = pid == ProcessHandle.current().pid() || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                    if (!alive && Files.deleteIfExists(p)) {
                        n++;
                    }
                }
            }
        }
        return n;
    }

    private static final java.util.regex.Pattern STALE = java.util.regex.Pattern.compile("\\..+\\.(\\d+)\\.\\d+\\.tmp");

    /** Buffers a megabyte at a time; an all-zero megabyte is skipped (a hole), the file size kept exact. */
    private static final class HoleOutputStream extends OutputStream {
        private static final int CHUNK = 1 << 20;
        private static final byte[] ZEROS = new byte[CHUNK];
        private final FileChannel ch;
        private final byte[] buf = new byte[CHUNK];
        private int len;
        private long size;

        HoleOutputStream(FileChannel ch) {
            this.ch = ch;
        }

        @Override
        public void write(int b) throws IOException {
            if (len == CHUNK) {
                drain();
            }
            buf[len++] = (byte) b;
        }

        @Override
        public void write(byte[] b, int off, int n) throws IOException {
            while (n > 0) {
                if (len == CHUNK) {
                    drain();
                }
                int k = Math.min(n, CHUNK - len);
                System.arraycopy(b, off, buf, len, k);
                len += k;
                off += k;
                n -= k;
            }
        }

        private void drain() throws IOException {
            if (len == CHUNK && java.util.Arrays.mismatch(buf, 0, len, ZEROS, 0, len) < 0) {
                size += len; // leave a hole: the file system reads zeros there
            } else {
                java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(buf, 0, len);
                while (bb.hasRemaining()) {
                    size += ch.write(bb, size);
                }
            }
            len = 0;
        }

        /** Writes what is buffered and makes the file exactly as long as what was written. */
        void finish() throws IOException {
            drain();
            if (ch.size() < size) {
                ch.write(java.nio.ByteBuffer.wrap(new byte[1]), size - 1);
            }
        }
    }

    /** Writes a string as UTF-8. */
    public static void writeString(Path target, String content) throws IOException {
        write(target, out -> out.write(content.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
}
