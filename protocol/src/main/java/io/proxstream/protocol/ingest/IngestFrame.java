package io.proxstream.protocol.ingest;

import io.proxstream.protocol.format.FormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The length-prefixed binary framing of the TCP ingest endpoint. All integers are little-endian.
 *
 * <pre>
 * request (client → server)
 *   u32  n           length of everything after this field
 *   u8   'P' (0x50)  magic
 *   u8   1           version
 *   u8   1           dtype: 1 = float32 (the only one)
 *   u8   L           length of the run name, 1..64
 *   L    run name    ASCII [A-Za-z0-9_.-]
 *   u32  rows
 *   u32  cols
 *   rows·cols·4      float32 values, row-major
 *
 * authentication (client → server), the first frame of a connection to a server that has a token
 *   u32  n           length of everything after this field
 *   u8   'A' (0x41)  magic
 *   u8   1           version
 *   u8   L           length of the token, 1..255
 *   L    token       the server's bearer token, UTF-8
 *   (answered like a request: accepted with 0 rows, or fatal, after which the server closes the
 *   connection; a server without a token accepts it too, so a client can always send it)
 *
 * reply (server → client), one per request, in order
 *   u32  n           length of everything after this field
 *   u8   status      0 = accepted, 1 = rejected (the connection stays usable), 2 = fatal (the server closes it)
 *   u32  rows        rows accepted
 *   n-5  reason      UTF-8, empty when accepted
 * </pre>
 *
 * The server reads the next request only after the previous one is queued for training, so a
 * producer that outruns training finds its writes blocking: TCP flow control is the back-pressure.
 */
public final class IngestFrame {
    public static final byte MAGIC = 'P';
    /** The magic of an authentication frame. */
    public static final byte AUTH_MAGIC = 'A';
    public static final byte VERSION = 1;
    public static final byte DTYPE_F32 = 1;
    /** Bytes of a request before the run name: magic, version, dtype, name length. */
    public static final int FIXED_PREFIX = 4;

    public static final byte ACCEPTED = 0;
    public static final byte REJECTED = 1;
    public static final byte FATAL = 2;

    private IngestFrame() {
    }

    /** A decoded request: the run and the rows. */
    public record Request(String run, int rows, int cols, float[] data) {
    }

    /**
     * Decodes the body of a request (everything after the length field).
     *
     * @throws FormatException naming what is wrong with the frame
     */
    public static Request decode(ByteBuffer body) throws FormatException {
        ByteBuffer b = body.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < FIXED_PREFIX) {
            throw new FormatException("frame of " + b.remaining() + " bytes is shorter than its header");
        }
        byte magic = b.get();
        byte version = b.get();
        byte dtype = b.get();
        int nameLen = b.get() & 0xff;
        if (magic != MAGIC) {
            throw new FormatException("bad magic 0x" + Integer.toHexString(magic & 0xff) + " (expected 0x50 'P')");
        }
        if (version != VERSION) {
            throw new FormatException("unsupported frame version " + version + " (expected 1)");
        }
        if (dtype != DTYPE_F32) {
            throw new FormatException("unsupported dtype code " + dtype + " (1 = float32 is the only one)");
        }
        if (nameLen < 1 || nameLen > 64 || b.remaining() < nameLen + 8) {
            throw new FormatException("bad run-name length " + nameLen);
        }
        byte[] name = new byte[nameLen];
        b.get(name);
        String run = new String(name, StandardCharsets.US_ASCII);
        long rows = b.getInt() & 0xffffffffL;
        long cols = b.getInt() & 0xffffffffL;
        if (rows == 0 || cols == 0) {
            throw new FormatException("empty batch: " + rows + " rows of " + cols + " values");
        }
        long need = rows * cols * 4;
        if (need != b.remaining()) {
            throw new FormatException("header declares " + rows + "x" + cols + " float32 (" + need + " bytes) but the frame carries "
                    + b.remaining() + " bytes");
        }
        float[] data = new float[(int) (rows * cols)];
        b.asFloatBuffer().get(data);
        return new Request(run, (int) rows, (int) cols, data);
    }

    /** Encodes a request, length field included. */
    public static ByteBuffer encode(String run, float[] data, int rows, int cols) {
        byte[] name = run.getBytes(StandardCharsets.US_ASCII);
        int n = FIXED_PREFIX + name.length + 8 + rows * cols * 4;
        ByteBuffer b = ByteBuffer.allocate(4 + n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(n).put(MAGIC).put(VERSION).put(DTYPE_F32).put((byte) name.length).put(name).putInt(rows).putInt(cols);
        b.asFloatBuffer().put(data, 0, rows * cols);
        b.position(b.position() + rows * cols * 4);
        return b.flip();
    }

    /** Whether a frame body (after the length field) is an authentication frame. */
    public static boolean isAuth(ByteBuffer body) {
        return body.remaining() > 0 && body.get(body.position()) == AUTH_MAGIC;
    }

    /**
     * The token of an authentication frame's body (after the length field).
     *
     * @throws FormatException naming what is wrong with the frame
     */
    public static String decodeAuth(ByteBuffer body) throws FormatException {
        ByteBuffer b = body.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 3 || b.get() != AUTH_MAGIC) {
            throw new FormatException("not an authentication frame");
        }
        byte version = b.get();
        if (version != VERSION) {
            throw new FormatException("unsupported authentication frame version " + version + " (expected 1)");
        }
        int len = b.get() & 0xff;
        if (len < 1 || len != b.remaining()) {
            throw new FormatException("authentication frame declares a token of " + len + " bytes but carries " + b.remaining());
        }
        byte[] t = new byte[len];
        b.get(t);
        return new String(t, StandardCharsets.UTF_8);
    }

    /** Encodes an authentication frame, length field included. */
    public static ByteBuffer encodeAuth(String token) {
        byte[] t = token.getBytes(StandardCharsets.UTF_8);
        if (t.length < 1 || t.length > 255) {
            throw new IllegalArgumentException("a token must have 1 to 255 bytes, got " + t.length);
        }
        ByteBuffer b = ByteBuffer.allocate(4 + 3 + t.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(3 + t.length).put(AUTH_MAGIC).put(VERSION).put((byte) t.length).put(t);
        return b.flip();
    }

    /** Encodes a reply, length field included. */
    public static ByteBuffer reply(byte status, int rows, String reason) {
        byte[] r = reason.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + 5 + r.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(5 + r.length).put(status).putInt(rows).put(r);
        return b.flip();
    }

    /** A decoded reply. */
    public record Reply(byte status, int rows, String reason) {
    }

    /** Decodes a reply body (after the length field). */
    public static Reply decodeReply(ByteBuffer body) throws FormatException {
        ByteBuffer b = body.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 5) {
            throw new FormatException("reply of " + b.remaining() + " bytes is too short");
        }
        byte status = b.get();
        int rows = b.getInt();
        byte[] r = new byte[b.remaining()];
        b.get(r);
        return new Reply(status, rows, new String(r, StandardCharsets.UTF_8));
    }
}
