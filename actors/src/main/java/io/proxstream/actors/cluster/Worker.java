package io.proxstream.actors.cluster;

import io.proxstream.monitoring.ClusterMeters;
import io.proxstream.solvers.sae.TrainerState;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * A training worker: registers with the receptionist, receives the model of a round in chunks and
 * its data slices, runs the encoder step and the decoder statistics off the actor thread (on the
 * training dispatcher) and sends back its result in chunks.
 */
public final class Worker extends AbstractBehavior<Protocol.WorkerCommand> {
    public static final ServiceKey<Protocol.WorkerCommand> KEY = ServiceKey.create(Protocol.WorkerCommand.class, "proxstream-sae-worker");

    private record Computed(long round, Protocol.StartRound start, List<Protocol.Assignment> slices, TrainerState result,
                            double seconds, Throwable error, double modelSeconds, double decodeSeconds) implements Protocol.WorkerInternal {
    }

    /** When the first chunk of each round's model came (nanoTime). */
    private final Map<Long, Long> firstChunk = new HashMap<>();

    private enum Report implements Protocol.WorkerInternal, org.apache.pekko.actor.NoSerializationVerificationNeeded {
        /** The periodic report. */
        TICK,
        /** Rows were pushed to this node: report now, so their push is answered once the coordinator recorded them. */
        NOW
    }

    /** How often a live worker reports its ingest ledger to the coordinator. */
    static final java.time.Duration REPORT_EVERY = java.time.Duration.ofMillis(250);

    private DataParallelPam.WorkerState state;
    private final String name;
    private final Executor training;
    private final ClusterMeters meters;
    private DataParallelPam.Config config;
    /**
     * The last decoder received (its key and its entries): rounds whose model carries the encoder alone use it. Kept across
     * runs of the same coordinator only by key, so a decoder from another coordinator (another epoch) never matches.
     */
    private DataParallelPam.CoordinatorState.DecoderKey heldKey;
    private Map<String, float[]> heldDecoder;
    private final Map<Long, Chunks.Assembler> models = new HashMap<>();
    private final Map<Long, Protocol.StartRound> starts = new HashMap<>();
    private boolean busy;
    private Protocol.StartRound queued;
    /** The rows pushed to this node's ingest endpoint (null: the node has none, it trains on shards only). */
    private final LiveRows live;
    /** The coordinator singleton (through its proxy), to which a live worker reports its ledger. */
    private final ActorRef<Protocol.CoordinatorCommand> coordinatorProxy;
    /** The coordinator of the last round started: a different one resumed from its checkpoint. */
    private ActorRef<Protocol.CoordinatorCommand> lastCoordinator;
    /** The accepted count of the last periodic or prompted report. */
    private long lastReported = -1;

    public static Behavior<Protocol.WorkerCommand> create(String name, ClusterMeters meters) {
        return create(name, meters, null, null);
    }

    /**
     * A worker; with {@code live} it also trains on the rows pushed to its node (live assignments) and reports its ledger to
     * {@code coordinator} every {@link #REPORT_EVERY}.
     */
    public static Behavior<Protocol.WorkerCommand> create(String name, ClusterMeters meters, LiveRows live,
                                                          ActorRef<Protocol.CoordinatorCommand> coordinator) {
        return create(name, meters, live, coordinator, KEY);
    }

    /** The key under which the workers of run {@code run} of a {@code serve --cluster} register (each run has its own). */
    public static ServiceKey<Protocol.WorkerCommand> key(String run) {
        return ServiceKey.create(Protocol.WorkerCommand.class, "proxstream-sae-worker-" + run);
    }

    /** A worker registered under {@code key}, where the coordinator of its run looks for workers. */
    public static Behavior<Protocol.WorkerCommand> create(String name, ClusterMeters meters, LiveRows live,
                                                          ActorRef<Protocol.CoordinatorCommand> coordinator,
                                                          ServiceKey<Protocol.WorkerCommand> key) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            ctx.getSystem().receptionist().tell(Receptionist.register(key, ctx.getSelf()));
            if (live != null && coordinator != null) {
                timers.startTimerWithFixedDelay(Report.TICK, REPORT_EVERY);
                ActorRef<Protocol.WorkerCommand> self = ctx.getSelf();
                live.onAdded(() -> self.tell(Report.NOW));
            }
            return new Worker(ctx, name, meters, live, coordinator);
        }));
    }

    private Worker(ActorContext<Protocol.WorkerCommand> ctx, String name, ClusterMeters meters, LiveRows live,
                   ActorRef<Protocol.CoordinatorCommand> coordinator) {
        super(ctx);
        this.name = name;
        this.meters = meters;
        this.live = live;
        this.coordinatorProxy = coordinator;
        this.training = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("proxstream.training-dispatcher"));
    }

    @Override
    public Receive<Protocol.WorkerCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(Protocol.ModelChunk.class, this::onChunk)
                .onMessage(Protocol.StartRound.class, this::onStart)
                .onMessage(Computed.class, this::onComputed)
                .onMessage(Protocol.RoundSettled.class, this::onSettled)
                .onMessage(Protocol.RunFinished.class, this::onFinished)
                .onMessageEquals(Report.TICK, this::onReport)
                .onMessageEquals(Report.NOW, () -> {
                    // several pushes in a row: the first report carries them all, the others have nothing new
                    return live.ledger().accepted() > lastReported ? onReport() : this;
                })
                .onMessage(Protocol.LedgerRecorded.class, r -> {
                    if (live != null) {
                        live.recorded(r.accepted());
                    }
                    return this;
                })
                .onSignal(org.apache.pekko.actor.typed.PostStop.class, stop -> {
                    if (live != null) {
                        live.onAdded(() -> { }); // no one to report to any more
                    }
                    // a retired worker (its run finished) frees its trainer; one stopped mid-round leaves it to the round
                    if (!busy && state != null) {
                        state.close();
                    }
                    return this;
                })
                .build();
    }

    private Behavior<Protocol.WorkerCommand> onChunk(Protocol.ModelChunk c) {
        firstChunk.putIfAbsent(c.round(), System.nanoTime());
        models.computeIfAbsent(c.round(), r -> new Chunks.Assembler()).add(c.index(), c.count(), c.data());
        meters.received(c.data().length);
        return this;
    }

    private Behavior<Protocol.WorkerCommand> onReport() {
        LiveRows.Ledger l = live.ledger();
        coordinatorProxy.tell(Protocol.WorkerStatus.of(name, l, getContext().getSelf()));
        lastReported = l.accepted();
        meters.ingestQueue(l.queued(), l.heldBytes());
        return this;
    }

    private Behavior<Protocol.WorkerCommand> onFinished(Protocol.RunFinished f) {
        if (live != null) {
            if (f.durableRound() >= 0) {
                live.durable(f.durableRound());
            }
            LiveRows.Ledger l = live.ledger();
            live.close();
            getContext().getLog().info("worker {}: the run finished after {} rounds; {} rows pushed here were not trained", name,
                    f.rounds(), l.queued());
            System.out.println("proxstream node: the run finished; this node's ingest takes no more rows (" + l.queued()
                    + " queued here were not trained)");
        }
        return this;
    }

    private Behavior<Protocol.WorkerCommand> onSettled(Protocol.RoundSettled s) {
        if (live == null) {
            return this;
        }
        if (s.included().contains(name)) {
            live.merged(s.round());
        } else {
            live.excluded(s.round());
        }
        if (s.durableRound() >= 0) {
            live.durable(s.durableRound());
        }
        return this;
    }

    private Behavior<Protocol.WorkerCommand> onStart(Protocol.StartRound s) {
        if (live != null && lastCoordinator != null && !lastCoordinator.equals(s.coordinator())) {
            // a new coordinator resumed from its checkpoint: rows merged by the old one after it are not in the model
            long back = live.coordinatorChanged();
            getContext().getLog().info("worker {}: new coordinator; {} leased rows back in the queue", name, back);
        }
        lastCoordinator = s.coordinator();
        // a newer round supersedes anything not yet started (the coordinator gave up on the old one)
        starts.keySet().removeIf(r -> r < s.round());
        models.keySet().removeIf(r -> r < s.round());
        firstChunk.keySet().removeIf(r -> r < s.round());
        starts.put(s.round(), s);
        if (busy) {
            queued = s;
            return this;
        }
        launch(s);
        return this;
    }

    private void launch(Protocol.StartRound s) {
        Chunks.Assembler a = models.get(s.round());
        if (a == null || !a.complete()) {
            getContext().getLog().warn("worker {}: round {} started with {} model chunks missing", name, s.round(),
                    a == null ? s.chunks() : "some");
            return;
        }
        long started = System.nanoTime();
        Long first = firstChunk.remove(s.round());
        double modelSeconds = first == null ? 0 : (started - first) / 1e9;
        TrainerState received = Chunks.decode(a.bytes());
        DataParallelPam.CoordinatorState.DecoderKey key = new DataParallelPam.CoordinatorState.DecoderKey(s.decoderEpoch(),
                s.decoderVersion());
        TrainerState model;
        if (s.decoderIncluded()) {
            heldKey = key;
            heldDecoder = DataParallelPam.CoordinatorState.decoderOf(received);
            model = received;
        } else if (key.equals(heldKey)) {
            model = DataParallelPam.CoordinatorState.withDecoder(received, heldDecoder);
        } else {
            getContext().getLog().warn("worker {}: round {} came without its decoder {}, and this worker holds {}", name, s.round(),
                    key, heldKey);
            s.coordinator().tell(new Protocol.RoundFailed(s.round(), name, -1, "this worker does not hold decoder " + key
                    + " (it holds " + heldKey + "); send the whole model"));
            starts.remove(s.round());
            models.remove(s.round());
            return;
        }
        double decodeSeconds = (System.nanoTime() - started) / 1e9;
        if (config == null || !config.equals(s.config())) {
            if (state != null) {
                state.close();
            }
            config = s.config();
            state = new DataParallelPam.WorkerState(config);
        }
        if (live != null && !config.live() && live.accepting()) {
            // this run trains on shards or the synthetic stream: rows pushed here would never be trained, so refuse them
            LiveRows.Ledger l = live.ledger();
            live.close();
            getContext().getLog().error("worker {}: the run does not train pushed rows (its coordinator has no --data live); this"
                    + " node's ingest refuses them from now on, {} rows it had taken are dropped", name, l.queued());
            System.out.println("proxstream node: the run does not train pushed rows (start the coordinator with --data live);"
                    + " this node's ingest answers 409, " + l.queued() + " rows it had taken are dropped");
        }
        DataParallelPam.WorkerState st = state;
        List<Protocol.Assignment> slices = new java.util.ArrayList<>();
        float[] rows = null;
        for (Protocol.Assignment slice : s.assignments()) {
            if (!slice.isLive()) {
                slices.add(slice);
            } else if (live != null && live.cols() != config.dim()) {
                getContext().getLog().error("worker {}: this node's ingest takes rows of width {}, the run trains width {}: its rows"
                        + " are not trained (start the node with --dim {})", name, live.cols(), config.dim(), config.dim());
            } else if (live != null && rows == null) {
                // the rows waiting now, up to what the coordinator asked for; they stay here until the round is trained
                rows = live.lease(s.round(), slice.rows(), config.batch());
                if (rows.length > 0) {
                    slices.add(Protocol.Assignment.live(rows.length / config.dim()));
                }
            }
        }
        if (slices.isEmpty()) {
            // nothing to train (the queue emptied since the last report, or no ingest here): say so at once
            if (live != null) {
                s.coordinator().tell(Protocol.WorkerStatus.of(name, live.ledger(), getContext().getSelf()));
            }
            s.coordinator().tell(new Protocol.RoundDone(s.round(), name, List.of(), 0, 0, 0, 0, 0));
            starts.remove(s.round());
            models.remove(s.round());
            return;
        }
        busy = true;
        float[] leased = rows;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            long t0 = System.nanoTime();
            TrainerState r = st.round(model, slices, leased);
            return new Object[] {r, (System.nanoTime() - t0) / 1e9};
        }, training), (res, err) -> err != null ? new Computed(s.round(), s, slices, null, 0, err, modelSeconds, decodeSeconds)
                : new Computed(s.round(), s, slices, (TrainerState) res[0], (Double) res[1], null, modelSeconds, decodeSeconds));
    }

    private Behavior<Protocol.WorkerCommand> onComputed(Computed c) {
        busy = false;
        starts.remove(c.round());
        models.remove(c.round());
        if (c.error() != null) {
            Throwable cause = c.error() instanceof java.util.concurrent.CompletionException && c.error().getCause() != null
                    ? c.error().getCause() : c.error();
            getContext().getLog().error("worker {}: round {} failed: {}", name, c.round(), cause.toString());
            // say so at once (the coordinator need not wait for the round's timeout) and which shard could not be read
            c.start().coordinator().tell(new Protocol.RoundFailed(c.round(), name, cause instanceof DataParallelPam.UnreadableShard u
                    ? u.shard() : -1, String.valueOf(cause.getMessage())));
            if (live != null) {
                live.excluded(c.round());
            }
        } else {
            long encodeStart = System.nanoTime();
            byte[] bytes = Chunks.encode(c.result());
            List<byte[]> parts = Chunks.split(bytes);
            double codec = c.decodeSeconds() + (System.nanoTime() - encodeStart) / 1e9;
            ActorRef<Protocol.CoordinatorCommand> to = c.start().coordinator();
            for (int i = 0; i < parts.size(); i++) {
                to.tell(new Protocol.ResultChunk(c.round(), name, i, parts.size(), parts.get(i)));
            }
            double mse = c.result().counter("mse_x1e9") / 1e9;
            if (live != null) {
                // the ledger before the result, so the coordinator never merges rows it has not seen accepted
                to.tell(Protocol.WorkerStatus.of(name, live.ledger(), getContext().getSelf()));
            }
            to.tell(new Protocol.RoundDone(c.round(), name, c.slices(), c.result().counter("rows"), mse, c.seconds(),
                    parts.size(), bytes.length, c.modelSeconds(), codec));
            meters.sent(bytes.length);
            meters.compute(c.seconds());
        }
        // the latest start received while busy (a new coordinator may count rounds from its checkpoint, lower than ours)
        if (queued != null) {
            Protocol.StartRound next = queued;
            queued = null;
            launch(next);
        }
        return this;
    }
}
