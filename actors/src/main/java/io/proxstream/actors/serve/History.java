package io.proxstream.actors.serve;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/** The last report windows of a run, for the dashboard; bounded, thread-safe. */
public final class History {

    /**
     * One point.
     *
     * @param samples         vectors trained on
     * @param seconds         seconds since the server started the run
     * @param loss            training loss of the window
     * @param fvu             training FVU of the window
     * @param l0              L0 of the window
     * @param dead            dead latents
     * @param trainRate       training vectors per second in the window
     * @param ingestRate      rows per second accepted by the ingest endpoints since the previous point
     * @param rejectedBatches batches rejected at ingest so far
     */
    public record Point(long samples, double seconds, double loss, double fvu, double l0, int dead, double trainRate,
                        double ingestRate, long rejectedBatches) {
    }

    private final int capacity;
    private final ArrayDeque<Point> points = new ArrayDeque<>();

    public History(int capacity) {
        this.capacity = capacity;
    }

    public synchronized void add(Point p) {
        if (points.size() == capacity) {
            points.pollFirst();
        }
        points.addLast(p);
    }

    /** Points with {@code samples > after}, oldest first. */
    public synchronized List<Point> after(long after) {
        List<Point> out = new ArrayList<>();
        for (Point p : points) {
            if (p.samples() > after) {
                out.add(p);
            }
        }
        return out;
    }
}
