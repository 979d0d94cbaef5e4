package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The ring all-reduce with its messages moved in memory: one FIFO queue per link (what Artery keeps between two actors),
 * the links served in a random order, so pieces of different steps interleave as they would on a network.
 */
class RingAllReduceTest {

    /** Runs N participants to completion; returns their arrays. */
    private static float[][] run(float[][] inputs, int piece, long seed) {
        int n = inputs.length;
        float[][] data = new float[n][];
        RingAllReduce[] ring = new RingAllReduce[n];
        List<ArrayDeque<RingAllReduce.Piece>> links = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            data[i] = inputs[i].clone();
            ring[i] = new RingAllReduce(n, i, data[i], piece);
            links.add(new ArrayDeque<>()); // link i carries what i sends to i+1
        }
        long sent = 0;
        for (int i = 0; i < n; i++) {
            for (RingAllReduce.Piece p : ring[i].start()) {
                links.get(i).add(p);
                sent += p.values().length;
            }
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        long[] sentBy = new long[n];
        while (links.stream().anyMatch(q -> !q.isEmpty())) {
            int l = rnd.nextInt(n);
            RingAllReduce.Piece p = links.get(l).poll();
            if (p == null) {
                continue;
            }
            sentBy[l] += p.values().length;
            int to = (l + 1) % n;
            for (RingAllReduce.Piece q : ring[to].receive(p)) {
                links.get(to).add(q);
            }
        }
        for (int i = 0; i < n; i++) {
            assertTrue(ring[i].done(), "participant " + i + " of " + n + " finished");
            assertEquals(ring[i].floatsSent(), sentBy[i], "participant " + i + " sent what its schedule says");
        }
        return data;
    }

    /** The sum each segment's ring gives: the fold in {@link RingAllReduce#foldOrder}, in float, entry by entry. */
    static float[] ringOrderSum(float[][] in) {
        int n = in.length;
        int length = in[0].length;
        RingAllReduce layout = new RingAllReduce(n, 0, new float[length], 1);
        float[] expect = new float[length];
        for (int j = 0; j < n; j++) {
            int[] order = RingAllReduce.foldOrder(n, j);
            for (int t = layout.segmentStart(j); t < layout.segmentStart(j + 1); t++) {
                float acc = in[order[0]][t];
                for (int o = 1; o < n; o++) {
                    acc = acc + in[order[o]][t];
                }
                expect[t] = acc;
            }
        }
        return expect;
    }

    @Test
    void everyParticipantEndsWithTheSameBitsOfTheRingOrderSum() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int n : new int[] {1, 2, 3, 4, 5, 8}) {
            for (int length : new int[] {1, 3, 7, 100, 1001}) {
                for (int piece : new int[] {1, 4, 64, 5000}) {
                    float[][] in = new float[n][length];
                    for (float[] a : in) {
                        for (int t = 0; t < length; t++) {
                            a[t] = (float) (rnd.nextDouble() * 2 - 1) * (float) Math.pow(10, rnd.nextInt(-3, 4));
                        }
                    }
                    float[][] out = run(in, piece, rnd.nextLong());
                    float[] expect = ringOrderSum(in);
                    for (int i = 0; i < n; i++) {
                        assertArrayEquals(expect, out[i], "participant " + i + " of " + n + ", length " + length + ", piece " + piece);
                    }
                    // and it is the sum (an independent double-precision one, to float rounding)
                    for (int t = 0; t < length; t++) {
                        double s = 0;
                        double mag = 0;
                        for (float[] a : in) {
                            s += a[t];
                            mag += Math.abs(a[t]);
                        }
                        assertEquals(s, out[0][t], 1e-6 * mag + 1e-30, "entry " + t);
                    }
                }
            }
        }
    }

    @Test
    void eachParticipantSendsTwiceItsShareNotTheWholeArray() {
        int n = 8;
        RingAllReduce r = new RingAllReduce(n, 3, new float[8000], 100);
        assertEquals(2L * 7 * 1000, r.floatsSent(), "2 (N-1)/N of 8 000 floats");
        assertEquals(2L * 7 * 10, r.piecesSent(), "segments of 1 000 floats in pieces of 100");
    }

    @Test
    void aPieceOffTheScheduleIsRefusedAndChangesNothing() {
        float[] data = {1, 2, 3, 4, 5, 6};
        RingAllReduce r = new RingAllReduce(3, 1, data, 2);
        // participant 1 expects segment 0 at reduce step 0 (from participant 0)
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> r.receive(new RingAllReduce.Piece(false, 0, 1, 2, new float[] {9, 9})));
        assertTrue(e.getMessage().contains("expects segment 0 at reduce step 0, got segment 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> r.receive(new RingAllReduce.Piece(false, 0, 0, 1, new float[] {9, 9})));
        assertTrue(e.getMessage().contains("outside segment 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> r.receive(new RingAllReduce.Piece(false, 5, 0, 0, new float[] {9})));
        assertTrue(e.getMessage().contains("reduce step 5"), e.getMessage());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, data);
        assertFalse(r.done());
        r.receive(new RingAllReduce.Piece(false, 0, 0, 0, new float[] {10, 20}));
        e = assertThrows(IllegalArgumentException.class, () -> r.receive(new RingAllReduce.Piece(false, 0, 0, 0, new float[] {10, 20})));
        assertTrue(e.getMessage().contains("a piece sent twice"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new RingAllReduce(3, 3, data, 2));
        assertThrows(IllegalArgumentException.class, () -> new RingAllReduce(3, 0, data, 0));
    }
}
