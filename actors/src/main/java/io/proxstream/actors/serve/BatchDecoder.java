package io.proxstream.actors.serve;

import io.proxstream.protocol.format.FormatException;
import io.proxstream.protocol.format.Npy;
import io.proxstream.protocol.format.Safetensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Decodes pushed batch bodies: raw little-endian float32 with a declared shape, {@code .npy}, {@code .safetensors}. */
public final class BatchDecoder {
    private BatchDecoder() {
    }

    /** Body formats of {@code POST /runs/NAME/batches}, chosen by Content-Type. */
    public enum Format {
        RAW("application/octet-stream"), NPY("application/x-npy"), SAFETENSORS("application/x-safetensors");

        private final String mediaType;

        Format(String mediaType) {
            this.mediaType = mediaType;
        }

        public String mediaType() {
            return mediaType;
        }

        /** The format of a Content-Type (parameters ignored), or null. */
        public static Format of(String contentType) {
            String t = contentType.split(";")[0].trim().toLowerCase(java.util.Locale.ROOT);
            return switch (t) {
                case "application/octet-stream" -> RAW;
                case "application/x-npy", "application/npy" -> NPY;
                case "application/x-safetensors", "application/safetensors" -> SAFETENSORS;
                default -> null;
            };
        }
    }

    /** A decoded batch. */
    public record Batch(float[] data, int rows, int cols) {
    }

    /** Parses a declared shape "ROWS,COLS" (or "ROWSxCOLS"). */
    public static int[] shape(String declared) throws FormatException {
        String[] p = declared.trim().split("\\s*[,x]\\s*");
        if (p.length != 2) {
            throw new FormatException("X-Shape", "'" + declared + "' is not ROWS,COLS");
        }
        try {
            long rows = Long.parseLong(p[0]);
            long cols = Long.parseLong(p[1]);
            if (rows <= 0 || cols <= 0 || rows * cols > Integer.MAX_VALUE / 4) {
                throw new FormatException("X-Shape", "shape " + rows + "," + cols + " is out of range");
            }
            return new int[] {(int) rows, (int) cols};
        } catch (NumberFormatException e) {
            throw new FormatException("X-Shape", "'" + declared + "' is not ROWS,COLS");
        }
    }

    /**
     * Decodes a raw little-endian float32 body straight from the buffers it arrived in (an HTTP body is a rope of
     * network chunks): no contiguous copy of the body is made, so a push in flight holds its bytes and its floats,
     * not a third copy. A float may straddle two chunks.
     *
     * @param chunks the body's bytes in order; their positions are advanced
     * @param length the body's total length in bytes
     * @param shape the declared shape (rows, cols)
     * @throws FormatException naming the body when its length does not match the shape
     */
    public static Batch decodeRaw(Iterable<ByteBuffer> chunks, long length, int[] shape) throws FormatException {
        if (shape == null) {
            throw new FormatException("request", "raw float32 bodies need their shape: header X-Shape: ROWS,COLS");
        }
        long need = 4L * shape[0] * shape[1];
        if (length != need) {
            throw new FormatException("body", (length < need ? "truncated: " : "longer than declared: ")
                    + "shape " + shape[0] + "," + shape[1] + " of float32 needs " + need + " bytes, got " + length);
        }
        float[] x = new float[shape[0] * shape[1]];
        ByteBuffer carry = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        int at = 0;
        long seen = 0;
        for (ByteBuffer c0 : chunks) {
            ByteBuffer c = c0.slice().order(ByteOrder.LITTLE_ENDIAN);
            seen += c.remaining();
            if (seen > need) {
                throw new FormatException("body", "longer than its Content-Length of " + length + " bytes");
            }
            // finish a float begun in the previous chunk
            while (carry.position() > 0 && c.hasRemaining()) {
                carry.put(c.get());
                if (!carry.hasRemaining()) {
                    x[at++] = carry.getFloat(0);
                    carry.clear();
                }
            }
            int whole = c.remaining() / 4;
            c.asFloatBuffer().get(x, at, whole);
            at += whole;
            c.position(c.position() + 4 * whole);
            carry.put(c);
        }
        if (seen != need) {
            throw new FormatException("body", "truncated: shape " + shape[0] + "," + shape[1] + " of float32 needs " + need
                    + " bytes, got " + seen);
        }
        return new Batch(x, shape[0], shape[1]);
    }

    /**
     * Decodes a body.
     *
     * @param shape declared shape for {@link Format#RAW} (ignored otherwise)
     * @param tensor tensor name for {@link Format#SAFETENSORS} (null: the file's only tensor)
     * @throws FormatException naming what is wrong (truncated, trailing bytes, bad header, ...)
     */
    public static Batch decode(Format format, byte[] body, int[] shape, String tensor) throws IOException {
        return switch (format) {
            case RAW -> decodeRaw(java.util.List.of(ByteBuffer.wrap(body)), body.length, shape);
            case NPY -> {
                int[] s = new int[2];
                float[] x = Npy.decode(body, "npy body", s);
                yield new Batch(x, s[0], s[1]);
            }
            case SAFETENSORS -> {
                int[] s = new int[2];
                float[] x = Safetensors.decodeRows(body, "safetensors body", tensor, s);
                yield new Batch(x, s[0], s[1]);
            }
        };
    }
}
