package io.proxstream.actors.cluster;

import java.util.ArrayList;
import java.util.List;

/**
 * One participant's side of a ring all-reduce (sum) of a float array among N participants, free of any transport: it
 * says what to send to its successor and takes what its predecessor sent, so a cluster can move the messages over
 * Artery (or any channel that keeps the order between two peers) and a test can move them in memory.
 *
 * <p><b>Method.</b> The array is cut into N segments. In the reduce-scatter phase, at step s (0 ≤ s &lt; N−1)
 * participant i sends segment (i − s) mod N to i + 1, which adds what it holds; after N − 1 steps participant i holds
 * the whole sum of segment (i + 1) mod N. In the all-gather phase that segment travels once more around the ring, each
 * participant keeping it. Every participant sends and receives 2·(N − 1)/N of the array, all links at once, so the
 * time per participant does not grow with N (the star through a coordinator sends N arrays over one link).
 *
 * <p><b>Pieces.</b> A segment moves in pieces of at most {@code piece} floats, and a piece is reduced and forwarded
 * as soon as it arrives, so the steps overlap (a pipeline) and no message is larger than a piece.
 *
 * <p><b>Bits.</b> Segment j's sum is the fold in ring order starting at its first sender,
 * {@code ((x_j + x_{j+1}) + x_{j+2}) + …} (indices mod N), computed once, by the participant that completes it, and
 * copied by the others: every participant ends with the same bits ({@link #foldOrder} says the order, so a
 * single-process reference can reproduce them).
 */
public final class RingAllReduce {

    /** What goes to the successor: a piece of a segment at a step of a phase. */
    public record Piece(boolean gather, int step, int segment, int offset, float[] values) {
    }

    private final int n;
    private final int me;
    private final float[] data;
    private final int pieceFloats;
    private final int[] start;
    /** Floats received per step of each phase (a step's segment arrives whole, once). */
    private final int[] reducedAt;
    private final int[] gatheredAt;

    /**
     * @param participants N ≥ 1
     * @param index        this participant's place in the ring, 0 ≤ index &lt; N
     * @param data         this participant's array (every participant's of the same length); on completion it holds the sum
     * @param piece        the most floats one message carries (≥ 1)
     */
    public RingAllReduce(int participants, int index, float[] data, int piece) {
        if (participants < 1 || index < 0 || index >= participants) {
            throw new IllegalArgumentException("ring of " + participants + " participants has no place " + index);
        }
        if (piece < 1) {
            throw new IllegalArgumentException("a piece must carry at least one float, got " + piece);
        }
        this.n = participants;
        this.me = index;
        this.data = data;
        this.pieceFloats = piece;
        this.start = new int[n + 1];
        for (int j = 0; j <= n; j++) {
            start[j] = (int) ((long) data.length * j / n);
        }
        this.reducedAt = new int[Math.max(0, n - 1)];
        this.gatheredAt = new int[Math.max(0, n - 1)];
    }

    /** The segment of array indices {@code [from, to)} segment j covers. */
    public int segmentStart(int j) {
        return start[j];
    }

    private int length(int segment) {
        return start[segment + 1] - start[segment];
    }

    private int mod(int i) {
        return ((i % n) + n) % n;
    }

    /** The first messages to the successor: the pieces of step 0 (none when alone). */
    public List<Piece> start() {
        List<Piece> out = new ArrayList<>();
        if (n > 1) {
            pieces(false, 0, me, out);
        }
        return out;
    }

    private void pieces(boolean gather, int step, int segment, List<Piece> out) {
        for (int o = start[segment]; o < start[segment + 1]; o += pieceFloats) {
            out.add(piece(gather, step, segment, o, Math.min(pieceFloats, start[segment + 1] - o)));
        }
    }

    private Piece piece(boolean gather, int step, int segment, int offset, int length) {
        float[] v = new float[length];
        System.arraycopy(data, offset, v, 0, length);
        return new Piece(gather, step, segment, offset, v);
    }

    /**
     * Takes a piece from the predecessor and returns what to send on (at most one piece). A piece that does not belong
     * to this participant's schedule (wrong segment for its step, out of the segment, a repeated range past the expected
     * total) is refused with the reason and changes nothing.
     */
    public List<Piece> receive(Piece p) {
        int expectSegment = p.gather() ? mod(me - p.step()) : mod(me - 1 - p.step());
        if (p.step() < 0 || p.step() >= n - 1 || p.segment() != expectSegment) {
            throw new IllegalArgumentException("participant " + me + " of " + n + " expects segment " + expectSegment + " at "
                    + (p.gather() ? "gather" : "reduce") + " step " + p.step() + ", got segment " + p.segment());
        }
        int from = p.offset();
        int to = from + p.values().length;
        if (from < start[p.segment()] || to > start[p.segment() + 1] || p.values().length == 0) {
            throw new IllegalArgumentException("piece [" + from + ", " + to + ") lies outside segment " + p.segment() + " ["
                    + start[p.segment()] + ", " + start[p.segment() + 1] + ")");
        }
        List<Piece> out = new ArrayList<>(1);
        if (!p.gather()) {
            if (reducedAt[p.step()] + p.values().length > length(p.segment())) {
                throw new IllegalArgumentException("participant " + me + " received more of segment " + p.segment() + " at reduce step "
                        + p.step() + " than the segment holds (a piece sent twice)");
            }
            reducedAt[p.step()] += p.values().length;
            float[] v = p.values();
            for (int t = 0; t < v.length; t++) {
                data[from + t] = v[t] + data[from + t];
            }
            // the reduced piece goes on: at the next reduce step, or, when this completes the segment's sum, as the first
            // gather step
            out.add(p.step() < n - 2 ? piece(false, p.step() + 1, p.segment(), from, v.length)
                    : piece(true, 0, p.segment(), from, v.length));
        } else {
            if (gatheredAt[p.step()] + p.values().length > length(p.segment())) {
                throw new IllegalArgumentException("participant " + me + " received more of segment " + p.segment() + " at gather step "
                        + p.step() + " than the segment holds (a piece sent twice)");
            }
            gatheredAt[p.step()] += p.values().length;
            System.arraycopy(p.values(), 0, data, from, p.values().length);
            if (p.step() < n - 2) {
                out.add(new Piece(true, p.step() + 1, p.segment(), from, p.values()));
            }
        }
        return out;
    }

    /**
     * Whether this participant holds the whole sum: at every step of both phases the segment it receives has arrived
     * whole (N−1 steps of reduce-scatter and N−1 of all-gather, one segment each).
     */
    public boolean done() {
        for (int s = 0; s < n - 1; s++) {
            if (reducedAt[s] != length(mod(me - 1 - s)) || gatheredAt[s] != length(mod(me - s))) {
                return false;
            }
        }
        return true;
    }

    /** Floats this participant sends in all: 2·(N − 1)/N of the array (up to the segments' rounding). */
    public long floatsSent() {
        long s = 0;
        for (int step = 0; step < n - 1; step++) {
            s += length(mod(me - step)) + length(mod(me + 1 - step));
        }
        return s;
    }

    /** Messages this participant sends in all (its pieces over both phases): at most this many are ever in flight on its link. */
    public long piecesSent() {
        long s = 0;
        for (int step = 0; step < n - 1; step++) {
            s += (length(mod(me - step)) + pieceFloats - 1) / pieceFloats + (length(mod(me + 1 - step)) + pieceFloats - 1) / pieceFloats;
        }
        return s;
    }

    /**
     * Runs the all-reduce among {@code arrays.length} participants in this process (messages handed over in order); each
     * array ends holding the sum, with the bits the ring over a network gives (they do not depend on the order in which
     * links deliver).
     */
    public static void inMemory(float[][] arrays, int piece) {
        int n = arrays.length;
        for (float[] a : arrays) {
            if (a.length != arrays[0].length) {
                throw new IllegalArgumentException("ring participants hold arrays of " + arrays[0].length + " and " + a.length + " floats");
            }
        }
        RingAllReduce[] ring = new RingAllReduce[n];
        java.util.ArrayDeque<Piece> links = new java.util.ArrayDeque<>();
        java.util.ArrayDeque<Integer> to = new java.util.ArrayDeque<>();
        for (int i = 0; i < n; i++) {
            ring[i] = new RingAllReduce(n, i, arrays[i], piece);
        }
        for (int i = 0; i < n; i++) {
            for (Piece p : ring[i].start()) {
                links.add(p);
                to.add((i + 1) % n);
            }
        }
        while (!links.isEmpty()) {
            Piece p = links.poll();
            int r = to.poll();
            for (Piece q : ring[r].receive(p)) {
                links.add(q);
                to.add((r + 1) % n);
            }
        }
        for (int i = 0; i < n; i++) {
            if (!ring[i].done()) {
                throw new IllegalStateException("participant " + i + " did not finish the in-memory ring");
            }
        }
    }

    /** The order in which segment j's sum adds the participants' arrays: j, j+1, …, j+N−1 (mod N). */
    public static int[] foldOrder(int participants, int segment) {
        int[] o = new int[participants];
        for (int t = 0; t < participants; t++) {
            o[t] = (segment + t) % participants;
        }
        return o;
    }
}
