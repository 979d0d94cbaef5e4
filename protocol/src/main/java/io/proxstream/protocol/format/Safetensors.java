package io.proxstream.protocol.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code .safetensors} format of Hugging Face: an 8-byte little-endian header length N, N bytes
 * of JSON mapping tensor names to {@code {dtype, shape, data_offsets}} (offsets relative to the end
 * of the header) plus an optional {@code __metadata__} string map, then the raw little-endian data.
 * Reads F32, F64, F16 and BF16 tensors as float32; writes F32.
 */
public final class Safetensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L << 20;

    private Safetensors() {
    }

    /** A tensor's entry in the header. */
    public record Info(String name, ElementType type, long[] shape, long begin, long end) {
        /** Number of elements. */
        public long elements() {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            return n;
        }
    }

    /** A tensor held in memory as float32, row-major. */
    public record Tensor(long[] shape, float[] data) {
        public Tensor {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            if (n != data.length) {
                throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape) + " does not hold " + data.length + " values");
            }
        }
    }

    /** The parsed header: tensors in file order, metadata, and where the data starts. */
    public record Header(Map<String, Info> tensors, Map<String, String> metadata, long dataStart) {
    }

    public static Header readHeader(ByteSource ch, String name) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new FormatException(name, "truncated: " + size + " bytes, a .safetensors file starts with an 8-byte header length");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        ch.read(lenBuf, 0);
        long n = lenBuf.getLong(0);
        if (n <= 0 || n > MAX_HEADER) {
            throw new FormatException(name, "header length " + n + " is out of range (not a .safetensors file?)");
        }
        if (8 + n > size) {
            throw new FormatException(name, "truncated: header declares " + n + " bytes, file has " + size);
        }
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        while (hb.hasRemaining()) {
            if (ch.read(hb, 8 + hb.position()) < 0) {
                throw new FormatException(name, "truncated header");
            }
        }
        JsonNode root;
        try {
            root = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new FormatException(name, "header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new FormatException(name, "header is not a JSON object");
        }
        long dataStart = 8 + n;
        long dataLen = size - dataStart;
        Map<String, Info> tensors = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                e.getValue().fields().forEachRemaining(m -> meta.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            tensors.put(e.getKey(), info(name, e.getKey(), e.getValue(), dataLen));
        }
        return new Header(tensors, meta, dataStart);
    }

    private static Info info(String file, String tensor, JsonNode node, long dataLen) throws FormatException {
        JsonNode dt = node.get("dtype");
        JsonNode sh = node.get("shape");
        JsonNode off = node.get("data_offsets");
        if (dt == null || sh == null || off == null || !sh.isArray() || !off.isArray() || off.size() != 2) {
            throw new FormatException(file, "tensor '" + tensor + "' lacks dtype, shape or data_offsets");
        }
        ElementType type = switch (dt.asText()) {
            case "F32" -> ElementType.F32;
            case "F64" -> ElementType.F64;
            case "F16" -> ElementType.F16;
            case "BF16" -> ElementType.BF16;
            case "I64" -> ElementType.I64;
            default -> throw new FormatException(file, "tensor '" + tensor + "' has dtype " + dt.asText()
                    + "; need F32, F64, F16, BF16 or I64");
        };
        long[] shape = new long[sh.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = sh.get(i).asLong(-1);
            if (shape[i] < 0) {
                throw new FormatException(file, "tensor '" + tensor + "' has a negative dimension");
            }
            count *= shape[i];
        }
        long begin = off.get(0).asLong(-1);
        long end = off.get(1).asLong(-1);
        if (begin < 0 || end < begin || end - begin != count * type.bytes()) {
            throw new FormatException(file, "tensor '" + tensor + "' has data_offsets [" + begin + ", " + end
                    + "] inconsistent with shape " + java.util.Arrays.toString(shape) + " of " + dt.asText());
        }
        if (end > dataLen) {
            throw new FormatException(file, "truncated: tensor '" + tensor + "' ends at data byte " + end
                    + ", file holds " + dataLen);
        }
        return new Info(tensor, type, shape, begin, end);
    }

    /** Reads every tensor of a file into memory. */
    public static Map<String, Tensor> readAll(Path file) throws IOException {
        try (ByteSource ch = ByteSource.of(FileChannel.open(file, StandardOpenOption.READ))) {
            Header h = readHeader(ch, file.toString());
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (Info i : h.tensors().values()) {
                if (i.type() == ElementType.I64) {
                    throw new FormatException(file, "tensor '" + i.name() + "' is I64, not a float tensor");
                }
                long n = i.elements();
                if (n > Integer.MAX_VALUE - 8) {
                    throw new FormatException(file, "tensor '" + i.name() + "' too large to load at once");
                }
                float[] data = new float[(int) n];
                int cols = i.shape().length == 0 ? 1 : (int) Math.max(1, i.shape()[i.shape().length - 1]);
                long rows = cols == 0 ? 0 : n / cols;
                RowReader r = new Npy.ChannelRowReader(ch, file.toString(), h.dataStart() + i.begin(), rows, cols, i.type(), ByteOrder.LITTLE_ENDIAN);
                float[] buf = new float[1024 * cols];
                int off = 0;
                int got;
                while ((got = r.read(buf, 1024)) > 0) {
                    System.arraycopy(buf, 0, data, off, got * cols);
                    off += got * cols;
                }
                out.put(i.name(), new Tensor(i.shape(), data));
            }
            return out;
        }
    }

    /** Reads the metadata map only. */
    public static Map<String, String> readMetadata(Path file) throws IOException {
        try (ByteSource ch = ByteSource.of(FileChannel.open(file, StandardOpenOption.READ))) {
            return readHeader(ch, file.toString()).metadata();
        }
    }

    /**
     * Opens a 2-D tensor for streaming rows. With {@code tensor == null} the file must hold exactly
     * one tensor.
     */
    public static RowReader openRows(Path file, String tensor) throws IOException {
        return openRows(ByteSource.of(FileChannel.open(file, StandardOpenOption.READ)), file.toString(), tensor);
    }

    /** Reads one 2-D tensor of a .safetensors body held in memory (e.g. an HTTP request). */
    public static float[] decodeRows(byte[] body, String name, String tensor, int[] shapeOut) throws IOException {
        try (RowReader r = openRows(ByteSource.of(body), name, tensor)) {
            return Npy.readRemaining(r, name, shapeOut);
        }
    }

    static RowReader openRows(ByteSource ch, String file, String tensor) throws IOException {
        try {
            Header h = readHeader(ch, file);
            Info i;
            if (tensor == null) {
                if (h.tensors().size() != 1) {
                    throw new FormatException(file, "holds " + h.tensors().size() + " tensors " + h.tensors().keySet()
                            + "; name the one to read");
                }
                i = h.tensors().values().iterator().next();
            } else {
                i = h.tensors().get(tensor);
                if (i == null) {
                    throw new FormatException(file, "no tensor '" + tensor + "'; has " + h.tensors().keySet());
                }
            }
            if (i.type() == ElementType.I64) {
                throw new FormatException(file, "tensor '" + i.name() + "' is I64, not a float tensor");
            }
            if (i.shape().length != 2) {
                throw new FormatException(file, "tensor '" + i.name() + "' has shape " + java.util.Arrays.toString(i.shape())
                        + "; expected 2-D [rows, cols]");
            }
            if (i.shape()[1] <= 0 || i.shape()[1] > Integer.MAX_VALUE / 8) {
                throw new FormatException(file, "row width " + i.shape()[1] + " is out of range");
            }
            return new Npy.ChannelRowReader(ch, file, h.dataStart() + i.begin(), i.shape()[0], (int) i.shape()[1],
                    i.type(), ByteOrder.LITTLE_ENDIAN);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Metadata key of the CRC-32C of the data section written by {@link #writeArrays}. */
    public static final String CHECKSUM_KEY = "proxstream.crc32c";

    /**
     * An array of one of the exact types F32 ({@code float[]}), F64 ({@code double[]}) or I64
     * ({@code long[]}) with its shape.
     */
    public record Array(ElementType type, long[] shape, Object data) {
        public Array {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            int len = switch (type) {
                case F32 -> ((float[]) data).length;
                case F64 -> ((double[]) data).length;
                case I64 -> ((long[]) data).length;
                default -> throw new IllegalArgumentException("arrays are F32, F64 or I64, not " + type);
            };
            if (n != len) {
                throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape) + " does not hold " + len + " values");
            }
        }

        public static Array of(float[] a) {
            return new Array(ElementType.F32, new long[] {a.length}, a);
        }

        public static Array of(double[] a) {
            return new Array(ElementType.F64, new long[] {a.length}, a);
        }

        public static Array of(long[] a) {
            return new Array(ElementType.I64, new long[] {a.length}, a);
        }
    }

    /**
     * Writes arrays of exact types with metadata, atomically, adding the CRC-32C of the data section
     * under {@link #CHECKSUM_KEY} so that {@link #readArrays} detects corruption and truncation.
     */
    public static void writeArrays(Path file, Map<String, Array> arrays, Map<String, String> metadata) throws IOException {
        Map<String, Streamed> streams = new LinkedHashMap<>();
        arrays.forEach((k, a) -> streams.put(k, Streamed.of(a)));
        writeStreamed(file, streams, metadata);
    }

    /** Element {@code i} of a streamed tensor, as a double (F32 values are narrowed, I64 values cast). */
    @FunctionalInterface
    public interface Elements {
        double get(long i);
    }

    /**
     * A tensor written from a generator of its elements, so that no array or buffer of the tensor's
     * size is needed: sizes and offsets are 64-bit throughout, and a tensor may exceed 2 GiB and the
     * largest Java array. I64 elements are produced by {@link #longs}.
     */
    public record Streamed(ElementType type, long[] shape, Elements values, java.util.function.LongUnaryOperator longs) {
        public Streamed {
            if (type != ElementType.F32 && type != ElementType.F64 && type != ElementType.I64) {
                throw new IllegalArgumentException("streamed tensors are F32, F64 or I64, not " + type);
            }
            if ((type == ElementType.I64) != (longs != null)) {
                throw new IllegalArgumentException("I64 tensors (and only they) take a long generator");
            }
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dimension in " + java.util.Arrays.toString(shape));
                }
            }
        }

        public static Streamed ofDoubles(ElementType type, long[] shape, Elements values) {
            return new Streamed(type, shape, values, null);
        }

        public static Streamed ofLongs(long[] shape, java.util.function.LongUnaryOperator values) {
            return new Streamed(ElementType.I64, shape, null, values);
        }

        static Streamed of(Array a) {
            return switch (a.type()) {
                case F32 -> {
                    float[] v = (float[]) a.data();
                    yield ofDoubles(ElementType.F32, a.shape(), i -> v[(int) i]);
                }
                case F64 -> {
                    double[] v = (double[]) a.data();
                    yield ofDoubles(ElementType.F64, a.shape(), i -> v[(int) i]);
                }
                default -> {
                    long[] v = (long[]) a.data();
                    yield ofLongs(a.shape(), i -> v[(int) i]);
                }
            };
        }

        public long elements() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        long bytes() {
            return Math.multiplyExact(elements(), (long) type.bytes());
        }
    }

    /**
     * Writes streamed tensors with metadata, atomically, with the CRC-32C of the data section under
     * {@link #CHECKSUM_KEY}. The generators are called twice (checksum, then data), in index order.
     */
    public static void writeStreamed(Path file, Map<String, Streamed> tensors, Map<String, String> metadata) throws IOException {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        forEachChunk(tensors, (buf, len) -> crc.update(buf, 0, len));
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put(CHECKSUM_KEY, Long.toHexString(crc.getValue()));
        ObjectNode header = JSON.createObjectNode();
        ObjectNode m = header.putObject("__metadata__");
        new java.util.TreeMap<>(meta).forEach(m::put); // sorted: the same state gives the same bytes
        long offset = 0;
        for (Map.Entry<String, Streamed> e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().type().name());
            var shape = t.putArray("shape");
            for (long sdim : e.getValue().shape()) {
                shape.add(sdim);
            }
            var off = t.putArray("data_offsets");
            off.add(offset);
            off.add(offset + e.getValue().bytes());
            offset += e.getValue().bytes();
        }
        byte[] padded = paddedHeader(header);
        AtomicFiles.write(file, out -> {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length).array());
            out.write(padded);
            forEachChunk(tensors, (buf, len) -> out.write(buf, 0, len));
        });
    }

    @FunctionalInterface
    private interface ChunkSink {
        void accept(byte[] buf, int len) throws IOException;
    }

    private static void forEachChunk(Map<String, Streamed> tensors, ChunkSink sink) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (Streamed t : tensors.values()) {
            long n = t.elements();
            for (long i = 0; i < n; i++) {
                if (buf.remaining() < 8) {
                    sink.accept(buf.array(), buf.position());
                    buf.clear();
                }
                switch (t.type()) {
                    case F32 -> buf.putFloat((float) t.values().get(i));
                    case F64 -> buf.putDouble(t.values().get(i));
                    default -> buf.putLong(t.longs().applyAsLong(i));
                }
            }
        }
        sink.accept(buf.array(), buf.position());
    }

    /** Receives the elements of each tensor of a file in index order (see {@link #readStreamed}). */
    public interface Visitor {
        /** A tensor starts; its elements follow. */
        default void begin(Info tensor) throws IOException {
        }

        /** Element {@code i} of an F32/F64/F16/BF16 tensor. */
        void value(Info tensor, long i, double v) throws IOException;

        /** Element {@code i} of an I64 tensor. */
        void value(Info tensor, long i, long v) throws IOException;
    }

    /**
     * Reads every tensor of a file in chunks, handing each element to the visitor: no buffer of a
     * tensor's size, 64-bit offsets (tensors over 2 GiB and over the largest Java array are fine), the
     * checksum verified at the end (a mismatch throws after the visit: callers keep what they read
     * until it returns). Returns the header.
     */
    public static Header readStreamed(Path file, Visitor visitor) throws IOException {
        try (ByteSource ch = ByteSource.of(FileChannel.open(file, StandardOpenOption.READ))) {
            Header h = readHeader(ch, file.toString());
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (Info info : h.tensors().values()) {
                visitor.begin(info);
                int size = info.type().bytes();
                long pos = h.dataStart() + info.begin();
                long end = h.dataStart() + info.end();
                long index = 0;
                while (pos < end) {
                    b.clear();
                    b.limit((int) Math.min(b.capacity(), end - pos));
                    while (b.hasRemaining()) {
                        if (ch.read(b, pos + b.position()) < 0) {
                            throw new FormatException(file, "truncated in tensor '" + info.name() + "'");
                        }
                    }
                    crc.update(b.array(), 0, b.limit());
                    pos += b.limit();
                    b.flip();
                    while (b.remaining() >= size) {
                        if (info.type() == ElementType.I64) {
                            visitor.value(info, index++, b.getLong());
                        } else if (info.type() == ElementType.F64) {
                            visitor.value(info, index++, b.getDouble());
                        } else {
                            visitor.value(info, index++, (double) info.type().read(b));
                        }
                    }
                }
            }
            String expected = h.metadata().get(CHECKSUM_KEY);
            if (expected != null && !expected.equals(Long.toHexString(crc.getValue()))) {
                throw new FormatException(file, "checksum mismatch (stored " + expected + ", computed "
                        + Long.toHexString(crc.getValue()) + "): the file is corrupt");
            }
            return h;
        }
    }

    /** Arrays and metadata read back with their exact types; the checksum is verified when present. */
    public record Contents(Map<String, Array> arrays, Map<String, String> metadata) {
    }

    /**
     * Reads a file written by {@link #writeArrays} (or any F32/F64/F16/BF16/I64 file) into arrays,
     * verifying its checksum; reads in chunks, so a tensor may exceed 2 GiB as long as its elements
     * fit one Java array (a larger one is refused with its name and size).
     */
    public static Contents readArrays(Path file) throws IOException {
        Map<String, Array> out = new LinkedHashMap<>();
        Header h = readStreamed(file, new Visitor() {
            private Object data;

            @Override
            public void begin(Info i) throws IOException {
                long n = i.elements();
                if (n > Integer.MAX_VALUE - 8) {
                    throw new FormatException(file, "tensor '" + i.name() + "' has " + n + " elements, more than one Java array holds");
                }
                data = switch (i.type()) {
                    case F64 -> new double[(int) n];
                    case I64 -> new long[(int) n];
                    default -> new float[(int) n];
                };
                ElementType t = i.type() == ElementType.F64 || i.type() == ElementType.I64 ? i.type() : ElementType.F32;
                out.put(i.name(), new Array(t, i.shape(), data));
            }

            @Override
            public void value(Info i, long k, double v) {
                if (data instanceof double[] d) {
                    d[(int) k] = v;
                } else {
                    ((float[]) data)[(int) k] = (float) v;
                }
            }

            @Override
            public void value(Info i, long k, long v) {
                ((long[]) data)[(int) k] = v;
            }
        });
        return new Contents(out, h.metadata());
    }

    private static byte[] paddedHeader(ObjectNode header) throws IOException {
        byte[] json = JSON.writeValueAsBytes(header);
        int pad = (8 - json.length % 8) % 8;
        byte[] padded = new byte[json.length + pad];
        System.arraycopy(json, 0, padded, 0, json.length);
        java.util.Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    /** Writes float32 tensors (in map order) and metadata, atomically. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            new java.util.TreeMap<>(metadata).forEach(m::put); // sorted: the same state gives the same bytes
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shape = t.putArray("shape");
            for (long s : e.getValue().shape()) {
                shape.add(s);
            }
            long len = 4L * e.getValue().data().length;
            var off = t.putArray("data_offsets");
            off.add(offset);
            off.add(offset + len);
            offset += len;
        }
        byte[] padded = paddedHeader(header);
        AtomicFiles.write(file, out -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length);
            out.write(len.array());
            out.write(padded);
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (Tensor t : tensors.values()) {
                for (float v : t.data()) {
                    if (!buf.hasRemaining()) {
                        out.write(buf.array(), 0, buf.position());
                        buf.clear();
                    }
                    buf.putFloat(v);
                }
            }
            out.write(buf.array(), 0, buf.position());
        });
    }
}
