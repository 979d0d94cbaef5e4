package io.proxstream.actors.cluster;

import io.proxstream.actors.serve.ByteBudget;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The rows a cluster node received on its own ingest endpoint, waiting to be trained by its worker. Thread-safe (the
 * HTTP threads add, the worker actor leases and settles).
 *
 * <p>Life of a row: <em>accepted</em> (validated and queued; its bytes hold part of the {@link ByteBudget}, which is
 * the ingest's back-pressure) → <em>leased</em> to a round (copied into the round's minibatches, still held here) →
 * <em>merged</em> (the coordinator included the round) → <em>trained</em> once a coordinator checkpoint holds the
 * round (its bytes return to the budget, an acknowledgement waiting for it completes). A lease whose round the
 * coordinator did not include, or every unsettled lease when the coordinator changed (a new coordinator resumes from
 * its checkpoint, so merged rounds after it are not in the model), goes back to the front of the queue in its order.
 * So every accepted row is trained exactly once into the model that survives, or is still here.
 *
 * <p>The ledger {@code accepted = trained + queued} holds at every {@link #ledger()} (queued counts leased and merged
 * rows too: they are not trained until durable); rows of a node that dies are lost with it, which the coordinator
 * counts from the node's last report. So that no accepted row can be missing from that report, a push is answered only
 * once the run's coordinator has <em>recorded</em> its rows ({@link #recorded}: the coordinator wrote a ledger holding
 * the node's count up to and beyond them); each {@link #add} tells the {@link #onAdded listener}, the worker, which
 * reports at once.
 */
public final class LiveRows {

    /** A pushed batch: its rows, how many of them are not yet trained, and the acknowledgement waiting for all of them. */
    private static final class Batch {
        final float[] data;
        final int rows;
        int untrained;
        final CompletableFuture<Boolean> trained;

        Batch(float[] data, int rows, CompletableFuture<Boolean> trained) {
            this.data = data;
            this.rows = rows;
            this.untrained = rows;
            this.trained = trained;
        }
    }

    /** Rows {@code [from, from + count)} of a batch. */
    private record Piece(Batch batch, int from, int count) {
    }

    /** The rows of one round: its pieces in order; merged once the coordinator included the round. */
    private static final class Lease {
        final List<Piece> pieces = new ArrayList<>();
        int rows;
        boolean merged;
    }

    /**
     * What a node reports: every accepted row is trained or queued (leased and merged rows are queued); {@code recorded}:
     * the count the coordinator confirmed it wrote down.
     */
    public record Ledger(long incarnation, long accepted, long trained, long queued, long available, long leased, long heldBytes,
                         long budgetBytes, long recorded) {
    }

    private final int cols;
    private final ByteBudget budget;
    private final Deque<Piece> waiting = new ArrayDeque<>();
    private final TreeMap<Long, Lease> leases = new TreeMap<>();
    private long available;
    private long accepted;
    private long trained;
    /** The node's accepted count the coordinator last confirmed it recorded. */
    private long recorded;
    /** Pushes waiting for the coordinator to record them, by the accepted count their rows bring the node to. */
    private final TreeMap<Long, List<CompletableFuture<Boolean>>> unrecorded = new TreeMap<>();
    private volatile Runnable onAdded = () -> { };
    /** Tells this queue's process apart from another under the same node address (a restart): random, never 0. */
    private final long incarnation = java.util.concurrent.ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);

    /** What a queued batch waits for: its rows recorded by the coordinator, and trained into a checkpointed model. */
    public record Added(CompletionStage<Boolean> recorded, CompletionStage<Boolean> trained) {
    }

    public LiveRows(int cols, ByteBudget budget) {
        if (cols < 1) {
            throw new IllegalArgumentException("row width must be positive, got " + cols);
        }
        this.cols = cols;
        this.budget = budget;
    }

    public int cols() {
        return cols;
    }

    public ByteBudget budget() {
        return budget;
    }

    /** Who hears of every {@link #add} (after it, outside this object's lock): the worker, which then reports. */
    public void onAdded(Runnable listener) {
        this.onAdded = listener;
    }

    /**
     * Queues a validated batch whose {@code 4 · rows · cols} bytes the caller reserved in the {@link #budget()}. Its
     * {@link Added#recorded()} completes with true once the coordinator recorded the node's count with these rows in it
     * ({@link #recorded}), its {@link Added#trained()} with true when every row of it is trained (in a checkpointed
     * model); both with false if the rows are dropped first ({@link #close}).
     */
    public Added add(float[] data, int rows) {
        if (rows < 1 || (long) rows * cols != data.length) {
            throw new IllegalArgumentException("a batch of " + data.length + " floats is not " + rows + " rows of " + cols);
        }
        CompletableFuture<Boolean> rec = new CompletableFuture<>();
        Batch b = new Batch(data, rows, new CompletableFuture<>());
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("the run takes no more rows");
            }
            waiting.addLast(new Piece(b, 0, rows));
            available += rows;
            accepted += rows;
            unrecorded.computeIfAbsent(accepted, a -> new ArrayList<>()).add(rec);
        }
        onAdded.run();
        return new Added(rec, b.trained);
    }

    /**
     * The coordinator recorded that this node accepted {@code count} rows (in a ledger it wrote down): every push whose
     * rows are within that count is answered. A count from a coordinator that knew an earlier state is harmless (counts
     * only grow).
     */
    public void recorded(long count) {
        List<CompletableFuture<Boolean>> done = new ArrayList<>();
        synchronized (this) {
            if (count <= recorded) {
                return;
            }
            recorded = Math.min(count, accepted);
            Map<Long, List<CompletableFuture<Boolean>>> head = unrecorded.headMap(recorded, true);
            head.values().forEach(done::addAll);
            head.clear();
        }
        done.forEach(f -> f.complete(true));
    }

    /**
     * Leases up to {@code maxRows} rows for {@code round}, in whole minibatches of {@code batch} rows (fewer if fewer wait;
     * none if less than one minibatch waits), and returns them copied into one array (length rows · cols). A round leases
     * once; leasing a round that holds a lease returns an empty array.
     */
    public synchronized float[] lease(long round, long maxRows, int batch) {
        long want = Math.min(maxRows, available) / batch * batch;
        if (want <= 0 || leases.containsKey(round)) {
            return new float[0];
        }
        if (want * cols > Integer.MAX_VALUE - 8) {
            want = (Integer.MAX_VALUE - 8) / cols / batch * batch;
        }
        float[] x = new float[(int) (want * cols)];
        Lease l = new Lease();
        int at = 0;
        while (l.rows < want) {
            Piece p = waiting.pollFirst();
            int take = (int) Math.min(p.count(), want - l.rows);
            System.arraycopy(p.batch().data, p.from() * cols, x, at * cols, take * cols);
            l.pieces.add(new Piece(p.batch(), p.from(), take));
            if (take < p.count()) {
                waiting.addFirst(new Piece(p.batch(), p.from() + take, p.count() - take));
            }
            l.rows += take;
            at += take;
        }
        available -= l.rows;
        leases.put(round, l);
        return x;
    }

    /** The coordinator included {@code round}'s result in its model: the rows wait for a checkpoint to be trained. */
    public synchronized void merged(long round) {
        Lease l = leases.get(round);
        if (l != null) {
            l.merged = true;
        }
    }

    /** The coordinator did not include {@code round}'s result: its rows go back to the front of the queue. */
    public synchronized void excluded(long round) {
        Lease l = leases.remove(round);
        if (l != null) {
            requeue(List.of(l));
        }
    }

    /**
     * A coordinator checkpoint holds every round up to {@code round}: merged leases up to it are trained (their bytes go
     * back to the budget, acknowledgements complete). Returns the rows trained now.
     */
    public long durable(long round) {
        List<CompletableFuture<Boolean>> done = new ArrayList<>();
        long freed = 0;
        long rows = 0;
        synchronized (this) {
            Iterator<Map.Entry<Long, Lease>> it = leases.headMap(round, true).entrySet().iterator();
            while (it.hasNext()) {
                Lease l = it.next().getValue();
                if (!l.merged) {
                    continue;
                }
                it.remove();
                for (Piece p : l.pieces) {
                    p.batch().untrained -= p.count();
                    if (p.batch().untrained == 0) {
                        done.add(p.batch().trained);
                    }
                }
                rows += l.rows;
                freed += 4L * l.rows * cols;
            }
            trained += rows;
        }
        if (freed > 0) {
            budget.release(freed);
        }
        done.forEach(f -> f.complete(true));
        return rows;
    }

    /**
     * The coordinator changed (it resumed from its checkpoint, which may predate merged rounds): every lease that is not
     * trained goes back to the front of the queue, oldest round first. Returns the rows requeued.
     */
    public synchronized long coordinatorChanged() {
        long rows = 0;
        List<Lease> all = new ArrayList<>(leases.values());
        for (Lease l : all) {
            rows += l.rows;
        }
        leases.clear();
        requeue(all);
        return rows;
    }

    /** Puts the leases' pieces back at the front, keeping the order: the first lease's first piece first. */
    private void requeue(List<Lease> ls) {
        for (int i = ls.size() - 1; i >= 0; i--) {
            List<Piece> ps = ls.get(i).pieces;
            for (int j = ps.size() - 1; j >= 0; j--) {
                waiting.addFirst(ps.get(j));
            }
            available += ls.get(i).rows;
        }
    }

    /** The node's ledger now (one consistent snapshot). */
    public synchronized Ledger ledger() {
        long leased = 0;
        for (Lease l : leases.values()) {
            leased += l.rows;
        }
        return new Ledger(incarnation, accepted, trained, accepted - trained, available, leased, budget.reserved(), budget.capacity(),
                recorded);
    }

    private volatile boolean closed;

    /** Whether rows are still taken ({@link #close} not called). */
    public boolean accepting() {
        return !closed;
    }

    /**
     * The run ended or the node stops: no more rows are taken ({@link #add} refuses), acknowledgements still waiting
     * complete with false (their rows were not trained), and so do pushes not yet recorded.
     */
    public void close() {
        List<CompletableFuture<Boolean>> open = new ArrayList<>();
        synchronized (this) {
            closed = true;
            unrecorded.values().forEach(open::addAll);
            unrecorded.clear();
            for (Piece p : waiting) {
                open.add(p.batch().trained);
            }
            for (Lease l : leases.values()) {
                for (Piece p : l.pieces) {
                    open.add(p.batch().trained);
                }
            }
        }
        budget.close();
        open.forEach(f -> f.complete(false));
    }
}
