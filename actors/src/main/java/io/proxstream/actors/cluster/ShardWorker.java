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
 * A worker of the column-sharded round ({@code docs/column-sharded-cluster.md}) over Artery: it holds a copy of the whole
 * model, owns decoder columns {@code cuts[i] .. cuts[i+1]} as an {@link IterativeDecoder} column shard, and runs
 * {@link ShardedPam}'s round with its peers, so that N of these compute {@link ShardedPam}'s bits ({@code ShardWorkerTest}):
 * <ol>
 * <li>{@link Start}: the encoder step on its slices (off the actor, on the training dispatcher);</li>
 * <li>{@link Exchange}: to every worker j its codes and its rows' columns of j's shard, with its row count;</li>
 * <li>once every worker's part is in: its encoder, scaled by its share of the round's rows, summed by the ring
 * ({@link RingCollective}, operation = round), while its shard is fed every part in worker order (off the actor);</li>
 * <li>on a solve round: its shard's correction solved and applied (off the actor), sent to every peer as a
 * {@link Correction}, and the peers' corrections added to its copy of the decoder;</li>
 * <li>{@link Done} to whoever started the round.</li>
 * </ol>
 * No node sends an m × m matrix, a whole model or a window; the control ({@link Start}) is small.
 *
 * <p>A round that fails (a peer's part or the ring did not come before the deadline, a malformed part, a non-finite
 * correction) leaves this worker's state part-way through the round, so the worker says so ({@link Failed}) and refuses
 * further rounds until it is configured again: it never trains on from a state no peer shares.
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
     * copy of the run's initial model, the shard of columns {@link ShardedPam#columnCuts}{@code (dim, N)[index ..
     * index+1]}. Any state of an earlier run is dropped.
     */
    public record Configure(DataParallelPam.Config config, List<ActorRef<Command>> workers, List<ActorRef<RingCollective.Command>> rings,
                            int index, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /** Run round {@code round} on these slices; the answer ({@link Done} or {@link Failed}) goes to {@code replyTo}. */
    public record Start(long round, List<Protocol.Assignment> slices, ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /**
     * Part {@code index} of {@code count} of worker {@code from}'s round-{@code round} part for this worker: its codes, its rows'
     * columns of this worker's shard and its row count (a {@link Chunks}-encoded state). Bulk: {@link ChunkSerializer}.
     */
    public record Exchange(long round, int from, int index, int count, byte[] data) implements Command {
    }

    /**
     * Part {@code index} of {@code count} of worker {@code from}'s round-{@code round} decoder correction of its columns
     * ((m+1) × width float32, little-endian; no bytes: the step had no rows to solve from). Bulk: {@link ChunkSerializer}.
     */
    public record Correction(long round, int from, int index, int count, byte[] data) implements Command {
    }

    /** Asks for the digest of this worker's copy of the model. */
    public record GetDigest(ActorRef<Reply> replyTo) implements Command, CborSerializable {
    }

    /** What a shard worker answers. */
    public interface Reply {
    }

    /** This worker's ring collective. */
    public record Member(ActorRef<Command> worker, ActorRef<RingCollective.Command> ring) implements Reply, CborSerializable {
    }

    /** Configured as participant {@code index}, owning columns {@code from .. to}. */
    public record Configured(int index, int from, int to) implements Reply, CborSerializable {
    }

    /**
     * Round {@code round} done here: {@code rows} trained here of {@code totalRows} in all, the mean squared error seen before
     * its encoder steps, and where the time went (seconds): encoder step, waiting for the peers' parts, feeding the shard,
     * the ring, the solve, waiting for the peers' corrections; bytes sent to peers (parts and corrections; the ring's are
     * {@link RingAllReduce#floatsSent} × 4).
     */
    public record Done(long round, int index, long rows, long totalRows, double mse, boolean solved, double encoderSeconds,
                       double exchangeSeconds, double accumulateSeconds, double ringSeconds, double solveSeconds,
                       double correctionSeconds, double seconds, long bytesSent) implements Reply, CborSerializable {
    }

    /** Round {@code round} failed here, and why; this worker takes no more rounds until configured again. */
    public record Failed(long round, int index, String reason) implements Reply, CborSerializable {
    }

    /** SHA-256 of this worker's copy of the model ({@link #digest}), after {@code rounds} rounds with {@code solves} solves. */
    public record Digest(int index, long rounds, long solves, String sha256) implements Reply, CborSerializable {
    }

    private record Encoded(long round, TrainerState result, byte[][] parts, Throwable error, double seconds)
            implements Command, NoSerializationVerificationNeeded {
    }

    private record Accumulated(long round, Throwable error, double seconds) implements Command, NoSerializationVerificationNeeded {
    }

    private record RingDone(RingCollective.Outcome outcome) implements Command, NoSerializationVerificationNeeded {
    }

    private record Solved(long round, float[] delta, Throwable error, double seconds) implements Command, NoSerializationVerificationNeeded {
    }

    private record Expired(long round) implements Command, NoSerializationVerificationNeeded {
    }

    /** The state of one round here. */
    private static final class Round {
        final long round;
        Start start;
        long t0;
        TrainerState own;
        double encoderSeconds;
        long encodedAt;
        final Chunks.Assembler[] parts;
        final TrainerState[] received;
        int receivedCount;
        long exchangedAt;
        long totalRows;
        float[] encoderSum;
        boolean ringDone;
        boolean accumulated;
        double accumulateSeconds;
        double ringSeconds;
        long ringStartedAt;
        boolean solving;
        boolean solvedHere;
        double solveSeconds;
        long solvedAt;
        final Chunks.Assembler[] corrections;
        final boolean[] applied;
        int appliedCount;
        long bytesSent;

        Round(long round, int n) {
            this.round = round;
            this.parts = new Chunks.Assembler[n];
            this.received = new TrainerState[n];
            this.corrections = new Chunks.Assembler[n];
            this.applied = new boolean[n];
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
    private SaeModel model;
    private IterativeDecoder shard;
    private DataParallelPam.WorkerState state;
    /** Rounds with rows (the solve schedule counts these, as {@link ShardedPam} does). */
    private long rounds;
    private long solves;
    /** The round under way, and parts of the next one that came early (a fast peer). */
    private Round current;
    private Round next;
    /** Why this worker takes no rounds (null: it does). */
    private String broken = "not configured";
    /** A future holds the model or the shard: nothing may touch them until it comes back. */
    private boolean busy;

    public static Behavior<Command> create() {
        return Behaviors.setup(ctx -> Behaviors.withTimers(t -> new ShardWorker(ctx, t)));
    }

    private ShardWorker(ActorContext<Command> ctx, TimerScheduler<Command> timers) {
        super(ctx);
        this.timers = timers;
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
                .onMessage(Start.class, this::onStart)
                .onMessage(Encoded.class, this::onEncoded)
                .onMessage(Exchange.class, this::onExchange)
                .onMessage(Accumulated.class, this::onAccumulated)
                .onMessage(RingDone.class, this::onRingDone)
                .onMessage(Solved.class, this::onSolved)
                .onMessage(Correction.class, this::onCorrection)
                .onMessage(Expired.class, this::onExpired)
                .onMessage(GetDigest.class, g -> {
                    g.replyTo().tell(busy || model == null ? new Digest(index, rounds, solves, "")
                            : new Digest(index, rounds, solves, digest(model)));
                    return this;
                })
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
                    + "; configure it when the round has failed or ended"));
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
            model = DataParallelPam.initialModel(config);
            shard = new IterativeDecoder(model, config.pam().decoder().cg(), cuts[index], cuts[index + 1]);
            state = new DataParallelPam.WorkerState(config);
            rounds = 0;
            solves = 0;
            current = null;
            next = null;
            broken = null;
            timers.cancelAll();
            c.replyTo().tell(new Configured(index, cuts[index], cuts[index + 1]));
        } catch (RuntimeException e) {
            broken = "configuration refused: " + e.getMessage();
            c.replyTo().tell(new Failed(-1, c.index(), broken));
        }
        return this;
    }

    private Behavior<Command> onStart(Start s) {
        if (broken != null || busy || (current != null && current.start != null)) {
            s.replyTo().tell(new Failed(s.round(), index, broken != null ? "this worker takes no rounds: " + broken
                    : "round " + current.round + " is still under way here"));
            return this;
        }
        Round r = roundFor(s.round());
        if (r == null) {
            s.replyTo().tell(new Failed(s.round(), index, "round " + s.round() + " is not after round " + current.round));
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
        int[] cs = cuts;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            long t0 = System.nanoTime();
            TrainerState.Builder b = new TrainerState.Builder("sharded-model");
            m.saveTo(b);
            TrainerState res = st.round(b.build(), s.slices());
            byte[][] parts = new byte[cs.length - 1][];
            for (int j = 0; j < parts.length; j++) {
                parts[j] = Chunks.encode(part(res, cfg, cs[j], cs[j + 1]));
            }
            return new Encoded(s.round(), res, parts, null, (System.nanoTime() - t0) / 1e9);
        }, training), (ok, err) -> err != null ? new Encoded(s.round(), null, null, err, 0) : ok);
        return this;
    }

    /** The round's state for a message of round {@code round}: the current one, the next one (early), or none (stale). */
    private Round roundFor(long round) {
        if (current != null && current.round == round) {
            return current;
        }
        if (current == null || round > current.round) {
            if (next == null || next.round < round) {
                next = new Round(round, workers.size());
            }
            return next.round == round ? next : null;
        }
        return null;
    }

    /** A worker's round-result part for the owner of columns {@code from .. to}: its codes, those columns of its rows, its counters. */
    static TrainerState part(TrainerState result, DataParallelPam.Config config, int from, int to) {
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
        b.put("codes.x", IterativeDecoder.columns(x, rows, config.dim(), from, to));
        return b.build();
    }

    private Behavior<Command> onEncoded(Encoded e) {
        busy = false;
        if (abandoned()) {
            return this;
        }
        Round r = current;
        if (r == null || r.round != e.round()) {
            return this; // failed meanwhile
        }
        if (e.error() != null) {
            return fail(r, "its encoder step failed: " + cause(e.error()));
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
        r.received[index] = Chunks.decode(e.parts()[index]);
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
            return r == current ? fail(r, "worker " + x.from() + "'s part is malformed: " + e.getMessage()) : this;
        }
        if (r == current) {
            afterExchange(r);
        }
        return this;
    }

    /** Once every part is in (and the encoder step done here): start the ring and feed the shard. */
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
            fail(r, "a part lacks its row count: " + e.getMessage());
            return;
        }
        r.totalRows = total;
        if (total == 0) {
            // no rows anywhere: nothing changes, and the round does not count (as in ShardedPam)
            finish(r);
            return;
        }
        int m = config.latents();
        int d = config.dim();
        double share = (double) r.own.counter("rows") / total;
        float[] enc = new float[m * d + m];
        float[] t = r.own.floats().get("W_enc");
        float[] tb = r.own.floats().get("b_enc");
        for (int i = 0; i < m * d; i++) {
            enc[i] = (float) (share * t[i]);
        }
        for (int i = 0; i < m; i++) {
            enc[m * d + i] = (float) (share * tb[i]);
        }
        r.ringStartedAt = System.nanoTime();
        ActorRef<RingCollective.Outcome> reply = getContext().messageAdapter(RingCollective.Outcome.class, RingDone::new);
        ring.tell(new RingCollective.Run(r.round, rings, index, enc, RingCollective.PIECE_FLOATS,
                Duration.ofMillis(config.roundTimeoutMs()), reply));
        busy = true;
        IterativeDecoder s = shard;
        DataParallelPam.Config cfg = config;
        TrainerState[] parts = r.received.clone();
        int width = cuts[index + 1] - cuts[index];
        double gamma = config.pam().forgetting();
        long round = r.round;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            long t0 = System.nanoTime();
            List<DataParallelPam.CodeBuffer.Parsed> parsed = new ArrayList<>();
            for (int w = 0; w < parts.length; w++) {
                try {
                    parsed.add(DataParallelPam.CodeBuffer.parse(parts[w], cfg, width));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("worker " + w + "'s part: " + e.getMessage(), e);
                }
            }
            // every worker's minibatches in worker order, forgetting before each, as ShardedPam and the coordinator feed
            for (DataParallelPam.CodeBuffer.Parsed p : parsed) {
                p.feed(s, gamma);
            }
            return new Accumulated(round, null, (System.nanoTime() - t0) / 1e9);
        }, training), (ok, err) -> err != null ? new Accumulated(round, err, 0) : ok);
    }

    private Behavior<Command> onRingDone(RingDone d) {
        Round r = current;
        if (r == null || r.round != d.outcome().op()) {
            return this;
        }
        if (!d.outcome().ok()) {
            return failWhenIdle(r, "the encoder's ring all-reduce failed: " + d.outcome().error());
        }
        r.ringDone = true;
        r.encoderSum = d.outcome().data();
        r.ringSeconds = (System.nanoTime() - r.ringStartedAt) / 1e9;
        afterRingAndShard(r);
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
            return fail(r, "feeding its shard failed: " + cause(a.error()));
        }
        r.accumulated = true;
        r.accumulateSeconds = a.seconds();
        afterRingAndShard(r);
        return this;
    }

    /** The new encoder into this copy, then the solve (on a solve round) or the end of the round. */
    private void afterRingAndShard(Round r) {
        if (!r.ringDone || !r.accumulated) {
            return;
        }
        int m = config.latents();
        int d = config.dim();
        System.arraycopy(r.encoderSum, 0, model.encoderWeights(), 0, m * d);
        System.arraycopy(r.encoderSum, m * d, model.encoderBias(), 0, m);
        model.encoderChanged();
        r.encoderSum = null;
        if ((rounds + 1) % config.solveEvery() != 0) {
            finish(r);
            return;
        }
        r.solving = true;
        busy = true;
        IterativeDecoder s = shard;
        SaeModel mod = model;
        PamSgdTrainer.Options o = config.pam();
        long round = r.round;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            long t0 = System.nanoTime();
            IterativeDecoder.Step step = s.solve(mod, o.rho(), o.muDec(), o.holdUnfired());
            if (step.delta() != null) {
                s.apply(step.delta());
            }
            return new Solved(round, step.delta(), null, (System.nanoTime() - t0) / 1e9);
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
            return fail(r, "its shard's solve failed: " + cause(s.error()));
        }
        r.solveSeconds = s.seconds();
        r.solvedHere = true;
        r.solvedAt = System.nanoTime();
        if (s.delta() != null) {
            solves++;
        }
        byte[] bytes = new byte[s.delta() == null ? 0 : 4 * s.delta().length];
        if (s.delta() != null) {
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(s.delta());
        }
        List<byte[]> chunks = Chunks.split(bytes);
        for (int j = 0; j < workers.size(); j++) {
            if (j != index) {
                for (int i = 0; i < chunks.size(); i++) {
                    workers.get(j).tell(new Correction(r.round, index, i, chunks.size(), chunks.get(i)));
                }
                r.bytesSent += bytes.length;
            }
        }
        r.applied[index] = true;
        r.appliedCount++;
        // the peers' corrections that came while this one was solved
        for (int j = 0; j < workers.size(); j++) {
            if (!r.applied[j] && r.corrections[j] != null && r.corrections[j].complete()) {
                if (!applyCorrection(r, j)) {
                    return this;
                }
            }
        }
        if (r.appliedCount == workers.size()) {
            finish(r);
        }
        return this;
    }

    private Behavior<Command> onCorrection(Correction c) {
        if (broken != null) {
            return this;
        }
        Round r = roundFor(c.round());
        if (r != current || c.from() < 0 || c.from() >= workers.size() || c.from() == index || r.applied[c.from()]) {
            getContext().getLog().warn("shard worker {}: correction part {} of worker {} for round {} dropped (not this round's, or"
                    + " a duplicate)", index, c.index(), c.from(), c.round());
            return this;
        }
        try {
            if (r.corrections[c.from()] == null) {
                r.corrections[c.from()] = new Chunks.Assembler();
            }
            if (r.corrections[c.from()].add(c.index(), c.count(), c.data()) && r.solvedHere) {
                if (applyCorrection(r, c.from()) && r.appliedCount == workers.size()) {
                    finish(r);
                }
            }
        } catch (IllegalArgumentException e) {
            return fail(r, "worker " + c.from() + "'s correction is malformed: " + e.getMessage());
        }
        return this;
    }

    /** Adds worker j's correction of its columns to this copy of the decoder; false when it failed the round. */
    private boolean applyCorrection(Round r, int j) {
        byte[] bytes = r.corrections[j].bytes();
        r.corrections[j] = null;
        int m = config.latents();
        int width = cuts[j + 1] - cuts[j];
        if (bytes.length != 0) {
            if (bytes.length != 4L * (m + 1) * width) {
                fail(r, "worker " + j + "'s correction holds " + bytes.length + " bytes, not (m+1) x width x 4 = " + 4L * (m + 1) * width);
                return false;
            }
            float[] delta = new float[(m + 1) * width];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(delta);
            for (float v : delta) {
                if (!Float.isFinite(v)) {
                    fail(r, "worker " + j + "'s correction holds " + v);
                    return false;
                }
            }
            IterativeDecoder.addColumns(model, cuts[j], cuts[j + 1], delta);
        }
        r.applied[j] = true;
        r.appliedCount++;
        return true;
    }

    private void finish(Round r) {
        timers.cancel(r.round);
        long now = System.nanoTime();
        boolean solved = r.solving;
        if (r.totalRows > 0) {
            rounds++;
        }
        double exchange = r.exchangedAt == 0 ? 0 : (r.exchangedAt - r.encodedAt) / 1e9;
        double corrections = solved ? (now - r.solvedAt) / 1e9 : 0;
        long rows = r.own.counter("rows");
        r.start.replyTo().tell(new Done(r.round, index, rows, r.totalRows, r.own.counter("mse_x1e9") / 1e9, solved, r.encoderSeconds,
                exchange, r.accumulateSeconds, r.ringSeconds, r.solveSeconds, corrections, (now - r.t0) / 1e9, r.bytesSent));
        current = null;
    }

    private Behavior<Command> onExpired(Expired e) {
        Round r = current;
        if (r != null && r.round == e.round()) {
            List<Integer> missing = new ArrayList<>();
            for (int j = 0; j < workers.size(); j++) {
                if (r.exchangedAt == 0 ? r.received[j] == null : r.solving && !r.applied[j]) {
                    missing.add(j);
                }
            }
            String what = r.own == null ? "its own encoder step"
                    : r.exchangedAt == 0 ? "the parts of workers " + missing
                    : !r.ringDone || !r.accumulated ? (r.ringDone ? "feeding its shard" : "the ring all-reduce")
                    : "the corrections of workers " + missing;
            return failWhenIdle(r, "round " + r.round + " passed its deadline of " + config.roundTimeoutMs() + " ms waiting for " + what
                    + " (a peer died or is cut off)");
        }
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
        r.start.replyTo().tell(new Failed(r.round, index, why));
        r.start = null;
        timers.cancel(r.round);
        return this;
    }

    private Behavior<Command> fail(Round r, String why) {
        timers.cancel(r.round);
        if (r.start != null) {
            r.start.replyTo().tell(new Failed(r.round, index, why));
        }
        broken = "round " + r.round + " failed: " + why;
        getContext().getLog().error("shard worker {}: {}", index, broken);
        current = null;
        next = null;
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
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Chunks.encode(b.build())));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
