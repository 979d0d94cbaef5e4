package io.proxstream.actors.serve;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Credit for the bytes of ingested batches that wait for training. A producer reserves the size of
 * its batch before its body is read; the reservation is released when the training stream takes
 * the batch. While the budget is exhausted, reservations wait (in arrival order), so the memory
 * held by queued batches never exceeds the budget: this is the back-pressure of the ingest
 * endpoints. Thread-safe; waits never block a thread.
 */
public final class ByteBudget {
    private final long capacity;
    private final ScheduledExecutorService timer;
    private long available;
    private boolean closed;
    private final Deque<Waiter> waiters = new ArrayDeque<>();

    private record Waiter(long bytes, CompletableFuture<Boolean> done) {
    }

    public ByteBudget(long capacity, ScheduledExecutorService timer) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive, got " + capacity);
        }
        this.capacity = capacity;
        this.available = capacity;
        this.timer = timer;
    }

    public long capacity() {
        return capacity;
    }

    /** Bytes reserved right now. */
    public synchronized long reserved() {
        return capacity - available;
    }

    /**
     * Reserves {@code bytes}; completes with true once reserved, or false if {@code timeoutMillis}
     * passed first (0 = do not wait; negative = no time limit) or the budget was {@link #close closed}
     * first: so every wait ends, by its timeout or by the end of the run. A request larger than the whole
     * budget is a programming error: check {@link #capacity()} first.
     */
    public CompletionStage<Boolean> reserve(long bytes, long timeoutMillis) {
        if (bytes > capacity || bytes < 0) {
            throw new IllegalArgumentException(bytes + " bytes cannot fit a budget of " + capacity);
        }
        Waiter w;
        synchronized (this) {
            if (closed) {
                return CompletableFuture.completedFuture(false);
            }
            if (waiters.isEmpty() && available >= bytes) {
                available -= bytes;
                return CompletableFuture.completedFuture(true);
            }
            if (timeoutMillis == 0) {
                return CompletableFuture.completedFuture(false);
            }
            w = new Waiter(bytes, new CompletableFuture<>());
            waiters.addLast(w);
        }
        if (timeoutMillis > 0) {
            timer.schedule(() -> expire(w), timeoutMillis, TimeUnit.MILLISECONDS);
        }
        return w.done();
    }

    private void expire(Waiter w) {
        boolean removed;
        synchronized (this) {
            removed = waiters.remove(w);
        }
        if (removed) {
            w.done().complete(false);
        }
        // a waiter at the head that expired may have blocked smaller ones behind it
        grant();
    }

    /** Returns {@code bytes} to the budget and wakes waiters that now fit, in order. */
    public void release(long bytes) {
        synchronized (this) {
            available = Math.min(capacity, available + bytes);
        }
        grant();
    }

    private void grant() {
        while (true) {
            Waiter w;
            synchronized (this) {
                w = waiters.peekFirst();
                if (w == null || available < w.bytes()) {
                    return;
                }
                waiters.pollFirst();
                available -= w.bytes();
            }
            if (!w.done().complete(true)) {
                release(w.bytes());
            }
        }
    }

    /**
     * The run no longer takes data (stopping, failed, shut down): every waiting reservation completes with
     * false now, and every later one at once. Releases still return bytes.
     */
    public void close() {
        java.util.List<Waiter> woken;
        synchronized (this) {
            closed = true;
            woken = new java.util.ArrayList<>(waiters);
            waiters.clear();
        }
        woken.forEach(w -> w.done().complete(false));
    }
}
