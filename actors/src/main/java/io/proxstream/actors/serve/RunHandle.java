package io.proxstream.actors.serve;

import io.proxstream.actors.stream.Chunk;
import io.proxstream.actors.stream.Validate;
import io.proxstream.monitoring.IngestMeters;
import io.proxstream.protocol.config.RunConfig;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.QueueOfferResult;

/**
 * The thread-safe face of a served run, used by the ingest endpoints without going through the
 * run's actor: reserve room in the run's byte budget, then hand over a validated batch.
 */
public final class RunHandle implements IngestTarget {

    /** How a push ended, with the HTTP status that reports it. */
    public enum Outcome {
        ACCEPTED(200), MALFORMED(400), NOT_FOUND(404), NOT_ACCEPTING(409), TOO_LARGE(413), INVALID(422), BUSY(503);

        private final int http;

        Outcome(int http) {
            this.http = http;
        }

        public int httpStatus() {
            return http;
        }
    }

    /** The result of a push. */
    public record PushResult(Outcome outcome, int rows, String reason) {
        public static PushResult accepted(int rows) {
            return new PushResult(Outcome.ACCEPTED, rows, "");
        }
    }

    private final RunConfig config;
    private final Path dir;
    private final ActorRef<RunActor.Command> actor;
    private final ByteBudget budget;
    private final BoundedSourceQueue<Chunk> queue;
    private final IngestMeters meters;
    private final History history;
    private final AtomicLong ingestedRows = new AtomicLong();
    private volatile boolean accepting = true;
    private volatile RunStatus status;
    /** The trainer's own published progress counter (volatile, written by the training thread only). */
    private final java.util.function.LongSupplier trained;
    /** Rows held out of training so far (the hold-out's own counter; 0 without hold-out). */
    private final java.util.function.LongSupplier heldOut;

    RunHandle(RunConfig config, Path dir, ActorRef<RunActor.Command> actor, ByteBudget budget, BoundedSourceQueue<Chunk> queue,
              IngestMeters meters, History history, java.util.function.LongSupplier trained,
              java.util.function.LongSupplier heldOut) {
        this.trained = trained;
        this.heldOut = heldOut;
        this.config = config;
        this.dir = dir;
        this.actor = actor;
        this.budget = budget;
        this.queue = queue;
        this.meters = meters;
        this.history = history;
    }

    public RunConfig config() {
        return config;
    }

    public Path directory() {
        return dir;
    }

    public ActorRef<RunActor.Command> actor() {
        return actor;
    }

    public History history() {
        return history;
    }

    /**
     * The run's status as its actor last published it, with the counters live: trained samples (the
     * trainer's progress counter, read-only), ingested rows, rejections, queued bytes.
     */
    public RunStatus status() {
        RunStatus s = status;
        return s == null ? null : s.withLive(trained.getAsLong(), ingestedRows.get(), (long) meters.rejectedTotal(),
                (long) meters.busyTotal(), budget.reserved(), heldOut.getAsLong());
    }

    void status(RunStatus s) {
        this.status = s;
    }

    /** The run takes no more data: later pushes get 409, and pushes waiting for room are answered now. */
    void stopAccepting() {
        accepting = false;
        budget.close();
    }

    public boolean accepting() {
        return accepting;
    }

    IngestMeters meters() {
        return meters;
    }

    long ingestedRows() {
        return ingestedRows.get();
    }

    ByteBudget budget() {
        return budget;
    }

    /** Bytes of the budget, i.e. the largest batch this run can take. */
    @Override
    public long budgetBytes() {
        return budget.capacity();
    }

    /** A rejection counted under {@code reason} (a meter tag). */
    @Override
    public PushResult reject(Outcome outcome, String reason, String message) {
        meters.rejected(reason);
        return new PushResult(outcome, 0, message);
    }

    /**
     * Reserves {@code bytes} for a batch about to be read; false after {@code timeoutMillis}
     * (negative: wait as long as it takes). The caller must either {@link #accept} the batch with
     * the reservation or {@link #release} it.
     */
    @Override
    public CompletionStage<Boolean> reserve(long bytes, long timeoutMillis) {
        long t0 = System.nanoTime();
        return budget.reserve(bytes, timeoutMillis).thenApply(ok -> {
            meters.waited(System.nanoTime() - t0);
            if (!ok) {
                meters.busy();
            }
            return ok;
        });
    }

    public void release(long bytes) {
        budget.release(bytes);
    }

    /**
     * Validates a decoded batch and queues it for training. {@code reserved} bytes were reserved
     * by the caller; they are adjusted to the batch's float size (waiting for more room if needed)
     * and released if the batch is rejected. Every rejection names the reason.
     */
    @Override
    public CompletionStage<PushResult> accept(String transport, float[] data, int rows, int cols, long reserved, long payloadBytes) {
        if (!accepting) {
            budget.release(reserved);
            return CompletableFuture.completedFuture(new PushResult(Outcome.NOT_ACCEPTING, 0,
                    "run '" + config.name() + "' is not accepting data (state " + (status == null ? "?" : status.state()) + ")"));
        }
        if (rows <= 0) {
            budget.release(reserved);
            return CompletableFuture.completedFuture(reject(Outcome.MALFORMED, "malformed", "empty batch (0 rows)"));
        }
        if (cols != config.inputDim()) {
            budget.release(reserved);
            return CompletableFuture.completedFuture(reject(Outcome.INVALID, "width",
                    "rows have width " + cols + ", run '" + config.name() + "' takes width " + config.inputDim()));
        }
        double maxAbs = config.maxAbs();
        for (int r = 0; r < rows; r++) {
            int problem = Validate.problem(data, r * cols, cols, maxAbs);
            if (problem == Validate.NON_FINITE) {
                budget.release(reserved);
                return CompletableFuture.completedFuture(reject(Outcome.INVALID, "non_finite",
                        "row " + r + " holds NaN or Inf; the batch was not queued"));
            }
            if (problem == Validate.TOO_LARGE) {
                int big = Validate.firstBeyond(data, r * cols, cols, maxAbs);
                budget.release(reserved);
                return CompletableFuture.completedFuture(reject(Outcome.INVALID, "too_large_value",
                        "row " + r + " holds " + data[r * cols + big] + " at column " + big + ", beyond the run's maxAbs " + maxAbs
                                + "; the batch was not queued"));
            }
        }
        long bytes = 4L * rows * cols;
        if (bytes > budget.capacity()) {
            budget.release(reserved);
            return CompletableFuture.completedFuture(reject(Outcome.TOO_LARGE, "too_large", "batch of " + bytes
                    + " bytes exceeds the run's queue of " + budget.capacity() + " bytes; send smaller batches"));
        }
        CompletionStage<Boolean> room;
        if (bytes > reserved) {
            // callers reserve what the batch will hold (a half-precision body decodes to twice its bytes), so
            // this is a safety net: take the rest only if it is free now, never wait holding a reservation
            room = budget.reserve(bytes - reserved, 0).thenApply(ok -> {
                if (!ok) {
                    budget.release(reserved);
                }
                return ok;
            });
        } else {
            budget.release(reserved - bytes);
            room = CompletableFuture.completedFuture(true);
        }
        return room.thenApply(ok -> {
            if (!ok) {
                meters.busy();
                return new PushResult(Outcome.BUSY, 0, "the batch decodes to " + bytes + " bytes, more than the "
                        + reserved + " reserved for it, and the run's queue has no room now; retry later");
            }
            long offset = ingestedRows.getAndAdd(rows);
            QueueOfferResult r = queue.offer(new Chunk(data, rows, cols, offset, transport));
            if (r != QueueOfferResult.enqueued()) {
                budget.release(bytes);
                meters.busy();
                return new PushResult(Outcome.BUSY, 0, "ingest queue unavailable (" + r + ")");
            }
            meters.accepted(transport, 1, rows, payloadBytes);
            return PushResult.accepted(rows);
        });
    }

    /** Queues a control token (a barrier in the training stream); false if the queue refused it. */
    boolean offerControl(Runnable action) {
        return queue.offer(Chunk.control(action)) == QueueOfferResult.enqueued();
    }

    void completeQueue() {
        queue.complete();
    }
}
