package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.format.FormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Raw float32 bodies decoded from their network chunks give the same floats as from one contiguous array. */
class BatchDecoderTest {
    private static byte[] body(float[] x) {
        ByteBuffer b = ByteBuffer.allocate(4 * x.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : x) {
            b.putFloat(v);
        }
        return b.array();
    }

    /** The body cut at the given offsets into separate buffers (each with a non-zero position, as slices can have). */
    private static List<ByteBuffer> cut(byte[] body, int... at) {
        List<ByteBuffer> out = new ArrayList<>();
        int from = 0;
        for (int i = 0; i <= at.length; i++) {
            int to = i < at.length ? at[i] : body.length;
            byte[] padded = new byte[to - from + 3];
            System.arraycopy(body, from, padded, 3, to - from);
            out.add(ByteBuffer.wrap(padded, 3, to - from));
            from = to;
        }
        return out;
    }

    @Test
    void chunksCutAnywhereDecodeToTheSameFloats() throws Exception {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = new float[5 * 7];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian() * 100;
        }
        byte[] b = body(x);
        int[] shape = {5, 7};
        float[] whole = BatchDecoder.decode(BatchDecoder.Format.RAW, b, shape, null).data();
        assertArrayEquals(x, whole);
        // every single cut point (inside a float at each of its 4 offsets, at chunk edges), and two cuts a byte apart
        for (int c = 0; c <= b.length; c++) {
            assertArrayEquals(x, BatchDecoder.decodeRaw(cut(b, c), b.length, shape).data(), "cut at " + c);
        }
        for (int c = 1; c + 1 < b.length; c++) {
            assertArrayEquals(x, BatchDecoder.decodeRaw(cut(b, c, c + 1), b.length, shape).data(), "cuts at " + c + ", " + (c + 1));
        }
        // many one-byte chunks
        int[] all = new int[b.length - 1];
        for (int i = 0; i < all.length; i++) {
            all[i] = i + 1;
        }
        BatchDecoder.Batch one = BatchDecoder.decodeRaw(cut(b, all), b.length, shape);
        assertArrayEquals(x, one.data());
        assertEquals(5, one.rows());
        assertEquals(7, one.cols());
    }

    @Test
    void aBodyThatDoesNotMatchItsShapeOrLengthIsRefusedNamingTheBody() {
        byte[] b = body(new float[12]);
        FormatException shortBody = assertThrows(FormatException.class,
                () -> BatchDecoder.decodeRaw(cut(b, 5), b.length, new int[] {4, 4}));
        assertTrue(shortBody.getMessage().contains("truncated") && shortBody.getMessage().contains("64 bytes"), shortBody.getMessage());
        // chunks that end before the declared length (a body cut short after its Content-Length was checked)
        FormatException cutShort = assertThrows(FormatException.class,
                () -> BatchDecoder.decodeRaw(cut(java.util.Arrays.copyOf(b, 30), 7), b.length, new int[] {3, 4}));
        assertTrue(cutShort.getMessage().contains("truncated") && cutShort.getMessage().contains("got 30"), cutShort.getMessage());
        FormatException longer = assertThrows(FormatException.class,
                () -> BatchDecoder.decodeRaw(cut(b, 9), 40, new int[] {2, 5}));
        assertTrue(longer.getMessage().contains("longer than"), longer.getMessage());
        FormatException noShape = assertThrows(FormatException.class, () -> BatchDecoder.decodeRaw(cut(b), b.length, null));
        assertTrue(noShape.getMessage().contains("X-Shape"), noShape.getMessage());
    }
}
