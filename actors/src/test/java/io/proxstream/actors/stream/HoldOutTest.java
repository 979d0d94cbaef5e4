package io.proxstream.actors.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class HoldOutTest {

    /** Row r of the stream holds the value r in both columns, so every row is identifiable. */
    private static Chunk rows(long first, int n) {
        float[] x = new float[2 * n];
        for (int r = 0; r < n; r++) {
            x[2 * r] = first + r;
            x[2 * r + 1] = first + r;
        }
        return new Chunk(x, n, 2, first, "t");
    }

    @Test
    void everyStrideThRowAcrossChunkBoundariesIsHeldOutAndTheRestPassInOrder() {
        HoldOut h = new HoldOut(2, 100, 4, 1);
        Set<Float> passed = new HashSet<>();
        long next = 0;
        for (int n : new int[] {1, 2, 3, 7, 4, 1, 13}) { // 31 rows in chunks of uneven sizes
            Chunk out = h.divert(rows(next, n));
            float prev = -1;
            for (int r = 0; r < out.rows(); r++) {
                float v = out.data()[2 * r];
                assertTrue(v > prev, "order kept");
                prev = v;
                passed.add(v);
            }
            next += n;
        }
        // rows 3, 7, 11, ..., 27 are held out: 7 of 31
        assertEquals(7, h.heldOut());
        assertEquals(7, h.size());
        float[] kept = h.copy();
        for (int i = 0; i < 7; i++) {
            assertEquals(4 * i + 3, kept[2 * i], 0);
            assertTrue(!passed.contains((float) (4 * i + 3)), "a held-out row never reaches training");
        }
        assertEquals(31 - 7, passed.size());
    }

    @Test
    void aFullReservoirReplacesRowsAndStaysBounded() {
        HoldOut h = new HoldOut(2, 5, 2, 7);
        for (int c = 0; c < 100; c++) {
            h.divert(rows(10L * c, 10));
        }
        assertEquals(500, h.heldOut());
        assertEquals(5, h.size());
        float[] kept = h.copy();
        assertEquals(10, kept.length);
        Set<Float> distinct = new HashSet<>();
        for (int i = 0; i < 5; i++) {
            assertEquals(1, Math.floorMod((long) kept[2 * i], 2), "only held-out (odd) rows are kept");
            distinct.add(kept[2 * i]);
        }
        assertEquals(5, distinct.size());
        assertTrue(distinct.stream().anyMatch(v -> v > 500), "later rows replace earlier ones: " + distinct);
    }

    @Test
    void controlTokensPassAndWrongWidthsAreRefused() {
        HoldOut h = new HoldOut(2, 5, 2, 7);
        Chunk token = Chunk.control(() -> { });
        assertSame(token, h.divert(token));
        assertThrows(IllegalArgumentException.class, () -> h.divert(new Chunk(new float[3], 1, 3, 0, "t")));
        assertThrows(IllegalArgumentException.class, () -> new HoldOut(2, 5, 1, 7));
    }
}
