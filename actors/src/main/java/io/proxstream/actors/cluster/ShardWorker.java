package io.proxstream.actors.cluster;

import io.proxstream.solvers.sae.IterativeDecoder;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.TrainerState;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * A worker of the column-sharded round ({@code docs/column-sharded-cluster.md}) over Artery. The decoder's columns are cut
 * into ranges ({@link ShardedPam#columnCuts} among the run's first N workers); every range has an owner and, with replicas,
 * a replica on another worker: an {@link IterativeDecoder} column shard each, fed the same rows in the same order, so the
 * replica holds the owner's bits. Every worker holds a copy of the whole model. A round:
 * <ol>
 * <li>{@link Start}: the encoder step on its slices (off the actor, on the training dispatcher);</li>
 * <li>{@link Exchange}: to every worker j its codes, its rows' columns of every range j holds, and its row count;</li>
 * <li>once every worker's part is in: its encoder, scaled by its share of the round's rows, summed by the ring
 * ({@link RingCollective}, operation = round); then every range it holds is fed every part in worker order (off the
 * actor) and the summed encoder replaces its copy's;</li>
 * <li>on a solve round: each range's owner solves and applies its correction and sends it to every peer as a
 * {@link Correction}; the range's replica applies it ({@link IterativeDecoder#apply}), the others add it to their copy;</li>
 * <li>{@link Done} to whoever started the round.</li>
 * </ol>
 * N of these compute {@link ShardedPam}'s bits ({@code ShardWorkerTest}); no node sends an m × m matrix, a whole model or
 * a window; the control ({@link Start}) is small.
 *
 * <p>Failures. Until the ring has summed the encoders, a round changes nothing shared: a round that fails there (a peer's
 * part or the ring did not come before the deadline) puts this worker's encoder optimiser back as it was before the round
 * ({@link Failed#clean}), and the worker takes the next round — or a {@link Promote}: after a peer's death the
 * survivors continue with the dead owner's ranges taken over by their replicas, which hold its state bit for bit. A peer
 * that dies after the ring costs no round: the survivors finish feeding and solving, report {@link Stalled} at the deadline
 * (whose corrections are missing), and after a {@link Promote} and {@link Resume} the promoted replicas solve the dead
 * owner's corrections (the same bits) and the round ends with the dead worker's rows trained. A round that fails otherwise
 * after the ring (a malformed part or correction, a failed solve) leaves this worker's state part-way through the round: it
 * says so and refuses further rounds until configured again, so it never trains on from a state no peer shares. A peer
 * that dies inside the ring can leave some workers with the sum (they go on and stall) and others without (they fail
 * clean): the driver, seeing both answers, resumes from a checkpoint.
 */
public final class ShardWorker extends AbstractBehavior<ShardWorker.Command> {

    /** What a shard worker takes. */
    public interface Command {
    }

    /** Asks for this worker's ring collective (the driver gathers them before {@link Configure}). */
    public record Hello(ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /**
     * Sets up a run: participant {@code index} of {@code workers} (whose ring collectives are {@code rings}, same order), a
     * copy of the run's initial model; the columns cut into N ranges, range r owned by worker r and, with {@code replicas}
     * (N ≥ 2), replicated on worker r + 1 (mod N). Any state of an earlier run is dropped.
     */
    public record Configure(DataParallelPam.Config config, List<ActorRef<Command>> workers, List<ActorRef<RingCollective.Command>> rings,
                            int index, boolean replicas, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /**
     * The workers after a loss: this worker is now participant {@code index} of {@code workers}; range r is owned by worker
     * {@code owner[r]} and replicated on {@code replica[r]} (-1: none) — indices into the new list. A worker must already
     * hold every range it is to own or replicate (promotion only moves ownership to a replica); it drops the others. Taken
     * between rounds, by a worker whose last round ended or failed clean.
     */
    public record Promote(List<ActorRef<Command>> workers, List<ActorRef<RingCollective.Command>> rings, int index, int[] owner,
                          int[] replica, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /** Run round {@code round} on these slices; the answer ({@link Done} or {@link Failed}) goes to {@code replyTo}. */
    public record Start(long round, List<Protocol.Assignment> slices, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /**
     * Part {@code index} of {@code count} of worker {@code from}'s round-{@code round} part for this worker: its codes, its rows'
     * columns of each range this worker holds and its row count (a {@link Chunks}-encoded state). Bulk: {@link ChunkSerializer}.
     */
    public record Exchange(long round, int from, int index, int count, byte[] data) implements Command {
    }

    /**
     * Part {@code index} of {@code count} of the round-{@code round} decoder correction of range {@code range} from its owner,
     * worker {@code from} ((m+1) × width float32, little-endian; no bytes: the step had no rows to solve from). Bulk:
     * {@link ChunkSerializer}.
     */
    public record Correction(long round, int from, int range, int index, int count, byte[] data) implements Command {
    }

    /**
     * To the owner of range {@code range}, between rounds: copy the range's state to worker {@code to} (an index into the
     * current workers), which answers {@code replyTo} with {@link ReplicaSeeded} once it holds it; a {@link Promote} then
     * names it the range's replica. Transfer {@code transfer} is numbered by the driver.
     */
    public record SeedReplica(long transfer, int range, int to, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /**
     * Makes this (new) worker participant {@code index} of a running run: its placement ({@code owner}, {@code replica}:
     * it holds no range) and configuration; answered {@link Adopted} at once (the driver sends the model only then: the
     * model's parts come from a peer, and nothing orders them after this message), and {@link Configured} once a peer has
     * sent it the model ({@link SeedModel}); it takes rounds from then on.
     */
    public record Adopt(DataParallelPam.Config config, List<ActorRef<Command>> workers, List<ActorRef<RingCollective.Command>> rings,
                        int index, int[] owner, int[] replica, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /**
     * To a participant, between rounds: send worker {@code to} (an index into the current workers, which was sent
     * {@link Adopt}) this worker's copy of the model and the run's round count, as a state transfer like
     * {@link SeedReplica}'s.
     */
    public record SeedModel(long transfer, int to, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /** Part {@code index} of {@code count} of a range's state ({@link IterativeDecoder#saveTo}, {@link Chunks}). Bulk: {@link ChunkSerializer}. */
    public record ShardState(long transfer, int from, int range, int index, int count, byte[] data) implements Command {
    }

    /** After the last {@link ShardState} part of a transfer: install the state and answer {@code replyTo}. */
    public record StateSent(long transfer, int from, int range, int count, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /** The receiver of a transfer has {@code received} of its parts: the sender may send more (Artery drops what overflows its queue). */
    public record StateAck(long transfer, int received) implements Command, CborSerializable {
    }

    /**
     * After a {@link Promote} in the middle of round {@code round} (the worker had answered {@link Stalled}): the ranges this
     * worker now owns whose correction it has not got are solved here — a promoted replica holds its dead owner's state, so
     * it computes the owner's correction — or, when it had applied the owner's correction as replica, sent again; then the
     * round ends as usual ({@link Done} to whoever started it).
     */
    public record Resume(long round) implements Command, CborSerializable {
    }

    /**
     * Stops this worker once its next round has committed (the ring summed the encoders): a death inside the round, for tests
     * and failure drills. Its peers then wait for its corrections.
     */
    public record Crash() implements Command, CborSerializable {
    }

    /**
     * Write this worker's part of a checkpoint into directory {@code dir} (a path every node of the run can read): the state
     * of every range it owns ({@code range-R.safetensors}) and, participant 0, the model with the run's round counts
     * ({@code model.safetensors}); answered {@link CheckpointWritten}. Between rounds: a busy worker answers with an error.
     */
    public record WriteCheckpoint(String dir, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /**
     * Take part in a run resumed from the checkpoint in {@code dir}: as {@link Configure}, with the placement given (the
     * checkpoint's ranges over this run's workers), the model and the states of the ranges this worker holds read from the
     * checkpoint, and a fresh encoder optimiser (the optimisers are each worker's own and are not checkpointed, as in the
     * star); answered {@link Configured}.
     */
    public record Restore(DataParallelPam.Config config, List<ActorRef<Command>> workers, List<ActorRef<RingCollective.Command>> rings,
                          int index, int[] owner, int[] replica, String dir, long durable, ActorRef<Reply> replyTo)
            implements Command, CborSerializable {
    }

    /**
     * How round (operation) {@code round} settled for the rows this node's ingest leased to it: {@code included} in the
     * model, or not (they go back to the front of the queue); {@code round} -1 settles none. Every round up to {@code durable}
     * (-1: none) is in a written checkpoint: its included rows are trained (their bytes go back to the ingest's budget, their
     * acknowledgements complete). {@code finished}: the run ended; the ingest takes no more rows.
     */
    public record Settle(long round, boolean included, long durable, boolean finished) implements Command, CborSerializable {
    }

    /** The run's coordinator wrote down a ledger holding {@code accepted} rows of this node: pushes up to them are answered. */
    public record Recorded(long accepted) implements Command, CborSerializable {
    }

    /**
     * A participant of round {@code round} is gone (its node left the cluster): stop waiting for it now rather than at the
     * round's deadline. Before the ring the round fails clean; inside it the ring is given up (the coordinator sorts out
     * workers that summed and workers that did not); after it the worker reports what it still waits for ({@link Stalled}).
     */
    public record Abandon(long round, String why) implements Command, CborSerializable {
    }

    /** The periodic ledger report, and the prompt one after a push. */
    private enum Report implements Command, NoSerializationVerificationNeeded {
        TICK,
        NOW
    }

    /** How often a worker with an ingest reports its ledger to the coordinator. */
    static final Duration REPORT_EVERY = Duration.ofMillis(250);

    /**
     * Write this worker's copy of the model (after a round every copy holds the same bits) to {@code path} (the
     * safetensors file {@code train} writes; empty: none) and, unless {@code export} is empty, its SAELens export to that directory;
     * answered {@link Saved}. Between rounds: a busy worker answers with an error.
     */
    public record Save(String path, String export, Map<String, String> provenance, ActorRef<Reply> replyTo)
            implements Command, CborSerializable {
    }

    /** Asks for the digests of this worker's copy of the model and of the ranges it holds. */
    public record GetDigest(ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /** What a shard worker answers. */
    public interface Reply {
    }

    /** Worker {@code index} holds a copy of range {@code range}'s state ({@code bytes} sent). */
    public record ReplicaSeeded(long transfer, int range, int index, long bytes) implements Reply, CborSerializable {
    }

    /** This worker and its ring collective. */
    public record Member(ActorRef<Command> worker, ActorRef<RingCollective.Command> ring) implements Reply, CborSerializable {
    }

    /** Adopted as participant {@code index} of a running run (it waits for the model). */
    public record Adopted(int index) implements Reply, CborSerializable {
    }

    /** Configured (or promoted) as participant {@code index}, owning and replicating these ranges. */
    public record Configured(int index, List<Integer> owns, List<Integer> replicates) implements Reply, CborSerializable {
    }

    /**
     * Round {@code round} done here: {@code rows} trained here of {@code totalRows} in all ({@code rowsBy}: each
     * participant's, from the parts; the ledger of live rows counts them per node), the mean squared error seen before
     * its encoder steps, and where the time went (seconds): encoder step, waiting for the peers' parts, the ring, feeding
     * the ranges held, the solves, waiting for the peers' corrections; bytes sent to peers (parts and corrections; the
     * ring's are {@link RingAllReduce#floatsSent} × 4).
     */
    public record Done(long round, int index, long rows, List<Long> rowsBy, long totalRows, double mse, boolean solved, double encoderSeconds,
                       double exchangeSeconds, double accumulateSeconds, double ringSeconds, double solveSeconds,
                       double correctionSeconds, double seconds, long bytesSent) implements Reply, CborSerializable {
    }

    /**
     * Round {@code round} failed here, and why. {@code clean}: nothing of the round stayed (this worker takes the next round
     * or a {@link Promote}); otherwise this worker takes no more rounds until configured again.
     */
    public record Failed(long round, int index, String reason, boolean clean) implements Reply, CborSerializable {
    }

    /**
     * Round {@code round} passed its deadline here after the ring, waiting for the corrections of {@code ranges} from their
     * owners {@code owners}: the round's shared changes are made here, so it is kept. If an owner died, a {@link Promote}
     * naming the survivors (the dead owner's ranges to their replicas) and then {@link Resume} finish the round; a
     * correction that comes meanwhile finishes it too. Repeated at every further deadline.
     */
    public record Stalled(long round, int index, List<Integer> ranges, List<Integer> owners) implements Reply, CborSerializable {
    }

    /**
     * SHA-256 of this worker's copy of the model ({@link #digest}) and of each range's shard state it holds ("" for a range
     * it does not hold), after {@code rounds} rounds with {@code solves} solves of its own ranges.
     */
    /** The answer to {@link WriteCheckpoint}: the ranges written here, the model's rounds, the bytes; or why not. */
    public record CheckpointWritten(int index, List<Integer> ranges, long rounds, long bytes, String error) implements Reply, CborSerializable {
    }

    /** The answer to {@link Save}: the rounds with rows the saved model holds, or why it was not written. */
    public record Saved(int index, long rounds, String error) implements Reply, CborSerializable {
    }

    public record Digest(int index, long rounds, long solves, String sha256, List<String> ranges) implements Reply, CborSerializable {
    }

    private record Encoded(long round, TrainerState before, TrainerState result, byte[][] parts, TrainerState ownPart, Throwable error,
                           double seconds)
            implements Command, NoSerializationVerificationNeeded {
    }

    private record Accumulated(long round, Throwable error, double seconds) implements Command, NoSerializationVerificationNeeded {
    }

    private record RingDone(RingCollective.Outcome outcome) implements Command, NoSerializationVerificationNeeded {
    }

    private record Solved(long round, Map<Integer, float[]> deltas, Throwable error, double seconds)
            implements Command, NoSerializationVerificationNeeded {
    }

    private record CheckpointDone(WriteCheckpoint request, List<Integer> ranges, long bytes, Throwable error)
            implements Command, NoSerializationVerificationNeeded {
    }

    private record Restored(Restore request, SaeModel model, TreeMap<Integer, IterativeDecoder> shards, long rounds, Throwable error)
            implements Command, NoSerializationVerificationNeeded {
    }

    /**
     * Evaluate this worker's copy of the model (every copy holds the same bits after a round) on the latest live rows this
     * worker trained (up to {@link #RECENT_ROWS}); answered {@link Evaluated}. Between rounds.
     */
    public record Evaluate(ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /** The {@link io.proxstream.solvers.sae.SaeEvaluator.Sums} of {@link Evaluate} (rows 0: none held here), or why not. */
    public record Evaluated(int index, long rows, double sse, double l1, long nonZeros, double[] sum, double squares, boolean[] fired,
                            String error) implements Reply, CborSerializable {
        io.proxstream.solvers.sae.SaeEvaluator.Sums sums() {
            return new io.proxstream.solvers.sae.SaeEvaluator.Sums(rows, sse, l1, nonZeros, sum, squares, fired);
        }
    }

    private record EvaluateDone(Evaluate request, io.proxstream.solvers.sae.SaeEvaluator.Sums sums, Throwable error)
            implements Command, NoSerializationVerificationNeeded {
    }

    /** The live rows a worker keeps for {@link Evaluate}: the latest it trained, at most this many. */
    static final int RECENT_ROWS = 4096;

    private record SaveDone(Save save, long rounds, Throwable error) implements Command, NoSerializationVerificationNeeded {
    }

    private record Expired(long round) implements Command, NoSerializationVerificationNeeded {
    }

    private record StateEncoded(SeedReplica seed, List<byte[]> parts, long bytes, Throwable error)
            implements Command, NoSerializationVerificationNeeded {
    }

    private record StateInstalled(StateSent sent, IterativeDecoder shard, SaeModel model, long rounds, long bytes, Throwable error)
            implements Command, NoSerializationVerificationNeeded {
    }

    /** A state being sent: its parts, the next to send and how many the receiver has. */
    private static final class Outgoing {
        final SeedReplica seed;
        final List<byte[]> parts;
        int next;
        int acked;

        Outgoing(SeedReplica seed, List<byte[]> parts) {
            this.seed = seed;
            this.parts = parts;
        }
    }

    /** The range number a transfer of the model (not a range's state) carries. */
    static final int MODEL_STATE = -1;
    /** Joined a run ({@link Adopt}) and waiting for the model. */
    private boolean adopting;

    /** Parts of a state in flight to this worker, at most this many ahead of the receiver's acknowledgement. */
    static final int STATE_WINDOW = 512;
    /** The receiver acknowledges every this many parts. */
    static final int STATE_ACK_EVERY = 128;

    /** The state of one round here. */
    private static final class Round {
        final long round;
        Start start;
        /** The live rows leased here for the round (null: none). */
        float[] leased;
        long t0;
        /** The encoder optimiser before the round: put back when the round fails clean. */
        TrainerState before;
        TrainerState own;
        double encoderSeconds;
        long encodedAt;
        final Chunks.Assembler[] parts;
        final TrainerState[] received;
        int receivedCount;
        long exchangedAt;
        long totalRows;
        /** Set once the ring has summed the encoders: from then on the round changes shared state. */
        boolean committed;
        float[] encoderSum;
        double accumulateSeconds;
        double ringSeconds;
        long ringStartedAt;
        boolean solving;
        boolean solvedHere;
        double solveSeconds;
        long solvedAt;
        final Chunks.Assembler[] corrections;
        /** The corrections applied here of ranges held as replica: sent again if this worker is promoted mid-round. */
        final byte[][] keptCorrections;
        final boolean[] applied;
        int appliedCount;
        long bytesSent;
        /** Why the round failed clean while the encoder step was running (its optimiser is put back when it returns). */
        String failedClean;
        /** Who hears of that failure once the encoder step is back. */
        ActorRef<Reply> failedReplyTo;

        Round(long round, int workers, int ranges) {
            this.round = round;
            this.parts = new Chunks.Assembler[workers];
            this.received = new TrainerState[workers];
            this.corrections = new Chunks.Assembler[ranges];
            this.keptCorrections = new byte[ranges][];
            this.applied = new boolean[ranges];
        }
    }

    private final Executor training;
    private final TimerScheduler<Command> timers;
    private final ActorRef<RingCollective.Command> ring;
    private DataParallelPam.Config config;
    private List<ActorRef<Command>> workers;
    private List<ActorRef<RingCollective.Command>> rings;
    private int index;
    private int[] cuts;
    private int[] owner;
    private int[] replica;
    private SaeModel model;
    /** The ranges this worker holds (owns or replicates), by range. */
    private final TreeMap<Integer, IterativeDecoder> shards = new TreeMap<>();
    private DataParallelPam.WorkerState state;
    /** Rounds with rows (the solve schedule counts these, as {@link ShardedPam} does). */
    private long rounds;
    private long solves;
    /** The round under way, and parts of the next one that came early (a fast peer). */
    private Round current;
    private Round next;
    /** Why this worker takes no rounds (null: it does). */
    private String broken = "not configured";
    /** A future holds the model, the shards or the trainer: nothing may touch them until it comes back. */
    private boolean busy;
    /** {@link Crash} armed: stop when the next round commits. */
    private boolean crashArmed;
    /** States this worker sends, and receives, by transfer. */
    private final Map<Long, Outgoing> outgoing = new java.util.HashMap<>();
    private final Map<Long, Chunks.Assembler> incoming = new java.util.HashMap<>();

    /** The rows pushed to this node's ingest (null: none; the worker trains on shard files or the synthetic stream). */
    private final LiveRows live;
    /** The run's coordinator (the singleton's proxy), to which a worker with an ingest reports its ledger. */
    private final ActorRef<Protocol.CoordinatorCommand> coordinator;
    /** The accepted count of the last report. */
    private long lastReported = -1;

    public static Behavior<Command> create() {
        return create(null, null);
    }

    /**
     * A worker that also trains on the rows pushed to its node ({@code live}, null: none) and reports its ingest's ledger to
     * {@code coordinator} every {@link #REPORT_EVERY} and after every push.
     */
    public static Behavior<Command> create(LiveRows live, ActorRef<Protocol.CoordinatorCommand> coordinator) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(t -> {
            if (live != null && coordinator != null) {
                t.startTimerWithFixedDelay(Report.TICK, REPORT_EVERY);
                ActorRef<Command> self = ctx.getSelf();
                live.onAdded(() -> self.tell(Report.NOW));
            }
            return new ShardWorker(ctx, t, live, live == null ? null : coordinator);
        }));
    }

    private ShardWorker(ActorContext<Command> ctx, TimerScheduler<Command> timers, LiveRows live,
                        ActorRef<Protocol.CoordinatorCommand> coordinator) {
        super(ctx);
        this.timers = timers;
        this.live = live;
        this.coordinator = coordinator;
        this.training = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("proxstream.training-dispatcher"));
        // early pieces: up to one whole encoder of a peer that starts its ring before this worker does
        this.ring = ctx.spawn(RingCollective.create(Long.MAX_VALUE / 8), "ring");
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Hello.class, h -> {
                    h.replyTo().tell(new Member(getContext().getSelf(), ring));
                    return this;
                })
                .onMessage(Configure.class, this::onConfigure)
                .onMessage(Settle.class, this::onSettle)
                .onMessage(Abandon.class, this::onAbandon)
                .onMessage(Recorded.class, r -> {
                    if (live != null) {
                        live.recorded(r.accepted());
                    }
                    return this;
                })
                .onMessageEquals(Report.TICK, this::report)
                .onMessageEquals(Report.NOW, () -> live.ledger().accepted() > lastReported ? report() : this)
                .onSignal(org.apache.pekko.actor.typed.PostStop.class, stop -> {
                    if (live != null) {
                        live.onAdded(() -> { }); // no one to report to any more
                    }
                    return this;
                })
                .onMessage(Promote.class, this::onPromote)
                .onMessage(Start.class, this::onStart)
                .onMessage(Encoded.class, this::onEncoded)
                .onMessage(Exchange.class, this::onExchange)
                .onMessage(RingDone.class, this::onRingDone)
                .onMessage(Accumulated.class, this::onAccumulated)
                .onMessage(Solved.class, this::onSolved)
                .onMessage(Correction.class, this::onCorrection)
                .onMessage(Expired.class, this::onExpired)
                .onMessage(GetDigest.class, this::onDigest)
                .onMessage(WriteCheckpoint.class, this::onWriteCheckpoint)
                .onMessage(CheckpointDone.class, d -> {
                    busy = false;
                    d.request().replyTo().tell(new CheckpointWritten(index, d.ranges(), rounds, d.bytes(),
                            d.error() == null ? null : cause(d.error())));
                    return this;
                })
                .onMessage(Restore.class, this::onRestore)
                .onMessage(Restored.class, this::onRestored)
                .onMessage(Save.class, this::onSave)
                .onMessage(Evaluate.class, this::onEvaluate)
                .onMessage(EvaluateDone.class, d -> {
                    busy = false;
                    if (d.error() != null) {
                        d.request().replyTo().tell(new Evaluated(index, 0, 0, 0, 0, new double[0], 0, new boolean[0], cause(d.error())));
                    } else {
                        var x = d.sums();
                        d.request().replyTo().tell(new Evaluated(index, x.rows(), x.sse(), x.l1(), x.nonZeros(), x.sum(), x.squares(),
                                x.fired(), null));
                    }
                    return this;
                })
                .onMessage(SaveDone.class, d -> {
                    busy = false;
                    d.save().replyTo().tell(new Saved(index, d.rounds(), d.error() == null ? null : cause(d.error())));
                    return this;
                })
                .onMessage(Resume.class, this::onResume)
                .onMessage(Crash.class, c -> {
                    crashArmed = true;
                    return this;
                })
                .onMessage(SeedReplica.class, this::onSeed)
                .onMessage(Adopt.class, this::onAdopt)
                .onMessage(SeedModel.class, this::onSeedModel)
                .onMessage(StateEncoded.class, this::onStateEncoded)
                .onMessage(StateAck.class, this::onStateAck)
                .onMessage(ShardState.class, this::onShardState)
                .onMessage(StateSent.class, this::onStateSent)
                .onMessage(StateInstalled.class, this::onStateInstalled)
                .onSignal(org.apache.pekko.actor.typed.PostStop.class, s -> {
                    if (!busy && state != null) {
                        state.close();
                    }
                    return this;
                })
                .build();
    }

    private Behavior<Command> onConfigure(Configure c) {
        if (busy) {
            c.replyTo().tell(new Failed(-1, c.index(), "worker busy with round " + (current == null ? "?" : current.round)
                    + "; configure it when the round has failed or ended", false));
            return this;
        }
        int n = c.workers().size();
        try {
            if (n != c.rings().size() || c.index() < 0 || c.index() >= n) {
                throw new IllegalArgumentException("participant " + c.index() + " of " + n + " workers and " + c.rings().size() + " rings");
            }
            if (!c.config().algorithm().equals("pam") || !c.config().decoderStep().equals("cg")) {
                throw new IllegalArgumentException("the column-sharded round runs PAM-SGD with the cg decoder step, got "
                        + c.config().algorithm() + " with " + c.config().decoderStep());
            }
            int[] cs = ShardedPam.columnCuts(c.config().dim(), n);
            if (state != null) {
                state.close();
            }
            config = c.config();
            workers = List.copyOf(c.workers());
            rings = List.copyOf(c.rings());
            index = c.index();
            cuts = cs;
            int[][] placement = initialPlacement(n, c.replicas());
            owner = placement[0];
            replica = placement[1];
            model = DataParallelPam.initialModel(config);
            shards.clear();
            for (int r = 0; r < n; r++) {
                if (owner[r] == index || replica[r] == index) {
                    shards.put(r, new IterativeDecoder(model, config.pam().decoder().cg(), cuts[r], cuts[r + 1]));
                }
            }
            state = new DataParallelPam.WorkerState(config);
            incoming.clear();
            outgoing.clear();
            rounds = 0;
            solves = 0;
            current = null;
            next = null;
            broken = null;
            adopting = false;
            cancelRoundTimers();
            c.replyTo().tell(configured());
        } catch (RuntimeException e) {
            broken = "configuration refused: " + e.getMessage();
            c.replyTo().tell(new Failed(-1, c.index(), broken, false));
        }
        return this;
    }

    private Configured configured() {
        List<Integer> owns = new ArrayList<>();
        List<Integer> replicates = new ArrayList<>();
        for (int r = 0; r < owner.length; r++) {
            if (owner[r] == index) {
                owns.add(r);
            } else if (replica[r] == index) {
                replicates.add(r);
            }
        }
        return new Configured(index, owns, replicates);
    }

    private Behavior<Command> onPromote(Promote p) {
        boolean midRound = current != null && current.start != null;
        String refused = broken != null ? "this worker takes no rounds: " + broken
                : busy ? "a round's computation is under way here"
                : midRound && !(current.committed && current.solvedHere) ? "round " + current.round + " is under way here and"
                        + " not waiting for corrections"
                : p.workers().size() != p.rings().size() || p.index() < 0 || p.index() >= p.workers().size() ? "participant " + p.index()
                        + " of " + p.workers().size() + " workers and " + p.rings().size() + " rings"
                : p.owner().length != cuts.length - 1 || p.replica().length != cuts.length - 1 ? "the run's columns are cut into "
                        + (cuts.length - 1) + " ranges, the promotion names " + p.owner().length + " owners and " + p.replica().length
                        + " replicas"
                : null;
        if (refused == null) {
            for (int r = 0; r < p.owner().length && refused == null; r++) {
                boolean holds = p.owner()[r] == p.index() || p.replica()[r] == p.index();
                if (p.owner()[r] < 0 || p.owner()[r] >= p.workers().size() || p.replica()[r] >= p.workers().size()
                        || p.replica()[r] == p.owner()[r]) {
                    refused = "range " + r + " has owner " + p.owner()[r] + " and replica " + p.replica()[r] + " among "
                            + p.workers().size() + " workers";
                } else if (holds && !shards.containsKey(r)) {
                    refused = "this worker holds no state of range " + r + " (columns " + cuts[r] + ".." + cuts[r + 1] + "), which it is"
                            + " to " + (p.owner()[r] == p.index() ? "own" : "replicate");
                }
            }
        }
        if (refused != null) {
            p.replyTo().tell(new Failed(-1, p.index(), "promotion refused: " + refused, broken == null));
            return this;
        }
        workers = List.copyOf(p.workers());
        rings = List.copyOf(p.rings());
        index = p.index();
        owner = p.owner().clone();
        replica = p.replica().clone();
        shards.keySet().removeIf(r -> owner[r] != index && replica[r] != index);
        incoming.clear();
        outgoing.clear();
        if (midRound) {
            // parts of a dead owner's correction: its new owner sends the whole again
            for (int range = 0; range < owner.length; range++) {
                if (!current.applied[range]) {
                    current.corrections[range] = null;
                }
            }
        } else {
            current = null;
        }
        next = null;
        p.replyTo().tell(configured());
        return this;
    }

    private Behavior<Command> onResume(Resume resume) {
        Round r = current;
        if (r == null || r.round != resume.round() || r.start == null || !r.solvedHere || busy) {
            getContext().getLog().warn("shard worker {}: resume of round {} ignored (not waiting for its corrections)", index, resume.round());
            return this;
        }
        Map<Integer, IterativeDecoder> toSolve = new TreeMap<>();
        for (int range = 0; range < owner.length; range++) {
            if (owner[range] != index) {
                continue;
            }
            if (r.keptCorrections[range] != null) {
                // applied here as replica before the owner died: the peers that lack it get it again (the others drop it)
                sendCorrection(r, range, r.keptCorrections[range]);
            } else if (!r.applied[range]) {
                toSolve.put(range, shards.get(range));
            }
        }
        timers.startSingleTimer(r.round, new Expired(r.round), Duration.ofMillis(config.roundTimeoutMs()));
        if (toSolve.isEmpty()) {
            if (r.appliedCount == owner.length) {
                finish(r);
            }
            return this;
        }
        solveRanges(r, toSolve);
        return this;
    }

    /** Cancels the rounds' deadlines; the ingest's report timer goes on. */
    private void cancelRoundTimers() {
        timers.cancelAll();
        if (live != null && coordinator != null) {
            timers.startTimerWithFixedDelay(Report.TICK, REPORT_EVERY);
        }
    }

    private Behavior<Command> report() {
        LiveRows.Ledger l = live.ledger();
        coordinator.tell(new ShardedCoordinator.Status(getContext().getSelf(), l.incarnation(), l.accepted(), l.queued(), l.available(),
                l.heldBytes(), l.budgetBytes()));
        lastReported = l.accepted();
        return this;
    }

    private Behavior<Command> onSettle(Settle s) {
        if (live == null) {
            return this;
        }
        if (s.round() >= 0) {
            if (s.included()) {
                live.merged(s.round());
            } else {
                live.excluded(s.round());
            }
        }
        if (s.durable() >= 0) {
            live.durable(s.durable());
        }
        if (s.finished() && live.accepting()) {
            LiveRows.Ledger l = live.ledger();
            live.close();
            System.out.println("proxstream node: the run finished; this node's ingest takes no more rows (" + l.queued()
                    + " queued here were not trained)");
        }
        return this;
    }

    private Behavior<Command> onStart(Start s) {
        if (broken != null || busy || (current != null && current.start != null)) {
            s.replyTo().tell(new Failed(s.round(), index, broken != null ? "this worker takes no rounds: " + broken
                    : "round " + (current == null ? "?" : current.round) + " is still under way here", broken == null));
            return this;
        }
        Round r = roundFor(s.round());
        if (r == null) {
            s.replyTo().tell(new Failed(s.round(), index, "round " + s.round() + " is not after round "
                    + (current != null ? current.round : next.round) + " (rounds are numbered in order)", true));
            return this;
        }
        current = r;
        if (next == r) {
            next = null;
        }
        r.start = s;
        r.t0 = System.nanoTime();
        timers.startSingleTimer(s.round(), new Expired(s.round()), Duration.ofMillis(config.roundTimeoutMs()));
        busy = true;
        SaeModel m = model;
        DataParallelPam.WorkerState st = state;
        DataParallelPam.Config cfg = config;
        List<int[]> held = new ArrayList<>();
        for (int j = 0; j < workers.size(); j++) {
            held.add(rangesHeldBy(j));
        }
        int[] cs = cuts;
        int self = index;
        // live rows: lease (copy) what the coordinator assigned, at most what waits here; the lease is settled by the coordinator
        List<Protocol.Assignment> slices = new ArrayList<>();
        float[] leased = null;
        for (Protocol.Assignment a : s.slices()) {
            if (!a.isLive()) {
                slices.add(a);
            } else if (live != null && live.cols() == cfg.dim() && leased == null) {
                leased = live.lease(s.round(), a.rows(), cfg.batch());
                if (leased.length > 0) {
                    slices.add(Protocol.Assignment.live(leased.length / cfg.dim()));
                }
            } else {
                getContext().getLog().warn("shard worker {}: a live slice of round {} not taken ({})", index, s.round(),
                        live == null ? "this node has no ingest" : live.cols() != cfg.dim() ? "its ingest takes rows of " + live.cols()
                                + ", the run's are " + cfg.dim() : "one live slice per round");
            }
        }
        float[] rowsHere = leased;
        r.leased = leased;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            long t0 = System.nanoTime();
            TrainerState before = st.snapshot();
            TrainerState.Builder b = new TrainerState.Builder("sharded-model");
            m.saveTo(b);
            TrainerState res = st.round(b.build(), slices, rowsHere);
            // the peers' parts travel encoded; this worker's own stays a state
            byte[][] parts = new byte[held.size()][];
            TrainerState own = null;
            for (int j = 0; j < parts.length; j++) {
                TrainerState p = part(res, cfg, cs, held.get(j));
                if (j == self) {
                    own = p;
                } else {
                    parts[j] = Chunks.encode(p);
                }
            }
            return new Encoded(s.round(), before, res, parts, own, null, (System.nanoTime() - t0) / 1e9);
        }, training), (ok, err) -> err != null ? new Encoded(s.round(), null, null, null, null, err, 0) : ok);
        return this;
    }

    /** The ranges worker j owns or replicates, in order. */
    private int[] rangesHeldBy(int j) {
        return java.util.stream.IntStream.range(0, owner.length).filter(r -> owner[r] == j || replica[r] == j).toArray();
    }

    /** The round's state for a message of round {@code round}: the current one, the next one (early), or none (stale). */
    private Round roundFor(long round) {
        if (current != null && current.round == round) {
            return current;
        }
        if (current == null || round > current.round) {
            if (next == null || next.round < round) {
                next = new Round(round, workers.size(), owner.length);
            }
            return next.round == round ? next : null;
        }
        return null;
    }

    /**
     * A worker's round-result part for a worker holding {@code ranges}: its codes, its rows' columns of each of those ranges
     * ({@code x.<range>}), its counters.
     */
    static TrainerState part(TrainerState result, DataParallelPam.Config config, int[] cuts, int[] ranges) {
        TrainerState.Builder b = new TrainerState.Builder("sharded-part");
        for (String k : List.of("codes.rows", "codes.ptr", "codes.idx", "rows", "mse_x1e9")) {
            long[] v = result.longs().get(k);
            if (v == null) {
                throw new IllegalStateException("the encoder step's result lacks '" + k + "'");
            }
            b.put(k, v);
        }
        b.put("codes.val", result.floats().get("codes.val"));
        float[] x = result.floats().get("codes.x");
        int rows = x.length / config.dim();
        for (int r : ranges) {
            b.put("x." + r, IterativeDecoder.columns(x, rows, config.dim(), cuts[r], cuts[r + 1]));
        }
        return b.build();
    }

    private Behavior<Command> onEncoded(Encoded e) {
        busy = false;
        if (abandoned()) {
            return this;
        }
        Round r = current;
        if (r == null || r.round != e.round()) {
            return this;
        }
        if (e.error() != null) {
            // the step's own failure: what it did to the optimiser is unknown, so the worker stops
            return fail(r, "its encoder step failed: " + cause(e.error()));
        }
        r.before = e.before();
        if (r.failedClean != null) {
            state.restore(r.before);
            current = null;
            next = null;
            r.failedReplyTo.tell(new Failed(r.round, index, r.failedClean, true));
            return this;
        }
        r.own = e.result();
        r.encoderSeconds = e.seconds();
        r.encodedAt = System.nanoTime();
        for (int j = 0; j < workers.size(); j++) {
            if (j == index) {
                continue;
            }
            List<byte[]> chunks = Chunks.split(e.parts()[j]);
            for (int i = 0; i < chunks.size(); i++) {
                workers.get(j).tell(new Exchange(r.round, index, i, chunks.size(), chunks.get(i)));
            }
            r.bytesSent += e.parts()[j].length;
        }
        r.received[index] = e.ownPart();
        r.receivedCount++;
        afterExchange(r);
        return this;
    }

    private Behavior<Command> onExchange(Exchange x) {
        if (broken != null) {
            return this;
        }
        Round r = roundFor(x.round());
        if (r == null || x.from() < 0 || x.from() >= workers.size() || x.from() == index || r.received[x.from()] != null) {
            getContext().getLog().warn("shard worker {}: part {} of worker {} for round {} dropped (stale, duplicate or unknown sender)",
                    index, x.index(), x.from(), x.round());
            return this;
        }
        try {
            if (r.parts[x.from()] == null) {
                r.parts[x.from()] = new Chunks.Assembler();
            }
            if (r.parts[x.from()].add(x.index(), x.count(), x.data())) {
                r.received[x.from()] = Chunks.decode(r.parts[x.from()].bytes());
                r.parts[x.from()] = null;
                r.receivedCount++;
            }
        } catch (IllegalArgumentException e) {
            if (r != current) {
                next = null; // the early round's parts are dropped; its start will wait for the part and fail clean
                return this;
            }
            return failClean(r, "worker " + x.from() + "'s part is malformed: " + e.getMessage());
        }
        if (r == current) {
            afterExchange(r);
        }
        return this;
    }

    /** Once every part is in (and the encoder step done here): the encoders summed by the ring. */
    private void afterExchange(Round r) {
        if (r.own == null || r.receivedCount < workers.size() || r.exchangedAt != 0) {
            return;
        }
        r.exchangedAt = System.nanoTime();
        long total = 0;
        try {
            for (TrainerState t : r.received) {
                total += t.counter("rows");
            }
        } catch (IllegalArgumentException e) {
            failClean(r, "a part lacks its row count: " + e.getMessage());
            return;
        }
        r.totalRows = total;
        if (total == 0) {
            // no rows anywhere: nothing changes, and the round does not count (as in ShardedPam)
            finish(r);
            return;
        }
        float[] enc = ShardedPam.scaledEncoder(r.own, total, config.latents(), config.dim());
        r.ringStartedAt = System.nanoTime();
        ActorRef<RingCollective.Outcome> reply = getContext().messageAdapter(RingCollective.Outcome.class, RingDone::new);
        ring.tell(new RingCollective.Run(r.round, rings, index, enc, RingCollective.PIECE_FLOATS,
                Duration.ofMillis(config.roundTimeoutMs()), reply));
    }

    private Behavior<Command> onRingDone(RingDone d) {
        Round r = current;
        if (r == null || r.round != d.outcome().op() || r.ringStartedAt == 0) {
            return this;
        }
        if (!d.outcome().ok()) {
            return failClean(r, "the encoder's ring all-reduce failed: " + d.outcome().error());
        }
        if (crashArmed) {
            getContext().getLog().warn("shard worker {}: stopping inside round {} after the ring, as asked (Crash)", index, r.round);
            return Behaviors.stopped();
        }
        // from here on the round changes what the peers share: it completes, or this worker stops
        r.committed = true;
        r.encoderSum = d.outcome().data();
        r.ringSeconds = (System.nanoTime() - r.ringStartedAt) / 1e9;
        busy = true;
        Map<Integer, IterativeDecoder> held = new TreeMap<>(shards);
        DataParallelPam.Config cfg = config;
        TrainerState[] parts = r.received.clone();
        int[] cs = cuts;
        double gamma = config.pam().forgetting();
        long round = r.round;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            long t0 = System.nanoTime();
            for (Map.Entry<Integer, IterativeDecoder> e : held.entrySet()) {
                int range = e.getKey();
                List<DataParallelPam.CodeBuffer.Parsed> parsed = new ArrayList<>();
                for (int w = 0; w < parts.length; w++) {
                    try {
                        parsed.add(DataParallelPam.CodeBuffer.parse(parts[w], cfg, "x." + range, cs[range + 1] - cs[range]));
                    } catch (IllegalArgumentException ex) {
                        throw new IllegalArgumentException("worker " + w + "'s part: " + ex.getMessage(), ex);
                    }
                }
                // every worker's minibatches in worker order, forgetting before each, as ShardedPam and the coordinator feed
                for (DataParallelPam.CodeBuffer.Parsed p : parsed) {
                    p.feed(e.getValue(), gamma);
                }
            }
            return new Accumulated(round, null, (System.nanoTime() - t0) / 1e9);
        }, training), (ok, err) -> err != null ? new Accumulated(round, err, 0) : ok);
        return this;
    }

    private Behavior<Command> onAccumulated(Accumulated a) {
        busy = false;
        if (abandoned()) {
            return this;
        }
        Round r = current;
        if (r == null || r.round != a.round()) {
            return this;
        }
        if (a.error() != null) {
            return fail(r, "feeding its ranges failed: " + cause(a.error()));
        }
        r.accumulateSeconds = a.seconds();
        ShardedPam.setEncoder(model, r.encoderSum);
        r.encoderSum = null;
        if ((rounds + 1) % config.solveEvery() != 0) {
            finish(r);
            return this;
        }
        r.solving = true;
        Map<Integer, IterativeDecoder> owned = new TreeMap<>();
        shards.forEach((range, s) -> {
            if (owner[range] == index) {
                owned.put(range, s);
            }
        });
        solveRanges(r, owned);
        return this;
    }

    /** Solves and applies these ranges' corrections off the actor; {@link Solved} comes back. */
    private void solveRanges(Round r, Map<Integer, IterativeDecoder> owned) {
        busy = true;
        SaeModel mod = model;
        PamSgdTrainer.Options o = config.pam();
        long round = r.round;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            long t0 = System.nanoTime();
            Map<Integer, float[]> deltas = new TreeMap<>();
            for (Map.Entry<Integer, IterativeDecoder> e : owned.entrySet()) {
                IterativeDecoder.Step step = e.getValue().solve(mod, o.rho(), o.muDec(), o.holdUnfired());
                if (step.delta() != null) {
                    e.getValue().apply(step.delta());
                }
                deltas.put(e.getKey(), step.delta());
            }
            return new Solved(round, deltas, null, (System.nanoTime() - t0) / 1e9);
        }, training), (ok, err) -> err != null ? new Solved(round, null, err, 0) : ok);
    }

    private Behavior<Command> onSolved(Solved s) {
        busy = false;
        if (abandoned()) {
            return this;
        }
        Round r = current;
        if (r == null || r.round != s.round()) {
            return this;
        }
        if (s.error() != null) {
            return fail(r, "solving its ranges failed: " + cause(s.error()));
        }
        r.solveSeconds += s.seconds();
        if (!r.solvedHere) {
            r.solvedAt = System.nanoTime();
        }
        r.solvedHere = true;
        for (Map.Entry<Integer, float[]> e : s.deltas().entrySet()) {
            float[] delta = e.getValue();
            if (delta != null) {
                solves++;
            }
            byte[] bytes = new byte[delta == null ? 0 : 4 * delta.length];
            if (delta != null) {
                ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(delta);
            }
            sendCorrection(r, e.getKey(), bytes);
            r.applied[e.getKey()] = true;
            r.appliedCount++;
        }
        // the peers' corrections that came while these were solved
        for (int range = 0; range < owner.length; range++) {
            if (!r.applied[range] && r.corrections[range] != null && r.corrections[range].complete() && !applyCorrection(r, range)) {
                return this;
            }
        }
        if (r.appliedCount == owner.length) {
            finish(r);
        }
        return this;
    }

    /** Sends range {@code range}'s correction to every other worker. */
    private void sendCorrection(Round r, int range, byte[] bytes) {
        List<byte[]> chunks = Chunks.split(bytes);
        for (int j = 0; j < workers.size(); j++) {
            if (j != index) {
                for (int i = 0; i < chunks.size(); i++) {
                    workers.get(j).tell(new Correction(r.round, index, range, i, chunks.size(), chunks.get(i)));
                }
                r.bytesSent += bytes.length;
            }
        }
    }

    private Behavior<Command> onCorrection(Correction c) {
        if (broken != null) {
            return this;
        }
        Round r = roundFor(c.round());
        if (r != current || c.range() < 0 || c.range() >= owner.length || owner[c.range()] != c.from() || c.from() == index
                || r.applied[c.range()]) {
            getContext().getLog().warn("shard worker {}: correction part {} of range {} from worker {} for round {} dropped (not this"
                    + " round's, not from the range's owner, or a duplicate)", index, c.index(), c.range(), c.from(), c.round());
            return this;
        }
        try {
            if (r.corrections[c.range()] == null) {
                r.corrections[c.range()] = new Chunks.Assembler();
            }
            if (r.corrections[c.range()].add(c.index(), c.count(), c.data()) && r.solvedHere
                    && applyCorrection(r, c.range()) && r.appliedCount == owner.length) {
                finish(r);
            }
        } catch (IllegalArgumentException e) {
            return fail(r, "worker " + c.from() + "'s correction of range " + c.range() + " is malformed: " + e.getMessage());
        }
        return this;
    }

    /** Adds range j's correction to this copy of the decoder (through its replica, if held here); false when it failed the round. */
    private boolean applyCorrection(Round r, int range) {
        byte[] bytes = r.corrections[range].bytes();
        r.corrections[range] = null;
        int m = config.latents();
        int width = cuts[range + 1] - cuts[range];
        if (bytes.length != 0) {
            if (bytes.length != 4L * (m + 1) * width) {
                fail(r, "range " + range + "'s correction holds " + bytes.length + " bytes, not (m+1) x width x 4 = " + 4L * (m + 1) * width);
                return false;
            }
            float[] delta = new float[(m + 1) * width];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(delta);
            IterativeDecoder copy = shards.get(range);
            try {
                if (copy != null) {
                    copy.apply(delta); // a replica: the owner's state, bit for bit
                    r.keptCorrections[range] = bytes;
                } else {
                    for (float v : delta) {
                        if (!Float.isFinite(v)) {
                            throw new ArithmeticException("it holds " + v);
                        }
                    }
                    IterativeDecoder.addColumns(model, cuts[range], cuts[range + 1], delta);
                }
            } catch (ArithmeticException e) {
                fail(r, "range " + range + "'s correction was refused: " + e.getMessage());
                return false;
            }
        }
        r.applied[range] = true;
        r.appliedCount++;
        return true;
    }

    private void finish(Round r) {
        timers.cancel(r.round);
        if (r.leased != null && r.leased.length > 0) {
            keepRecent(r.leased);
        }
        long now = System.nanoTime();
        boolean solved = r.solving;
        if (r.totalRows > 0) {
            rounds++;
        }
        double exchange = r.exchangedAt == 0 ? 0 : (r.exchangedAt - r.encodedAt) / 1e9;
        double corrections = solved ? (now - r.solvedAt) / 1e9 : 0;
        List<Long> by = new ArrayList<>();
        for (TrainerState t : r.received) {
            by.add(t == null ? 0L : t.counter("rows"));
        }
        r.start.replyTo().tell(new Done(r.round, index, r.own.counter("rows"), by, r.totalRows, r.own.counter("mse_x1e9") / 1e9, solved,
                r.encoderSeconds, exchange, r.accumulateSeconds, r.ringSeconds, r.solveSeconds, corrections, (now - r.t0) / 1e9,
                r.bytesSent));
        current = null;
    }

    private Behavior<Command> onAbandon(Abandon a) {
        Round r = current;
        if (r == null || r.round != a.round() || r.start == null) {
            return this;
        }
        if (r.ringStartedAt != 0 && !r.committed) {
            ring.tell(new RingCollective.Abort(r.round, a.why()));
            return this;
        }
        if (!r.committed) {
            return failClean(r, a.why());
        }
        // after the ring: what an expired deadline does (report the missing corrections, or fail once idle)
        return onExpired(new Expired(r.round));
    }

    private Behavior<Command> onExpired(Expired e) {
        Round r = current;
        if (r == null || r.round != e.round() || r.start == null) {
            return this;
        }
        if (r.ringStartedAt != 0 && !r.committed) {
            // the ring has its own deadline: failing here while it may still complete at the peers would leave them committed
            // and this worker not (a peer that dies inside the ring can still leave some workers with the sum and others
            // without: they then answer differently, and the driver resumes from a checkpoint)
            return this;
        }
        List<Integer> missing = new ArrayList<>();
        for (int j = 0; j < (r.exchangedAt == 0 ? workers.size() : owner.length); j++) {
            if (r.exchangedAt == 0 ? r.received[j] == null : r.solving && !r.applied[j]) {
                missing.add(r.exchangedAt == 0 ? j : owner[j]);
            }
        }
        String what = r.own == null ? "its own encoder step"
                : r.exchangedAt == 0 ? "the parts of workers " + missing
                : !r.committed ? "the ring all-reduce"
                : !r.solving ? "feeding its ranges"
                : !r.solvedHere ? "solving its ranges" : "the corrections of workers " + missing;
        if (r.committed && r.solvedHere && !busy) {
            // the round's shared changes are made here: keep them, say whose corrections are missing and wait for a promotion
            List<Integer> ranges = new ArrayList<>();
            List<Integer> owners = new ArrayList<>();
            for (int range = 0; range < owner.length; range++) {
                if (!r.applied[range]) {
                    ranges.add(range);
                    owners.add(owner[range]);
                }
            }
            getContext().getLog().warn("shard worker {}: round {} waits for the corrections of ranges {} from workers {}", index, r.round,
                    ranges, owners);
            r.start.replyTo().tell(new Stalled(r.round, index, ranges, owners));
            timers.startSingleTimer(r.round, new Expired(r.round), Duration.ofMillis(config.roundTimeoutMs()));
            return this;
        }
        String why = "round " + r.round + " passed its deadline of " + config.roundTimeoutMs() + " ms waiting for " + what
                + " (a peer died or is cut off)";
        return r.committed ? failWhenIdle(r, why) : failClean(r, why);
    }

    /**
     * Fails a round that changed nothing shared: the encoder optimiser goes back to where it was before the round (at once,
     * or when the encoder step that holds it returns), and the worker takes the next round.
     */
    private Behavior<Command> failClean(Round r, String why) {
        if (r.start == null) {
            return this; // already failed
        }
        timers.cancel(r.round);
        getContext().getLog().warn("shard worker {}: round {} failed, nothing of it kept: {}", index, r.round, why);
        ActorRef<Reply> to = r.start.replyTo();
        r.start = null;
        if (busy) {
            // the encoder step is running: onEncoded puts the optimiser back and only then answers, so that "failed clean"
            // always means "ready for the next round or a promotion" (an early answer let a Promote meet a busy worker)
            r.failedClean = why;
            r.failedReplyTo = to;
            return this;
        }
        to.tell(new Failed(r.round, index, why, true));
        state.restore(r.before);
        current = null;
        next = null;
        return this;
    }

    /** True when the round failed while a future held the state (which is back now): the round is dropped. */
    private boolean abandoned() {
        if (broken == null) {
            return false;
        }
        current = null;
        next = null;
        return true;
    }

    /** Fails the round now, or, while a future holds the state, as soon as it comes back. */
    private Behavior<Command> failWhenIdle(Round r, String why) {
        if (!busy) {
            return fail(r, why);
        }
        broken = "round " + r.round + " failed: " + why;
        getContext().getLog().error("shard worker {}: {}", index, broken);
        r.start.replyTo().tell(new Failed(r.round, index, why, false));
        r.start = null;
        timers.cancel(r.round);
        return this;
    }

    private Behavior<Command> fail(Round r, String why) {
        timers.cancel(r.round);
        if (r.start != null) {
            r.start.replyTo().tell(new Failed(r.round, index, why, false));
        } else if (r.failedReplyTo != null) {
            r.failedReplyTo.tell(new Failed(r.round, index, why, false)); // failed clean while busy, then the step itself failed
        }
        broken = "round " + r.round + " failed: " + why;
        getContext().getLog().error("shard worker {}: {}", index, broken);
        current = null;
        next = null;
        return this;
    }

    private Behavior<Command> onSeed(SeedReplica seed) {
        String refused = broken != null ? "this worker takes no rounds: " + broken
                : busy || current != null && current.start != null ? "a round or a transfer is under way here"
                : seed.range() < 0 || seed.range() >= owner.length || owner[seed.range()] != index ? "this worker does not own range "
                        + seed.range()
                : seed.to() < 0 || seed.to() >= workers.size() || seed.to() == index ? "worker " + seed.to() + " cannot hold a replica"
                        + " of this worker's range"
                : null;
        if (refused != null) {
            seed.replyTo().tell(new Failed(-1, index, "replica of range " + seed.range() + " refused: " + refused, broken == null));
            return this;
        }
        busy = true;
        IterativeDecoder shard = shards.get(seed.range());
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            TrainerState.Builder b = new TrainerState.Builder("shard");
            shard.saveTo(b);
            byte[] bytes = Chunks.encode(b.build());
            return new StateEncoded(seed, Chunks.split(bytes), bytes.length, null);
        }, training), (ok, err) -> err != null ? new StateEncoded(seed, null, 0, err) : ok);
        return this;
    }

    private Behavior<Command> onAdopt(Adopt a) {
        String refused = busy || current != null ? "this worker is in a round"
                : a.workers().size() != a.rings().size() || a.index() < 0 || a.index() >= a.workers().size() ? "participant " + a.index()
                        + " of " + a.workers().size() + " workers and " + a.rings().size() + " rings"
                : a.owner().length != a.replica().length || a.owner().length < 1 ? "placement of " + a.owner().length + " owners and "
                        + a.replica().length + " replicas"
                : null;
        for (int r = 0; refused == null && r < a.owner().length; r++) {
            if (a.owner()[r] == a.index() || a.replica()[r] == a.index()) {
                refused = "a joining worker holds no range, the placement gives it range " + r;
            }
        }
        if (refused != null) {
            a.replyTo().tell(new Failed(-1, a.index(), "adoption refused: " + refused, false));
            return this;
        }
        takePart(a.config(), a.workers(), a.rings(), a.index(), a.owner(), a.replica(), null, Map.of(), rounds);
        adopting = true;
        broken = "joining: waiting for the run's model";
        a.replyTo().tell(new Adopted(a.index()));
        return this;
    }

    /**
     * This worker's part in a run from now on (joining it, or resuming it from a checkpoint): the run's settings,
     * participants and placement, the model and the ranges held (both may come later), a fresh encoder optimiser, and no
     * round, transfer or timer of before.
     */
    private void takePart(DataParallelPam.Config c, List<ActorRef<Command>> ws, List<ActorRef<RingCollective.Command>> rs, int i,
                          int[] owners, int[] replicas, SaeModel m, Map<Integer, IterativeDecoder> held, long roundCount) {
        if (state != null) {
            state.close();
        }
        config = c;
        workers = List.copyOf(ws);
        rings = List.copyOf(rs);
        index = i;
        owner = owners.clone();
        replica = replicas.clone();
        cuts = ShardedPam.columnCuts(config.dim(), owner.length);
        model = m;
        shards.clear();
        shards.putAll(held);
        state = new DataParallelPam.WorkerState(config);
        incoming.clear();
        outgoing.clear();
        cancelRoundTimers();
        current = null;
        next = null;
        rounds = roundCount;
        solves = 0;
    }

    /**
     * The placement of {@code ranges} column ranges on {@code n} workers (at a run's start, one range each; when it resumes from
     * a checkpoint, the checkpoint's ranges): range r owned by worker r mod n and replicated on the next (none with one worker).
     */
    static int[][] roundRobinPlacement(int ranges, int n) {
        int[] o = new int[ranges];
        int[] rep = new int[ranges];
        for (int r = 0; r < ranges; r++) {
            o[r] = r % n;
            rep[r] = n >= 2 ? (r + 1) % n : -1;
        }
        return new int[][] {o, rep};
    }

    private Behavior<Command> onSeedModel(SeedModel seed) {
        String refused = broken != null ? "this worker takes no rounds: " + broken
                : busy || current != null && current.start != null ? "a round or a transfer is under way here"
                : seed.to() < 0 || seed.to() >= workers.size() || seed.to() == index ? "worker " + seed.to() + " cannot take the model"
                : null;
        if (refused != null) {
            seed.replyTo().tell(new Failed(-1, index, "model not sent: " + refused, broken == null));
            return this;
        }
        busy = true;
        SaeModel m = model;
        long r = rounds;
        SeedReplica as = new SeedReplica(seed.transfer(), MODEL_STATE, seed.to(), seed.replyTo());
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            TrainerState.Builder b = new TrainerState.Builder("sharded-model");
            m.saveTo(b);
            b.put("rounds", r);
            byte[] bytes = Chunks.encode(b.build());
            return new StateEncoded(as, Chunks.split(bytes), bytes.length, null);
        }, training), (ok, err) -> err != null ? new StateEncoded(as, null, 0, err) : ok);
        return this;
    }

    private Behavior<Command> onStateEncoded(StateEncoded e) {
        busy = false;
        if (e.error() != null) {
            e.seed().replyTo().tell(new Failed(-1, index, "range " + e.seed().range() + "'s state could not be written: " + cause(e.error()), true));
            return this;
        }
        Outgoing o = new Outgoing(e.seed(), e.parts());
        outgoing.put(e.seed().transfer(), o);
        sendState(o);
        return this;
    }

    /** Sends parts up to the window beyond what the receiver has; after the last, the closing {@link StateSent}. */
    private void sendState(Outgoing o) {
        ActorRef<Command> to = workers.get(o.seed.to());
        while (o.next < o.parts.size() && o.next < o.acked + STATE_WINDOW) {
            to.tell(new ShardState(o.seed.transfer(), index, o.seed.range(), o.next, o.parts.size(), o.parts.get(o.next)));
            o.next++;
        }
        if (o.next == o.parts.size()) {
            to.tell(new StateSent(o.seed.transfer(), index, o.seed.range(), o.parts.size(), o.seed.replyTo()));
            outgoing.remove(o.seed.transfer());
        }
    }

    private Behavior<Command> onStateAck(StateAck a) {
        Outgoing o = outgoing.get(a.transfer());
        if (o != null && a.received() > o.acked) {
            o.acked = a.received();
            sendState(o);
        }
        return this;
    }

    private Behavior<Command> onShardState(ShardState p) {
        if (workers == null || p.from() < 0 || p.from() >= workers.size()) {
            // not (yet) part of a run: a state part sent before this worker was adopted or configured is dropped
            getContext().getLog().warn("shard worker: state part {} of transfer {} dropped (this worker is not part of a run{})", p.index(),
                    p.transfer(), workers == null ? "" : " of that many workers");
            return this;
        }
        Chunks.Assembler a = incoming.computeIfAbsent(p.transfer(), t -> new Chunks.Assembler());
        try {
            a.add(p.index(), p.count(), p.data());
        } catch (IllegalArgumentException e) {
            getContext().getLog().warn("shard worker {}: state part {} of transfer {} dropped: {}", index, p.index(), p.transfer(), e.getMessage());
            return this;
        }
        int received = a.received();
        if (received % STATE_ACK_EVERY == 0) {
            workers.get(p.from()).tell(new StateAck(p.transfer(), received));
        }
        return this;
    }

    private Behavior<Command> onStateSent(StateSent sent) {
        Chunks.Assembler a = incoming.remove(sent.transfer());
        if (sent.range() == MODEL_STATE) {
            return installModel(sent, a);
        }
        String refused = broken != null ? "this worker takes no rounds: " + broken
                : a == null || !a.complete() ? (a == null ? "none" : a.received()) + " of the state's " + sent.count() + " parts came"
                : busy || current != null && current.start != null ? "a round or a transfer is under way here"
                : sent.range() < 0 || sent.range() >= owner.length ? "there is no range " + sent.range()
                : null;
        if (refused != null) {
            sent.replyTo().tell(new Failed(-1, index, "replica of range " + sent.range() + " not installed: " + refused, broken == null));
            return this;
        }
        busy = true;
        byte[] bytes = a.bytes();
        SaeModel m = model;
        IterativeDecoder.Options o = config.pam().decoder().cg();
        int from = cuts[sent.range()];
        int to = cuts[sent.range() + 1];
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            IterativeDecoder shard = new IterativeDecoder(m, o, from, to);
            shard.loadFrom(Chunks.decode(bytes));
            return new StateInstalled(sent, shard, null, 0, bytes.length, null);
        }, training), (ok, err) -> err != null ? new StateInstalled(sent, null, null, 0, 0, err) : ok);
        return this;
    }

    /** A joining worker's model (and the run's round count) from a peer. */
    private Behavior<Command> installModel(StateSent sent, Chunks.Assembler a) {
        String refused = !adopting ? "this worker is not joining a run"
                : a == null || !a.complete() ? (a == null ? "none" : a.received()) + " of the model's " + sent.count() + " parts came"
                : busy ? "a transfer is under way here"
                : null;
        if (refused != null) {
            sent.replyTo().tell(new Failed(-1, index, "model not installed: " + refused, false));
            return this;
        }
        busy = true;
        byte[] bytes = a.bytes();
        DataParallelPam.Config c = config;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            TrainerState st = Chunks.decode(bytes);
            SaeModel m = DataParallelPam.initialModel(c);
            m.loadFrom(st);
            return new StateInstalled(sent, null, m, st.counter("rounds"), bytes.length, null);
        }, training), (ok, err) -> err != null ? new StateInstalled(sent, null, null, 0, 0, err) : ok);
        return this;
    }

    private Behavior<Command> onStateInstalled(StateInstalled i) {
        busy = false;
        if (i.sent().range() == MODEL_STATE) {
            if (i.error() != null) {
                i.sent().replyTo().tell(new Failed(-1, index, "model not installed: " + cause(i.error()), false));
                return this;
            }
            model = i.model();
            rounds = i.rounds();
            adopting = false;
            broken = null;
            i.sent().replyTo().tell(configured());
            return this;
        }
        if (i.error() != null) {
            i.sent().replyTo().tell(new Failed(-1, index, "replica of range " + i.sent().range() + " not installed: " + cause(i.error()), true));
            return this;
        }
        shards.put(i.sent().range(), i.shard());
        i.sent().replyTo().tell(new ReplicaSeeded(i.sent().transfer(), i.sent().range(), index, i.bytes()));
        return this;
    }

    /** The model's file in a checkpoint directory of a sharded run. */
    static java.nio.file.Path modelFile(java.nio.file.Path dir) {
        return dir.resolve("model.safetensors");
    }

    /** Range r's file in a checkpoint directory of a sharded run. */
    static java.nio.file.Path rangeFile(java.nio.file.Path dir, int r) {
        return dir.resolve("range-" + r + ".safetensors");
    }

    private Behavior<Command> onWriteCheckpoint(WriteCheckpoint w) {
        if (busy || model == null || current != null || broken != null) {
            w.replyTo().tell(new CheckpointWritten(index, List.of(), rounds, 0, broken != null ? "this worker takes no rounds: " + broken
                    : "worker busy" + (current == null ? "" : " with round " + current.round) + "; checkpoint between rounds"));
            return this;
        }
        busy = true;
        SaeModel m = model;
        long r0 = rounds;
        boolean writesModel = index == 0;
        Map<Integer, IterativeDecoder> owned = new TreeMap<>();
        for (Map.Entry<Integer, IterativeDecoder> e : shards.entrySet()) {
            if (owner[e.getKey()] == index) {
                owned.put(e.getKey(), e.getValue());
            }
        }
        int ranges = owner.length;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            try {
                java.nio.file.Path dir = java.nio.file.Path.of(w.dir());
                java.nio.file.Files.createDirectories(dir);
                long bytes = 0;
                Map<String, String> meta = Map.of("kind", "sharded-run", "rounds", Long.toString(r0), "ranges", Integer.toString(ranges));
                if (writesModel) {
                    TrainerState.Builder b = new TrainerState.Builder("sharded-model");
                    m.saveTo(b);
                    b.put("rounds", r0);
                    java.nio.file.Path f = modelFile(dir);
                    io.proxstream.actors.serve.CheckpointStore.writeFile(f, b.build(), meta);
                    bytes += java.nio.file.Files.size(f);
                }
                for (Map.Entry<Integer, IterativeDecoder> e : owned.entrySet()) {
                    TrainerState.Builder b = new TrainerState.Builder("sharded-range");
                    e.getValue().saveTo(b);
                    java.nio.file.Path f = rangeFile(dir, e.getKey());
                    io.proxstream.actors.serve.CheckpointStore.writeFile(f, b.build(), meta);
                    bytes += java.nio.file.Files.size(f);
                }
                return new CheckpointDone(w, List.copyOf(owned.keySet()), bytes, null);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot write the checkpoint in " + w.dir() + ": " + e.getMessage(), e);
            }
        }, training), (ok, err) -> err != null ? new CheckpointDone(w, List.of(), 0, err) : ok);
        return this;
    }

    private Behavior<Command> onRestore(Restore r) {
        int n = r.workers().size();
        String refused = busy ? "this worker is computing (a round's step or a transfer); restore it between rounds"
                : n != r.rings().size() || r.index() < 0 || r.index() >= n ? "participant " + r.index() + " of " + n + " workers and "
                        + r.rings().size() + " rings"
                : r.owner().length != r.replica().length || r.owner().length < 1 ? "placement of " + r.owner().length + " owners and "
                        + r.replica().length + " replicas"
                : !r.config().algorithm().equals("pam") || !r.config().decoderStep().equals("cg")
                        ? "the column-sharded round runs PAM-SGD with the cg decoder step" : null;
        for (int g = 0; refused == null && g < r.owner().length; g++) {
            if (r.owner()[g] < 0 || r.owner()[g] >= n || r.replica()[g] >= n) {
                refused = "range " + g + " placed on worker " + r.owner()[g] + " / " + r.replica()[g] + " of " + n;
            }
        }
        if (refused != null) {
            r.replyTo().tell(new Failed(-1, r.index(), "restore refused: " + refused, false));
            return this;
        }
        // a round waiting here (for parts, the ring or corrections) is abandoned: the run goes back to the checkpoint
        current = null;
        next = null;
        cancelRoundTimers();
        if (live != null) {
            // rows of rounds the checkpoint holds are trained; every other lease (rounds after it, or of a coordinator that
            // is gone) goes back to the front of the queue: the rounds after the checkpoint are not in the model it resumes
            live.durable(r.durable());
            long back = live.coordinatorChanged();
            if (back > 0) {
                getContext().getLog().info("shard worker: {} leased rows back in the queue (the run resumes from {})", back, r.dir());
            }
        }
        broken = "restoring from the checkpoint in " + r.dir();
        busy = true;
        int self = r.index();
        DataParallelPam.Config c = r.config();
        int[] cs = ShardedPam.columnCuts(c.dim(), r.owner().length);
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            java.nio.file.Path dir = java.nio.file.Path.of(r.dir());
            try {
                TrainerState ms = io.proxstream.actors.serve.CheckpointStore.read(modelFile(dir)).state();
                ms.requireAlgorithm("sharded-model");
                SaeModel m = DataParallelPam.initialModel(c);
                m.loadFrom(ms);
                TreeMap<Integer, IterativeDecoder> held = new TreeMap<>();
                for (int g = 0; g < r.owner().length; g++) {
                    if (r.owner()[g] == self || r.replica()[g] == self) {
                        TrainerState rs = io.proxstream.actors.serve.CheckpointStore.read(rangeFile(dir, g)).state();
                        rs.requireAlgorithm("sharded-range");
                        IterativeDecoder shard = new IterativeDecoder(m, c.pam().decoder().cg(), cs[g], cs[g + 1]);
                        shard.loadFrom(rs);
                        held.put(g, shard);
                    }
                }
                return new Restored(r, m, held, ms.counter("rounds"), null);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot read the checkpoint in " + dir + ": " + e.getMessage(), e);
            }
        }, training), (ok, err) -> err != null ? new Restored(r, null, null, 0, err) : ok);
        return this;
    }

    private Behavior<Command> onRestored(Restored d) {
        busy = false;
        Restore r = d.request();
        if (d.error() != null) {
            broken = "restore failed: " + cause(d.error());
            r.replyTo().tell(new Failed(-1, r.index(), broken, false));
            return this;
        }
        takePart(r.config(), r.workers(), r.rings(), r.index(), r.owner(), r.replica(), d.model(), d.shards(), d.rounds());
        broken = null;
        adopting = false;
        r.replyTo().tell(configured());
        return this;
    }

    /** The latest live rows this worker trained (row-major, at most {@link #RECENT_ROWS}). */
    private float[] recent = new float[0];

    private void keepRecent(float[] rows) {
        int d = config.dim();
        long keep = Math.min((long) RECENT_ROWS * d, (long) recent.length + rows.length);
        float[] out = new float[(int) keep];
        int fromRows = (int) Math.min(rows.length, keep);
        int fromOld = (int) keep - fromRows;
        System.arraycopy(recent, recent.length - fromOld, out, 0, fromOld);
        System.arraycopy(rows, rows.length - fromRows, out, fromOld, fromRows);
        recent = out;
    }

    private Behavior<Command> onEvaluate(Evaluate e) {
        if (busy || model == null || current != null) {
            e.replyTo().tell(new Evaluated(index, 0, 0, 0, 0, new double[0], 0, new boolean[0], model == null
                    ? "this worker holds no model (not configured)" : "worker busy; evaluate between rounds"));
            return this;
        }
        busy = true;
        SaeModel m = model;
        float[] x = recent;
        int d = config.dim();
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> io.proxstream.solvers.sae.SaeEvaluator.sums(m,
                new io.proxstream.solvers.data.Dataset(x, x.length / d, d), 512), training), (ok, err) -> new EvaluateDone(e, ok, err));
        return this;
    }

    private Behavior<Command> onSave(Save v) {
        if (busy || model == null || current != null) {
            v.replyTo().tell(new Saved(index, rounds, model == null ? "this worker holds no model (not configured)"
                    : "worker busy with round " + (current == null ? "?" : current.round) + "; save between rounds"));
            return this;
        }
        busy = true;
        SaeModel m = model;
        long held = rounds;
        getContext().pipeToSelf(CompletableFuture.runAsync(() -> {
            try {
                if (!v.path().isEmpty()) {
                    java.nio.file.Path file = java.nio.file.Path.of(v.path());
                    if (file.getParent() != null) {
                        java.nio.file.Files.createDirectories(file.getParent());
                    }
                    io.proxstream.actors.train.SaeModelFiles.write(file, m, v.provenance());
                }
                if (!v.export().isEmpty()) {
                    io.proxstream.actors.train.SaeModelFiles.exportSaeLens(java.nio.file.Path.of(v.export()), m,
                            new java.util.LinkedHashMap<>(v.provenance()));
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot write the model to " + v.path() + ": " + e.getMessage(), e);
            }
        }, training), (ok, err) -> new SaveDone(v, held, err));
        return this;
    }

    private Behavior<Command> onDigest(GetDigest g) {
        if (busy || model == null) {
            g.replyTo().tell(new Digest(index, rounds, solves, "", List.of()));
            return this;
        }
        List<String> ranges = new ArrayList<>();
        for (int r = 0; r < owner.length; r++) {
            IterativeDecoder s = shards.get(r);
            if (s == null) {
                ranges.add("");
            } else {
                TrainerState.Builder b = new TrainerState.Builder("shard");
                s.saveTo(b);
                ranges.add(sha256(Chunks.encode(b.build())));
            }
        }
        g.replyTo().tell(new Digest(index, rounds, solves, digest(model), ranges));
        return this;
    }

    private static String cause(Throwable t) {
        Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        return c.toString();
    }

    /** SHA-256 (hex) of a model's {@link Chunks} encoding: equal digests, equal bits. */
    public static String digest(SaeModel model) {
        TrainerState.Builder b = new TrainerState.Builder("sharded-model");
        model.saveTo(b);
        return sha256(Chunks.encode(b.build()));
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Owners and replicas after the workers not {@code alive} are gone (indices into the survivors, in their old order): a
     * dead owner's range goes to its replica, and a range whose replica died or was promoted has none. Refused when a
     * range lost both its owner and its replica: its state is gone.
     */
    public static int[][] afterLoss(int[] owner, int[] replica, boolean[] alive) {
        int[] renumber = new int[alive.length];
        int n = 0;
        for (int w = 0; w < alive.length; w++) {
            renumber[w] = alive[w] ? n++ : -1;
        }
        if (n == 0) {
            throw new IllegalArgumentException("no worker is left");
        }
        int[] o = new int[owner.length];
        int[] rep = new int[owner.length];
        for (int r = 0; r < owner.length; r++) {
            int rp = replica[r] >= 0 ? renumber[replica[r]] : -1;
            if (alive[owner[r]]) {
                o[r] = renumber[owner[r]];
                rep[r] = rp;
            } else if (rp >= 0) {
                o[r] = rp;
                rep[r] = -1;
            } else {
                throw new IllegalArgumentException("range " + r + " lost its owner (worker " + owner[r] + ") and "
                        + (replica[r] < 0 ? "has no replica" : "its replica (worker " + replica[r] + ")") + ": its decoder state is gone;"
                        + " resume the run from its checkpoint");
            }
        }
        return new int[][] {o, rep};
    }

    /** The owners and replicas a {@link Configure} sets up among {@code n} workers. */
    public static int[][] initialPlacement(int n, boolean replicas) {
        int[][] p = roundRobinPlacement(n, n);
        if (!replicas) {
            java.util.Arrays.fill(p[1], -1);
        }
        return p;
    }
}
