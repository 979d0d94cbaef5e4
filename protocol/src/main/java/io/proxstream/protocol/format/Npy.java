package io.proxstream.protocol.format;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NumPy {@code .npy} files (format versions 1.0–3.0) holding a 2-D float array [rows, cols].
 * Reading streams rows in chunks (the file is never loaded whole) and converts {@code f2}, {@code f4}
 * and {@code f8} of either byte order to float32. Writing produces version 1.0 {@code <f4}.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([<>=|])([a-zA-Z])(\\d+)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {
    }

    /** The parsed header. */
    public record Header(ElementType type, ByteOrder order, long[] shape, boolean fortranOrder, long dataOffset) {
    }

    /** Parses the header at the start of {@code ch}; {@code name} is used in error messages. */
    public static Header readHeader(ByteSource ch, String name) throws IOException {
        ByteBuffer pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, pre, 0, name, "header");
        for (int i = 0; i < MAGIC.length; i++) {
            if (pre.get(i) != MAGIC[i]) {
                throw new FormatException(name, "not a .npy file (bad magic)");
            }
        }
        int major = pre.get(6) & 0xff;
        long headerLen;
        long start;
        if (major == 1) {
            headerLen = pre.getShort(8) & 0xffff;
            start = 10;
        } else if (major == 2 || major == 3) {
            headerLen = pre.getInt(8) & 0xffffffffL;
            start = 12;
        } else {
            throw new FormatException(name, "unsupported .npy version " + major);
        }
        if (headerLen > 1 << 20) {
            throw new FormatException(name, "header length " + headerLen + " is implausible");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        readFully(ch, hb, start, name, "header dictionary");
        String header = new String(hb.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher md = DESCR.matcher(header);
        Matcher mf = FORTRAN.matcher(header);
        Matcher ms = SHAPE.matcher(header);
        if (!md.find() || !mf.find() || !ms.find()) {
            throw new FormatException(name, "malformed header " + header.trim());
        }
        ElementType type = switch (md.group(2) + md.group(3)) {
            case "f4" -> ElementType.F32;
            case "f8" -> ElementType.F64;
            case "f2" -> ElementType.F16;
            default -> throw new FormatException(name, "dtype " + md.group(1) + md.group(2) + md.group(3)
                    + " is not a float type (need f2, f4 or f8)");
        };
        ByteOrder order = md.group(1).equals(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        String[] dims = ms.group(1).split(",");
        long[] shape = java.util.Arrays.stream(dims).map(String::trim).filter(s -> !s.isEmpty())
                .mapToLong(Long::parseLong).toArray();
        return new Header(type, order, shape, mf.group(1).equals("True"), start + headerLen);
    }

    private static void readFully(ByteSource ch, ByteBuffer b, long pos, String name, String what) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n < 0) {
                throw new FormatException(name, "truncated " + what + " (file has " + ch.size() + " bytes)");
            }
        }
        b.flip();
    }

    /** Opens a 2-D float .npy file for streaming; validates the header and the file size. */
    public static RowReader open(Path file) throws IOException {
        return open(ByteSource.of(FileChannel.open(file, StandardOpenOption.READ)), file.toString());
    }

    /** Reads a whole .npy body held in memory (e.g. an HTTP request); {@code name} is used in errors. */
    public static float[] decode(byte[] body, String name, int[] shapeOut) throws IOException {
        try (RowReader r = open(ByteSource.of(body), name)) {
            return readRemaining(r, name, shapeOut);
        }
    }

    /** Reads all rows of {@code r} into one array; {@code shapeOut} receives rows and cols. */
    static float[] readRemaining(RowReader r, String name, int[] shapeOut) throws IOException {
        long n = r.rows() * r.cols();
        if (n > Integer.MAX_VALUE - 8) {
            throw new FormatException(name, "too large to load at once (" + n + " values)");
        }
        float[] out = new float[(int) n];
        int off = 0;
        int got;
        float[] buf = new float[4096 * r.cols()];
        while ((got = r.read(buf, 4096)) > 0) {
            System.arraycopy(buf, 0, out, off, got * r.cols());
            off += got * r.cols();
        }
        shapeOut[0] = (int) r.rows();
        shapeOut[1] = r.cols();
        return out;
    }

    static RowReader open(ByteSource ch, String file) throws IOException {
        try {
            Header h = readHeader(ch, file);
            if (h.shape().length != 2) {
                throw new FormatException(file, "array has shape " + java.util.Arrays.toString(h.shape())
                        + "; expected 2-D [rows, cols]");
            }
            long rows = h.shape()[0];
            long cols = h.shape()[1];
            if (h.fortranOrder() && rows > 1 && cols > 1) {
                throw new FormatException(file, "Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
            }
            if (cols <= 0 || cols > Integer.MAX_VALUE / 8) {
                throw new FormatException(file, "row width " + cols + " is out of range");
            }
            long need = h.dataOffset() + rows * cols * h.type().bytes();
            if (ch.size() < need) {
                throw new FormatException(file, "truncated: shape (" + rows + ", " + cols + ") of " + h.type()
                        + " needs " + need + " bytes, file has " + ch.size());
            }
            return new ChannelRowReader(ch, file, h.dataOffset(), rows, (int) cols, h.type(), h.order());
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Reads a whole 2-D .npy file into memory. */
    public static float[] readAll(Path file) throws IOException {
        try (RowReader r = open(file)) {
            return readRemaining(r, file.toString(), new int[2]);
        }
    }

    /** Writes {@code data} as a 2-D {@code <f4} array [rows, cols], atomically. */
    public static void write(Path file, float[] data, int rows, int cols) throws IOException {
        if ((long) rows * cols != data.length) {
            throw new IllegalArgumentException(data.length + " values are not " + rows + "x" + cols);
        }
        AtomicFiles.write(file, out -> {
            try (Writer w = new Writer(out, cols)) {
                w.declareRows(rows);
                w.writeRows(data, rows);
            }
        });
    }

    /**
     * Streams rows into an {@code <f4} .npy file whose row count is declared up front (the header
     * must precede the data). Not atomic by itself; use it inside {@link AtomicFiles#write}.
     */
    public static final class Writer implements AutoCloseable {
        private final DataOutputStream out;
        private final int cols;
        private long declared = -1;
        private long written;
        private final ByteBuffer buf;

        public Writer(java.io.OutputStream out, int cols) {
            this.out = new DataOutputStream(out);
            this.cols = cols;
            this.buf = ByteBuffer.allocate(cols * 4).order(ByteOrder.LITTLE_ENDIAN);
        }

        public void declareRows(long rows) throws IOException {
            String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + rows + ", " + cols + "), }";
            int unpadded = 10 + dict.length() + 1;
            int pad = (64 - unpadded % 64) % 64;
            String header = dict + " ".repeat(pad) + "\n";
            out.write(MAGIC);
            out.write(1);
            out.write(0);
            int len = header.length();
            out.write(len & 0xff);
            out.write((len >>> 8) & 0xff);
            out.write(header.getBytes(StandardCharsets.ISO_8859_1));
            declared = rows;
        }

        public void writeRows(float[] data, int rows) throws IOException {
            if (declared < 0) {
                throw new IllegalStateException("declareRows first");
            }
            if (written + rows > declared) {
                throw new IllegalStateException("writing more rows than declared (" + declared + ")");
            }
            for (int r = 0; r < rows; r++) {
                buf.clear();
                for (int i = 0; i < cols; i++) {
                    buf.putFloat(data[r * cols + i]);
                }
                out.write(buf.array(), 0, cols * 4);
            }
            written += rows;
        }

        @Override
        public void close() throws IOException {
            out.flush();
            if (written != declared) {
                throw new IllegalStateException("declared " + declared + " rows but wrote " + written);
            }
        }
    }

    /** Streams rows from a channel at a fixed offset, converting to float. */
    static final class ChannelRowReader implements RowReader {
        private final ByteSource ch;
        private final String name;
        private final long rows;
        private final int cols;
        private final ElementType type;
        private final ByteOrder order;
        private long pos;
        private long next;
        private ByteBuffer buf = ByteBuffer.allocate(0);

        ChannelRowReader(ByteSource ch, String name, long offset, long rows, int cols, ElementType type, ByteOrder order) {
            this.ch = ch;
            this.name = name;
            this.pos = offset;
            this.rows = rows;
            this.cols = cols;
            this.type = type;
            this.order = order;
        }

        @Override
        public int cols() {
            return cols;
        }

        @Override
        public long rows() {
            return rows;
        }

        @Override
        public int read(float[] out, int maxRows) throws IOException {
            int n = (int) Math.min(maxRows, rows - next);
            if (n <= 0) {
                return 0;
            }
            if (out.length < n * cols) {
                throw new IllegalArgumentException("buffer of " + out.length + " floats cannot hold " + n + " rows of " + cols);
            }
            int bytes = n * cols * type.bytes();
            if (buf.capacity() < bytes) {
                buf = ByteBuffer.allocate(bytes);
            }
            buf.clear().limit(bytes);
            while (buf.hasRemaining()) {
                int got = ch.read(buf, pos + buf.position());
                if (got < 0) {
                    throw new FormatException(name, "truncated at row " + next + " of " + rows);
                }
            }
            buf.flip();
            buf.order(order);
            for (int i = 0; i < n * cols; i++) {
                out[i] = type.read(buf);
            }
            pos += bytes;
            next += n;
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long k = Math.max(0, Math.min(n, rows - next));
            pos += k * cols * type.bytes();
            next += k;
            return k;
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }
}
