package io.proxstream.protocol.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.format.FormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class IngestFrameTest {

    private static ByteBuffer body(ByteBuffer frame) {
        ByteBuffer b = frame.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = b.getInt();
        assertEquals(b.remaining(), n, "length field counts the rest of the frame");
        return b.slice();
    }

    @Test
    void requestsAndRepliesRoundTrip() throws FormatException {
        float[] x = {1, -2, 3.5f, 4, 5, 6};
        IngestFrame.Request r = IngestFrame.decode(body(IngestFrame.encode("run-1", x, 2, 3)));
        assertEquals("run-1", r.run());
        assertEquals(2, r.rows());
        assertEquals(3, r.cols());
        assertArrayEquals(x, r.data());
        IngestFrame.Reply rep = IngestFrame.decodeReply(body(IngestFrame.reply(IngestFrame.REJECTED, 7, "row 3 holds NaN")));
        assertEquals(IngestFrame.REJECTED, rep.status());
        assertEquals(7, rep.rows());
        assertEquals("row 3 holds NaN", rep.reason());
    }

    @Test
    void layoutIsTheDocumentedOne() {
        ByteBuffer f = IngestFrame.encode("ab", new float[] {1f}, 1, 1).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(4 + 2 + 8 + 4, f.getInt(0));
        assertEquals('P', f.get(4));
        assertEquals(1, f.get(5));
        assertEquals(1, f.get(6));
        assertEquals(2, f.get(7));
        assertEquals('a', f.get(8));
        assertEquals(1, f.getInt(10));
        assertEquals(1, f.getInt(14));
        assertEquals(1f, f.getFloat(18));
    }

    @Test
    void malformedFramesAreRejectedWithTheReason() {
        ByteBuffer good = body(IngestFrame.encode("r", new float[] {1, 2, 3, 4}, 2, 2));
        assertMessage(mutate(good, 0, (byte) 'Q'), "bad magic");
        assertMessage(mutate(good, 1, (byte) 9), "version 9");
        assertMessage(mutate(good, 2, (byte) 2), "dtype code 2");
        assertMessage(mutate(good, 3, (byte) 0), "run-name length 0");
        ByteBuffer shortBody = good.duplicate();
        shortBody.limit(shortBody.limit() - 3);
        assertMessage(shortBody, "carries");
        ByteBuffer tiny = ByteBuffer.allocate(2);
        assertMessage(tiny, "shorter than its header");
        ByteBuffer zero = body(IngestFrame.encode("r", new float[0], 0, 2));
        assertMessage(zero, "empty batch");
    }

    @Test
    void authenticationFramesRoundTripAndMalformedOnesNameTheReason() throws FormatException {
        String token = "tökén-0123456789abcdef";
        ByteBuffer body = body(IngestFrame.encodeAuth(token));
        assertTrue(IngestFrame.isAuth(body));
        assertEquals(false, IngestFrame.isAuth(body(IngestFrame.encode("r", new float[] {1}, 1, 1))));
        assertEquals(token, IngestFrame.decodeAuth(body));
        FormatException e = assertThrows(FormatException.class, () -> IngestFrame.decodeAuth(mutate(body, 1, (byte) 7)));
        assertTrue(e.getMessage().contains("version 7"), e.getMessage());
        ByteBuffer cut = body.duplicate();
        cut.limit(cut.limit() - 2);
        e = assertThrows(FormatException.class, () -> IngestFrame.decodeAuth(cut));
        assertTrue(e.getMessage().contains("carries"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> IngestFrame.encodeAuth(""));
        assertThrows(IllegalArgumentException.class, () -> IngestFrame.encodeAuth("x".repeat(256)));
    }

    private static ByteBuffer mutate(ByteBuffer b, int index, byte v) {
        ByteBuffer c = ByteBuffer.allocate(b.remaining());
        c.put(b.duplicate()).flip();
        c.put(index, v);
        return c;
    }

    private static void assertMessage(ByteBuffer body, String fragment) {
        FormatException e = assertThrows(FormatException.class, () -> IngestFrame.decode(body));
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should say '" + fragment + "'");
    }
}
