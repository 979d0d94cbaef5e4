package io.proxstream.actors.cluster;

import io.proxstream.actors.serve.CheckpointStore;
import io.proxstream.monitoring.ClusterMeters;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.solvers.sae.TrainerState;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * The coordinator of data-parallel PAM-SGD, run as a cluster singleton: it holds the authoritative
 * model and decoder statistics and runs synchronous rounds over the workers the receptionist lists
 * (see {@link DataParallelPam}). Consistency model: a round's model is the same for every worker;
 * the round completes when every worker it started with has answered, or at the round timeout with
 * those that did (the others are stragglers: their slices are not counted and their shards are
 * handed out again from the same offset in the next round, so no row is lost or trained twice).
 * A worker that leaves the cluster (graceful leave or downed by the split-brain resolver) drops
 * out of the round at once. Checkpoints (atomic) every {@code checkpointEvery} rounds and at the
 * end; a new coordinator (singleton hand-over) resumes from the latest one.
 */
public final class Coordinator extends AbstractBehavior<Protocol.CoordinatorCommand> {

    private record WorkersChanged(Set<ActorRef<Protocol.WorkerCommand>> workers) implements Protocol.CoordinatorInternal {
    }

    private record RoundTimeout(long round) implements Protocol.CoordinatorInternal {
    }

    /** The coordinator's state came back from the blocking start (resumed, or new). */
    record Loaded(DataParallelPam.CoordinatorState state, String from, boolean stopRequested, boolean done)
            implements Protocol.CoordinatorInternal {
        Loaded(DataParallelPam.CoordinatorState state, String from) {
            this(state, from, false, false);
        }
    }

    /** A file in the run's directory that asks its coordinator to stop (written by {@code POST /runs/NAME/stop}). */
    public static final String STOP_FILE = "stop.json";

    /**
     * The live ledger's latest accepted counts, rewritten after every change (between checkpoints), so that a coordinator
     * resuming after its own node died knows what every node had accepted, not only what the checkpoint held.
     */
    public static final String LEDGER_FILE = "ledger.json";

    private record LedgerWritten(long seq, String error) implements Protocol.CoordinatorInternal {
    }

    /** The summary a finished run writes; a run of a {@code serve --cluster} that has it does not train again. */
    public static final String SUMMARY_FILE = "summary.json";

    private record ExportDone(String error) implements Protocol.CoordinatorInternal {
    }

    /**
     * Cluster Sharding moves this run's coordinator to another node (a rebalance, or this node leaving the cluster): it
     * lets the round in flight finish, writes a checkpoint and stops, so the next coordinator resumes where this one
     * ended instead of at the last periodic checkpoint. The stop message of the run entities; local only (the shard sends
     * it to its own entity).
     */
    public enum HandOff implements Protocol.CoordinatorInternal, org.apache.pekko.actor.NoSerializationVerificationNeeded {
        INSTANCE
    }

    private record HandedOff(String error) implements Protocol.CoordinatorInternal {
    }

    /** Time to look for ledger entries of nodes that left the cluster before this coordinator saw them as workers. */
    private enum CheckGone implements Protocol.CoordinatorInternal {
        TICK
    }

    private record LoadFailed(Throwable cause) implements Protocol.CoordinatorInternal {
    }

    /** A round's results were decoded and merged (and the checkpoint written if due) off the actor thread. */
    private record Merged(long round, int workers, long rows, double mse, double computeSeconds, String checkpointError,
                          List<String> included, boolean checkpointed) implements Protocol.CoordinatorInternal {
    }

    private record MergeFailed(long round, Throwable cause) implements Protocol.CoordinatorInternal {
    }

    private record Finished(String error) implements Protocol.CoordinatorInternal {
    }

    /** A live run ran out of rows and checkpointed what it had merged (rounds up to {@code round}), or failed to. */
    private record IdleCheckpoint(long round, String error) implements Protocol.CoordinatorInternal {
    }

    private final DataParallelPam.Config config;
    /**
     * The model and statistics. Owned by this actor, except while a merge or the finish runs on the
     * blocking dispatcher ({@link #busy}): then that task owns it and this actor does not touch it until
     * the task's message returns.
     */
    private final DataParallelPam.CoordinatorState state;
    private final java.util.concurrent.Executor blocking;
    private boolean busy;
    private final ClusterMeters meters;
    private final CheckpointStore checkpoints;
    private final Path out;
    private final TimerScheduler<Protocol.CoordinatorCommand> timers;
    private final Address self;
    private Set<ActorRef<Protocol.WorkerCommand>> workers = new HashSet<>();
    private final Map<String, ActorRef<Protocol.WorkerCommand>> pending = new HashMap<>();
    private final Map<String, Protocol.RoundDone> done = new TreeMap<>();
    private final Map<String, Chunks.Assembler> results = new HashMap<>();
    private boolean running;
    private boolean finished;
    private long roundStart;
    private long firstRoundStart;
    private long rowsAtFirstRound = -1;
    private double computeSeconds;
    /** Time the coordinator spent merging results (decode, accumulate, decoder solve, checkpoint when due), and how often. */
    private double mergeSeconds;
    /** Encoding and sending the model per round; per result: the model's arrival and the codec at the worker, its upload. */
    private double sendSeconds;
    private long sends;
    private double modelSeconds;
    private double codecSeconds;
    private double uploadSeconds;
    private final Map<String, Long> firstResultChunk = new HashMap<>();
    private long merges;
    private long mergeStart;
    private long resultCount;
    private long lost;
    private long stragglers;
    private long bytesSent;
    private long bytesReceived;
    private final List<Map<String, Object>> history = new ArrayList<>();
    /** Live ingest: each worker's last report. */
    private final Map<String, Protocol.WorkerStatus> reports = new HashMap<>();
    /** Live ingest: changes to the ledger (part of the state) waiting until this actor owns the state again. */
    private final List<java.util.function.Consumer<DataParallelPam.IngestLedger>> ledgerChanges = new ArrayList<>();
    /** The latest round a checkpoint holds (-1: none). */
    private long durableRound = -1;
    /** Shard files each worker could not read (it never gets them again), and why. */
    private final Map<Integer, Set<String>> refused = new HashMap<>();
    private final Map<Integer, String> refusedWhy = new TreeMap<>();
    /** The workers of the round in flight (all of them are told how it settled). */
    private final Set<ActorRef<Protocol.WorkerCommand>> roundWorkers = new HashSet<>();
    /** "proxstream node: " or "proxstream run NAME: ", before every line this coordinator prints. */
    private final String prefix;
    /** The run's name in a service (null: the one run of {@code proxstream node}). */
    private final String run;
    /** Asked to stop: the next round is not started, the run finishes as at its end. */
    private boolean stopRequested;
    /** The ledger change count last written to {@value #LEDGER_FILE}, and whether a write is in flight. */
    private long ledgerWrittenSeq = -1;
    private boolean ledgerWriting;
    /**
     * Reports whose node waits to hear they are recorded, per worker: the node's count and the ledger change that holds it;
     * answered once a ledger file with that change is written. At most two per worker (a newer report replaces the second:
     * its count covers the pushes of the one it replaces), so a ledger that cannot be written holds no growing list.
     */
    private final Map<ActorRef<Protocol.WorkerCommand>, java.util.ArrayDeque<long[]>> unrecorded = new HashMap<>();
    /** Being handed off to another node: no new round; checkpoint, then stop. */
    private boolean handingOff;
    /** Exports asked for while a round or a merge ran: written when the state is this actor's again. */
    private final List<ActorRef<Protocol.RunView>> exportWaiters = new ArrayList<>();
    /** Each worker's last result: rows and compute seconds (for the status and the dashboard). */
    private final Map<String, double[]> workerLast = new HashMap<>();
    /**
     * The decoder each worker holds, as far as this coordinator knows: recorded when the worker finished a round whose
     * model carried it (a worker keeps the last decoder it received). A worker not listed gets the whole model.
     */
    private final Map<ActorRef<Protocol.WorkerCommand>, DataParallelPam.CoordinatorState.DecoderKey> decoderHeld = new HashMap<>();
    /** The round in flight: the workers whose model carried the decoder, and its key. */
    private final Map<String, DataParallelPam.CoordinatorState.DecoderKey> decoderSent = new HashMap<>();
    /** The figures of the last settled round, for status answers while a merge owns the state. */
    private Map<String, Object> lastFigures = Map.of();

    public static Behavior<Protocol.CoordinatorCommand> create(DataParallelPam.Config config, Path out, ClusterMeters meters) {
        return create(config, out, meters, Worker.KEY, null);
    }

    /**
     * The coordinator of run {@code run} of a {@code serve --cluster} (null: the one run of {@code proxstream node}): its
     * workers register under {@code workers}; it honours the run directory's {@value #STOP_FILE} and does not train a
     * run that has its {@value #SUMMARY_FILE} again. If it cannot start, it stays up answering its status with the error.
     */
    public static Behavior<Protocol.CoordinatorCommand> create(DataParallelPam.Config config, Path out, ClusterMeters meters,
                                                               org.apache.pekko.actor.typed.receptionist.ServiceKey<Protocol.WorkerCommand> workers,
                                                               String run) {
        String prefix = run == null ? "proxstream node: " : "proxstream run " + run + ": ";
        return Behaviors.withStash(1024, stash -> Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            java.util.concurrent.Executor blocking = ctx.getSystem().dispatchers()
                    .lookup(org.apache.pekko.actor.typed.DispatcherSelector.blocking());
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> load(config, out, run != null), blocking), (l, err) -> err == null ? l
                    : new LoadFailed(err instanceof CompletionException && err.getCause() != null ? err.getCause() : err));
            return Behaviors.receive(Protocol.CoordinatorCommand.class)
                    .onMessage(Loaded.class, l -> stash.unstashAll(new Coordinator(ctx, timers, config, out, meters, l, blocking,
                            workers, run, prefix)))
                    .onMessage(LoadFailed.class, f -> {
                        // never silently start over: the rounds already trained are in those files
                        ctx.getLog().error("coordinator: cannot start: {}", f.cause().getMessage());
                        System.err.println(prefix + "coordinator cannot start (or resume), so it does not train: "
                                + f.cause().getMessage());
                        return failed(run, "the coordinator cannot start (or resume), so the run does not train: " + f.cause().getMessage());
                    })
                    .onAnyMessage(m -> {
                        if (!stash.isFull()) {
                            stash.stash(m);
                        }
                        return Behaviors.same();
                    })
                    .build();
        })));
    }

    /**
     * The coordinator's state: resumed from the newest checkpoint that reads back, or new when there are
     * none. If checkpoints exist and none reads back, refuses (the rounds they hold are not thrown away):
     * the message names the files and reasons; delete or move them to start over.
     */
    static Loaded load(DataParallelPam.Config config, Path out) {
        return load(config, out, false);
    }

    /** As {@link #load(DataParallelPam.Config, Path)}; for a run of a service, also whether it was asked to stop or has finished. */
    static Loaded load(DataParallelPam.Config config, Path out, boolean service) {
        boolean stop = service && java.nio.file.Files.exists(out.resolve(STOP_FILE));
        boolean done = service && java.nio.file.Files.exists(out.resolve(SUMMARY_FILE));
        DataParallelPam.CoordinatorState state = new DataParallelPam.CoordinatorState(config);
        CheckpointStore store = new CheckpointStore(out.resolve("checkpoints"), 3);
        List<String> unreadable = new ArrayList<>();
        try {
            var latest = store.loadLatest(unreadable::add);
            if (latest.isPresent()) {
                state.restore(latest.get().state());
                catchUpLedger(config, state, out);
                return new Loaded(state, latest.get().file().toString(), stop, done);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot list the checkpoints in " + out.resolve("checkpoints") + ": "
                    + e.getMessage(), e);
        }
        if (!unreadable.isEmpty()) {
            throw new IllegalStateException(unreadable.size() + " checkpoint(s) in " + out.resolve("checkpoints")
                    + " and none reads back: " + String.join("; ", unreadable) + ". Move them aside to start over.");
        }
        catchUpLedger(config, state, out);
        return new Loaded(state, "", stop, done);
    }

    /** A live run's ledger brought up to the {@value #LEDGER_FILE} written after its checkpoint (if any, and newer). */
    static void catchUpLedger(DataParallelPam.Config config, DataParallelPam.CoordinatorState state, Path out) {
        Path f = out.resolve(LEDGER_FILE);
        if (!config.live() || !java.nio.file.Files.exists(f)) {
            return;
        }
        try {
            com.fasterxml.jackson.databind.JsonNode doc = ConfigLoader.mapper().readTree(java.nio.file.Files.readString(f));
            Map<String, Long> accepted = new TreeMap<>();
            doc.get("accepted").fields().forEachRemaining(e -> accepted.put(e.getKey(), e.getValue().asLong()));
            Map<String, Long> incarnations = new TreeMap<>();
            if (doc.has("incarnations")) {
                doc.get("incarnations").fields().forEachRemaining(e -> incarnations.put(e.getKey(), e.getValue().asLong()));
            }
            state.ledger().catchUp(doc.get("seq").asLong(), accepted, incarnations);
        } catch (IOException | RuntimeException e) {
            // the checkpoint's ledger stands; say that the newer counts could not be read
            System.err.println("proxstream: the ingest ledger " + f + " cannot be read (" + e + "); the ledger resumes from the"
                    + " checkpoint's counts");
        }
    }

    /** A coordinator that could not start: answers its status with {@code error}, ignores everything else. */
    static Behavior<Protocol.CoordinatorCommand> failed(String run, String error) {
        Protocol.RunView failure = view(Map.of("name", run == null ? "cluster" : run, "state", "failed", "error", error));
        return Behaviors.receive(Protocol.CoordinatorCommand.class)
                .onMessage(Protocol.GetStatus.class, g -> {
                    g.replyTo().tell(failure);
                    return Behaviors.same();
                })
                .onMessage(Protocol.Export.class, g -> {
                    g.replyTo().tell(failure);
                    return Behaviors.same();
                })
                .onMessageEquals(HandOff.INSTANCE, Behaviors::stopped)
                .onAnyMessage(m -> Behaviors.same())
                .build();
    }

    private static Protocol.RunView view(Map<String, Object> doc) {
        try {
            return new Protocol.RunView(ConfigLoader.toJson(doc));
        } catch (RuntimeException e) {
            return new Protocol.RunView("{\"error\":\"status not encodable: " + e.getClass().getSimpleName() + "\"}");
        }
    }

    private Coordinator(ActorContext<Protocol.CoordinatorCommand> ctx, TimerScheduler<Protocol.CoordinatorCommand> timers,
                        DataParallelPam.Config config, Path out, ClusterMeters meters, Loaded loaded,
                        java.util.concurrent.Executor blocking,
                        org.apache.pekko.actor.typed.receptionist.ServiceKey<Protocol.WorkerCommand> workerKey, String run,
                        String prefix) {
        super(ctx);
        this.prefix = prefix;
        this.run = run;
        this.stopRequested = loaded.stopRequested();
        this.finished = loaded.done();
        this.timers = timers;
        this.config = config;
        this.out = out;
        this.meters = meters;
        this.blocking = blocking;
        this.state = loaded.state();
        this.self = Cluster.get(ctx.getSystem()).selfMember().address();
        this.checkpoints = new CheckpointStore(out.resolve("checkpoints"), 3);
        if (!loaded.from().isEmpty()) {
            durableRound = state.round() - 1;
            ctx.getLog().info("coordinator: resumed from {} at round {}, {} rows", loaded.from(), state.round(), state.rows());
            System.out.printf(prefix + "coordinator resumed from checkpoint at round %d (%d rows)%n", state.round(), state.rows());
        } else {
            System.out.println(prefix + "coordinator started: " + config.describe());
        }
        ctx.getSystem().receptionist().tell(Receptionist.subscribe(workerKey,
                ctx.messageAdapter(Receptionist.Listing.class, l -> new WorkersChanged(l.getServiceInstances(workerKey)))));
        if (config.live()) {
            timers.startTimerWithFixedDelay(CheckGone.TICK, Duration.ofSeconds(1));
        }
    }

    @Override
    public Receive<Protocol.CoordinatorCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(WorkersChanged.class, this::onWorkers)
                .onMessage(Protocol.ResultChunk.class, this::onChunk)
                .onMessage(Protocol.RoundDone.class, this::onDone)
                .onMessage(Protocol.WorkerStatus.class, this::onStatus)
                .onMessage(Protocol.RoundFailed.class, this::onFailed)
                .onMessage(RoundTimeout.class, this::onTimeout)
                .onMessage(Merged.class, this::onMerged)
                .onMessage(MergeFailed.class, this::onMergeFailed)
                .onMessage(Finished.class, this::onFinished)
                .onMessage(IdleCheckpoint.class, this::onIdleCheckpoint)
                .onMessage(Protocol.Wake.class, w -> this)
                .onMessage(LedgerWritten.class, this::onLedgerWritten)
                .onMessageEquals(CheckGone.TICK, this::onCheckGone)
                .onMessageEquals(HandOff.INSTANCE, this::onHandOff)
                .onMessage(HandedOff.class, this::onHandedOff)
                .onMessage(Protocol.StopRun.class, this::onStop)
                .onMessage(Protocol.GetStatus.class, g -> {
                    g.replyTo().tell(view(status()));
                    return this;
                })
                .onMessage(Protocol.Export.class, this::onExport)
                .onMessage(ExportDone.class, this::onExportDone)
                .build();
    }

    /**
     * A node whose rows the ledger expects but that is no longer a member (down or removed) is gone for good: its rows
     * not merged are lost. A coordinator that resumed after its own node died never saw that node leave as a worker, so
     * it checks the membership (a node still joining or unreachable but not downed stays open).
     */
    private Behavior<Protocol.CoordinatorCommand> onCheckGone() {
        if (busy || finished) {
            return this;
        }
        Set<String> present = new HashSet<>();
        for (org.apache.pekko.cluster.Member m : Cluster.get(getContext().getSystem()).state().getMembers()) {
            if (m.status() != org.apache.pekko.cluster.MemberStatus.down() && m.status() != org.apache.pekko.cluster.MemberStatus.removed()) {
                present.add(m.address().hostPort());
            }
        }
        boolean changed = false;
        for (String w : state.ledger().openWorkers()) {
            if (!present.contains(w) && !reports.containsKey(w)) {
                changed = true;
                closeLedgerEntry(w, " (it left the cluster)");
            }
        }
        if (changed) {
            applyLedger();
            if (!running && !busy) {
                startRound();
            }
        }
        return this;
    }

    private Behavior<Protocol.CoordinatorCommand> onHandOff() {
        if (handingOff) {
            return this;
        }
        handingOff = true;
        if (finished && !busy) {
            return Behaviors.stopped();
        }
        System.out.println(prefix + "coordinator handed to another node: it checkpoints after the round in flight and stops here");
        if (!running && !busy) {
            handOffNow();
        }
        return this;
    }

    /** The hand-off's checkpoint, on the blocking dispatcher (which owns the state until HandedOff). */
    private void handOffNow() {
        busy = true;
        timers.cancelAll();
        getContext().pipeToSelf(checkpointOnBlocking(), (ok, err) -> new HandedOff(err == null ? null : String.valueOf(err.getCause() != null ? err.getCause() : err)));
    }

    private Behavior<Protocol.CoordinatorCommand> onHandedOff(HandedOff h) {
        busy = false;
        if (h.error() != null) {
            getContext().getLog().error("coordinator: the hand-off checkpoint failed ({}); the next coordinator resumes from the"
                    + " previous one", h.error());
        } else {
            durableRound = state.round() - 1;
            settle(-1, List.of());
        }
        exportWaiters.forEach(w -> w.tell(view(Map.of("name", run == null ? "cluster" : run, "state", "moving",
                "error", "the coordinator moved to another node before the export; ask again"))));
        return Behaviors.stopped();
    }

    private Behavior<Protocol.CoordinatorCommand> onStop(Protocol.StopRun s) {
        if (!stopRequested && !finished) {
            stopRequested = true;
            System.out.println(prefix + "stop requested (" + s.reason() + "); the run ends after the round in flight");
        }
        if (!running && !busy) {
            startRound();
        }
        return this;
    }

    private Behavior<Protocol.CoordinatorCommand> onExport(Protocol.Export e) {
        if (finished && !busy) {
            // the final model and its export were written at the end (or the run finished before this coordinator started)
            e.replyTo().tell(view(status()));
            return this;
        }
        exportWaiters.add(e.replyTo());
        if (!running && !busy && !handingOff) {
            export();
        }
        return this;
    }

    /** Writes the SAELens export of the current model on the blocking dispatcher, which owns the state meanwhile. */
    private void export() {
        busy = true;
        Map<String, Object> provenance = new LinkedHashMap<>(Map.of("trainer", "proxstream serve --cluster (data-parallel "
                + config.algorithm() + ")", "rows", Long.toString(state.rows()), "rounds", Long.toString(state.round())));
        getContext().pipeToSelf(CompletableFuture.runAsync(() -> {
            try {
                io.proxstream.actors.train.SaeModelFiles.exportSaeLens(out.resolve("export"), state.model(), provenance);
            } catch (IOException ex) {
                throw new java.io.UncheckedIOException(ex);
            }
        }, blocking), (ok, err) -> new ExportDone(err == null ? null : String.valueOf(err.getCause() != null ? err.getCause() : err)));
    }

    private Behavior<Protocol.CoordinatorCommand> onExportDone(ExportDone d) {
        busy = false;
        Map<String, Object> s = status();
        if (d.error() != null) {
            s.put("error", "the export failed: " + d.error());
        } else {
            s.put("exportedAtRows", state.rows());
        }
        exportWaiters.forEach(w -> w.tell(view(s)));
        exportWaiters.clear();
        if (!finished) {
            startRound();
        }
        return this;
    }

    /** The run's status: what a {@code GET /runs/NAME} shows. Read on the actor thread; state figures only when it owns the state. */
    private Map<String, Object> status() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("name", run == null ? "cluster" : run);
        s.put("state", finished ? (busy ? "finishing" : "finished") : stopRequested ? "stopping" : workers.isEmpty() ? "waiting for workers"
                : running || busy ? "training" : config.live() ? "waiting for rows" : "training");
        s.put("coordinator", self.hostPort());
        List<String> ws = new ArrayList<>();
        workers.forEach(w -> ws.add(id(w)));
        java.util.Collections.sort(ws);
        s.put("workers", ws);
        Map<String, Object> per = new LinkedHashMap<>();
        for (String w : ws) {
            Map<String, Object> f = new LinkedHashMap<>();
            double[] last = workerLast.get(w);
            if (last != null) {
                f.put("lastRoundRows", (long) last[0]);
                f.put("lastRoundSeconds", last[1]);
            }
            Protocol.WorkerStatus r = reports.get(w);
            if (r != null) {
                f.put("queued", r.queued());
                f.put("queuedBytes", r.heldBytes());
            }
            per.put(w, f);
        }
        s.put("perWorker", per);
        if (!busy) {
            lastFigures = figures();
        }
        s.putAll(lastFigures);
        s.put("durableRound", durableRound);
        s.put("workersLost", lost);
        s.put("stragglers", stragglers);
        s.put("config", config);
        return s;
    }

    private Map<String, Object> figures() {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("round", state.round());
        f.put("rows", state.rows());
        if (!history.isEmpty()) {
            f.put("lastRound", history.get(history.size() - 1));
        }
        if (config.live()) {
            f.put("ingest", state.ledger().describe());
        }
        return f;
    }

    /** A worker's name: its node's host:port (a local reference has no host, so take this node's). */
    private String id(ActorRef<?> ref) {
        Address a = ref.path().address();
        return (a.hasGlobalScope() ? a : self).hostPort();
    }

    private Behavior<Protocol.CoordinatorCommand> onFailed(Protocol.RoundFailed f) {
        ActorRef<Protocol.WorkerCommand> ref = running && f.round() == state.round() ? pending.remove(f.worker()) : null;
        if (ref == null) {
            return this;
        }
        // whatever the worker holds, it gets the whole model next time (it may have failed for want of the decoder)
        decoderHeld.remove(ref);
        if (f.shard() >= 0 && refused.computeIfAbsent(f.shard(), k -> new HashSet<>()).add(f.worker())) {
            refusedWhy.put(f.shard(), f.reason());
            System.out.println(prefix + "worker " + f.worker() + " cannot read shard " + f.shard() + " (" + f.reason()
                    + "); it goes to other workers");
        } else {
            getContext().getLog().error("coordinator: worker {} failed round {}: {}", f.worker(), f.round(), f.reason());
        }
        if (pending.isEmpty()) {
            finishRound();
        }
        return this;
    }

    /** Shards with rows left that no current worker can read. */
    private Set<Integer> unreadable() {
        Set<Integer> out = new java.util.TreeSet<>();
        for (Map.Entry<Integer, Set<String>> e : refused.entrySet()) {
            if (state.rowsLeft(e.getKey()) > 0 && workers.stream().allMatch(w -> e.getValue().contains(id(w)))) {
                out.add(e.getKey());
            }
        }
        return out;
    }

    private Behavior<Protocol.CoordinatorCommand> onStatus(Protocol.WorkerStatus s) {
        if (!config.live()) {
            return this;
        }
        if (!reports.containsKey(s.worker()) && workers.stream().noneMatch(w -> id(w).equals(s.worker()))) {
            // a report from a node the receptionist does not list (yet, or any more): its ledger waits for its listing
            return this;
        }
        reports.put(s.worker(), s);
        meters.workerQueue(s.worker(), s.queued());
        ledgerChanges.add(l -> {
            l.report(s.worker(), s.incarnation(), s.accepted());
            if (s.replyTo() != null) {
                java.util.ArrayDeque<long[]> q = unrecorded.computeIfAbsent(s.replyTo(), w -> new java.util.ArrayDeque<>());
                if (q.size() == 2) {
                    q.pollLast();
                }
                q.addLast(new long[] {s.accepted(), l.seq()});
            }
        });
        applyLedger();
        if (!running && !busy) {
            startRound();
        }
        return this;
    }

    /** Queues closing {@code worker}'s ledger entry (its node is gone): what it accepted and was not merged is lost. */
    private void closeLedgerEntry(String worker, String why) {
        ledgerChanges.add(l -> {
            long lostBefore = l.lost();
            l.close(worker);
            if (l.lost() > lostBefore) {
                System.out.println(prefix + (l.lost() - lostBefore) + " rows queued on " + worker + " lost with it" + why);
            }
        });
    }

    /** A checkpoint on the blocking dispatcher; the caller has set {@link #busy} (the task owns the state until it ends). */
    private CompletableFuture<Void> checkpointOnBlocking() {
        return CompletableFuture.runAsync(() -> {
            try {
                checkpoint();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, blocking);
    }

    /**
     * Applies the waiting ledger changes when this actor owns the state, then publishes the live ledger (meters) and
     * persists it (merges change it too, so this runs after each one even with no changes waiting).
     */
    private void applyLedger() {
        if (busy || !config.live()) {
            return;
        }
        DataParallelPam.IngestLedger l = state.ledger();
        ledgerChanges.forEach(c -> c.accept(l));
        ledgerChanges.clear();
        meters.ledger(l.accepted(), l.trained(), l.queued(), l.lost());
        persistLedger();
        answerRecorded();
    }

    /** Tells each node waiting for it the count of its that a written ledger file holds. */
    private void answerRecorded() {
        Iterator<Map.Entry<ActorRef<Protocol.WorkerCommand>, java.util.ArrayDeque<long[]>>> it = unrecorded.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<ActorRef<Protocol.WorkerCommand>, java.util.ArrayDeque<long[]>> e = it.next();
            long count = -1;
            while (!e.getValue().isEmpty() && e.getValue().peekFirst()[1] <= ledgerWrittenSeq) {
                count = Math.max(count, e.getValue().pollFirst()[0]);
            }
            if (count >= 0) {
                e.getKey().tell(new Protocol.LedgerRecorded(count));
            }
            if (e.getValue().isEmpty()) {
                it.remove();
            }
        }
    }

    /** Writes the ledger's accepted counts when they changed (one write in flight; the next one after it). Owns the state. */
    private void persistLedger() {
        if (busy || ledgerWriting || state.ledger().seq() == ledgerWrittenSeq) {
            return;
        }
        Map<String, Object> snap = state.ledger().snapshot();
        long seq = state.ledger().seq();
        ledgerWriting = true;
        getContext().pipeToSelf(CompletableFuture.runAsync(() -> {
            try {
                AtomicFiles.writeString(out.resolve(LEDGER_FILE), ConfigLoader.toJson(snap) + "\n");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, blocking), (ok, err) -> new LedgerWritten(seq, err == null ? null : String.valueOf(err)));
    }

    private Behavior<Protocol.CoordinatorCommand> onLedgerWritten(LedgerWritten w) {
        ledgerWriting = false;
        if (w.error() != null) {
            getContext().getLog().error("coordinator: cannot write the ingest ledger: {}", w.error());
        } else {
            ledgerWrittenSeq = w.seq();
            answerRecorded();
        }
        persistLedger();
        return this;
    }

    private Behavior<Protocol.CoordinatorCommand> onWorkers(WorkersChanged w) {
        Set<ActorRef<Protocol.WorkerCommand>> before = workers;
        workers = new HashSet<>(w.workers());
        for (ActorRef<Protocol.WorkerCommand> gone : before) {
            if (!workers.contains(gone)) {
                lost++;
                meters.workerLost();
                meters.workerGone(id(gone));
                workerLast.remove(id(gone));
                decoderHeld.remove(gone);
                getContext().getLog().warn("coordinator: worker {} left the cluster", id(gone));
                System.out.println(prefix + "worker " + id(gone) + " lost");
                if (running && pending.remove(id(gone)) != null) {
                    stragglers++;
                    meters.stragglers(1);
                }
                if (config.live()) {
                    reports.remove(id(gone));
                    closeLedgerEntry(id(gone), "");
                }
            }
        }
        for (ActorRef<Protocol.WorkerCommand> in : workers) {
            if (!before.contains(in)) {
                System.out.println(prefix + "worker " + id(in) + " joined");
            }
        }
        meters.workers(workers.size());
        applyLedger();
        if (running && pending.isEmpty()) {
            finishRound();
        } else if (!running && !busy) {
            startRound();
        }
        return this;
    }

    private void startRound() {
        if (handingOff) {
            if (!busy && !running && !finished) {
                handOffNow();
            }
            return;
        }
        int needed = state.round() == 0 ? config.minWorkers() : 1;
        if (finished || busy || workers.size() < needed) {
            return;
        }
        if (state.finished(unreadable()) || stopRequested) {
            Set<Integer> left = unreadable();
            if (!left.isEmpty()) {
                System.out.println(prefix + "shards " + left + " could be read by no worker; the run ends without their"
                        + " remaining rows");
            }
            finished = true;
            busy = true;
            Map<String, Object> run = runFigures();
            run.put("stopped", stopRequested);
            getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> finish(run), blocking),
                    (r, err) -> new Finished(err == null ? r : String.valueOf(err)));
            return;
        }
        List<ActorRef<Protocol.WorkerCommand>> ws = new ArrayList<>(workers);
        ws.sort(Comparator.comparing(this::id));
        long sendStart = System.nanoTime();
        List<List<Protocol.Assignment>> slices;
        if (config.live()) {
            long[] waiting = new long[ws.size()];
            boolean any = false;
            for (int i = 0; i < ws.size(); i++) {
                Protocol.WorkerStatus r = reports.get(id(ws.get(i)));
                waiting[i] = r == null ? 0 : r.available();
                any |= waiting[i] >= config.batch();
            }
            if (!any) {
                // no queue holds a minibatch: the next report starts the round. Rows merged since the last checkpoint are
                // not trained until one holds them, so write it now rather than when data comes again
                if (durableRound < state.round() - 1) {
                    busy = true;
                    long upTo = state.round() - 1;
                    getContext().pipeToSelf(checkpointOnBlocking(), (ok, err) -> new IdleCheckpoint(upTo, err == null ? null : err.toString()));
                }
                return;
            }
            slices = state.assignLive(waiting);
        } else {
            slices = state.assign(ws.stream().map(this::id).toList(), refused);
        }
        // the whole model to a worker that does not hold the current decoder, the encoder alone to one that does: between
        // decoder solves only the encoder changes (half the model at d x m)
        DataParallelPam.CoordinatorState.DecoderKey key = state.decoderKey();
        byte[][] payload = new byte[2][];
        List<List<byte[]>> split = new ArrayList<>(java.util.Arrays.asList(null, null));
        decoderSent.clear();
        pending.clear();
        done.clear();
        results.clear();
        long round = state.round();
        roundWorkers.clear();
        for (int i = 0; i < ws.size(); i++) {
            ActorRef<Protocol.WorkerCommand> w = ws.get(i);
            if (slices.get(i).isEmpty()) {
                continue;
            }
            roundWorkers.add(w);
            boolean include = !key.equals(decoderHeld.get(w));
            int which = include ? 0 : 1;
            if (payload[which] == null) {
                payload[which] = Chunks.encode(include ? state.modelState() : state.encoderState());
                split.set(which, Chunks.split(payload[which]));
            }
            List<byte[]> parts = split.get(which);
            for (int c = 0; c < parts.size(); c++) {
                w.tell(new Protocol.ModelChunk(round, c, parts.size(), parts.get(c)));
            }
            w.tell(new Protocol.StartRound(round, config, slices.get(i), parts.size(), getContext().getSelf(), include, key.epoch(),
                    key.version()));
            pending.put(id(w), w);
            if (include) {
                decoderSent.put(id(w), key);
            }
            bytesSent += payload[which].length;
            meters.sent(payload[which].length);
        }
        running = true;
        roundStart = System.nanoTime();
        sendSeconds += (roundStart - sendStart) / 1e9;
        sends++;
        firstResultChunk.clear();
        if (rowsAtFirstRound < 0) {
            rowsAtFirstRound = state.rows();
            firstRoundStart = roundStart;
        }
        timers.startSingleTimer("round", new RoundTimeout(round), Duration.ofMillis(config.roundTimeoutMs()));
    }

    private Behavior<Protocol.CoordinatorCommand> onChunk(Protocol.ResultChunk c) {
        if (c.round() != state.round() || !pending.containsKey(c.worker())) {
            return this;
        }
        firstResultChunk.putIfAbsent(c.worker(), System.nanoTime());
        results.computeIfAbsent(c.worker(), k -> new Chunks.Assembler()).add(c.index(), c.count(), c.data());
        bytesReceived += c.data().length;
        meters.received(c.data().length);
        return this;
    }

    private Behavior<Protocol.CoordinatorCommand> onDone(Protocol.RoundDone d) {
        if (!running || d.round() != state.round() || !pending.containsKey(d.worker())) {
            getContext().getLog().info("coordinator: late result of round {} from {} ignored", d.round(), d.worker());
            return this;
        }
        Chunks.Assembler a = results.get(d.worker());
        if (d.chunks() == 0 && d.rows() == 0) {
            // a live worker whose queue emptied since its report: nothing to merge
            pending.remove(d.worker());
        } else if (a == null || !a.complete()) {
            getContext().getLog().warn("coordinator: result of {} for round {} incomplete; dropped", d.worker(), d.round());
            pending.remove(d.worker());
        } else {
            done.put(d.worker(), d);
            ActorRef<Protocol.WorkerCommand> ref = pending.remove(d.worker());
            DataParallelPam.CoordinatorState.DecoderKey sent = decoderSent.remove(d.worker());
            if (sent != null) {
                decoderHeld.put(ref, sent);
            }
            Long first = firstResultChunk.get(d.worker());
            uploadSeconds += first == null ? 0 : (System.nanoTime() - first) / 1e9;
            modelSeconds += d.modelSeconds();
            codecSeconds += d.codecSeconds();
            meters.workerRound(d.worker(), d.rows(), d.seconds());
            workerLast.put(d.worker(), new double[] {d.rows(), d.seconds()});
        }
        if (pending.isEmpty()) {
            finishRound();
        }
        return this;
    }

    private Behavior<Protocol.CoordinatorCommand> onTimeout(RoundTimeout t) {
        if (!running || t.round() != state.round()) {
            return this;
        }
        getContext().getLog().warn("coordinator: round {} timed out waiting for {}", t.round(), pending.keySet());
        System.out.println(prefix + "round " + t.round() + " timed out; stragglers " + pending.keySet());
        stragglers += pending.size();
        meters.stragglers(pending.size());
        pending.clear();
        finishRound();
        return this;
    }

    private void finishRound() {
        timers.cancel("round");
        running = false;
        if (done.isEmpty()) {
            // nobody answered: the live workers' rows of the round go back to their queues; try again with whoever is there
            settle(state.round(), List.of());
            startRound();
            return;
        }
        // decoding the results and merging them (sums of statistics, the decoder solve) take seconds at large
        // sizes: they run on the blocking dispatcher, which owns the state until Merged comes back
        List<byte[]> encoded = new ArrayList<>();
        List<List<Protocol.Assignment>> covered = new ArrayList<>();
        double mse = 0;
        long rows = 0;
        double compute = 0;
        for (Map.Entry<String, Protocol.RoundDone> e : done.entrySet()) {
            encoded.add(results.get(e.getKey()).bytes());
            covered.add(e.getValue().assignments());
            mse += e.getValue().mse() * e.getValue().rows();
            compute += e.getValue().seconds();
            rows += e.getValue().rows();
        }
        results.clear();
        long round = state.round();
        int answered = done.size();
        long roundRows = rows;
        double roundMse = mse / rows;
        double roundCompute = compute;
        List<String> included = new ArrayList<>(done.keySet());
        Map<String, Long> liveRows = new LinkedHashMap<>();
        if (config.live()) {
            for (Map.Entry<String, Protocol.RoundDone> e : done.entrySet()) {
                long n = 0;
                for (Protocol.Assignment a : e.getValue().assignments()) {
                    n += a.isLive() ? a.rows() : 0;
                }
                liveRows.put(e.getKey(), n);
            }
        }
        // live rows stay on their nodes until a checkpoint holds them: checkpoint early when a node's queue is half full of them
        boolean forceCheckpoint = config.live() && reports.values().stream().anyMatch(r -> 2 * r.heldBytes() > r.budgetBytes());
        busy = true;
        mergeStart = System.nanoTime();
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            List<TrainerState> rs = new ArrayList<>();
            for (byte[] b : encoded) {
                rs.add(Chunks.decode(b));
            }
            state.complete(rs, covered);
            liveRows.forEach((w, n) -> state.ledger().merged(w, n));
            String checkpointError = null;
            boolean checkpointed = false;
            if (state.round() % config.checkpointEvery() == 0 || forceCheckpoint) {
                try {
                    checkpoint();
                    checkpointed = true;
                } catch (IOException | RuntimeException e) {
                    checkpointError = e.toString();
                }
            }
            return new Merged(round, answered, roundRows, roundMse, roundCompute, checkpointError, included, checkpointed);
        }, blocking), (m, err) -> err == null ? m : new MergeFailed(round, err));
    }

    /** Tells the round's workers and the current ones how {@code round} settled (live rows merged, or back to the queue). */
    private void settle(long round, List<String> included) {
        if (!config.live()) {
            return;
        }
        Set<ActorRef<Protocol.WorkerCommand>> told = new HashSet<>(roundWorkers);
        told.addAll(workers);
        for (ActorRef<Protocol.WorkerCommand> w : told) {
            w.tell(new Protocol.RoundSettled(round, included, durableRound));
        }
    }

    private Behavior<Protocol.CoordinatorCommand> onIdleCheckpoint(IdleCheckpoint c) {
        busy = false;
        if (c.error() != null) {
            getContext().getLog().error("coordinator: checkpoint failed: {}", c.error());
        } else {
            durableRound = Math.max(durableRound, c.round());
            settle(-1, List.of());
        }
        applyLedger();
        if (!exportWaiters.isEmpty() && !handingOff) {
            export();
        } else if (c.error() == null) {
            startRound();
        }
        return this;
    }

    private Behavior<Protocol.CoordinatorCommand> onMerged(Merged m) {
        busy = false;
        if (m.checkpointed()) {
            durableRound = m.round();
        }
        settle(m.round(), m.included());
        applyLedger();
        computeSeconds += m.computeSeconds();
        mergeSeconds += (System.nanoTime() - mergeStart) / 1e9;
        merges++;
        resultCount += m.workers();
        double seconds = (System.nanoTime() - roundStart) / 1e9;
        meters.round(seconds, m.rows());
        meters.roundMse(m.mse());
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("round", m.round());
        h.put("workers", m.workers());
        h.put("rows", m.rows());
        h.put("mse", m.mse());
        h.put("seconds", seconds);
        history.add(h);
        if (m.round() % 10 == 0) {
            System.out.printf(java.util.Locale.ROOT, prefix + "round %d: %d workers, %d rows in all, mse %.5f, %.2f s%n",
                    m.round(), m.workers(), state.rows(), m.mse(), seconds);
        }
        if (m.checkpointError() != null) {
            getContext().getLog().error("coordinator: checkpoint failed: {}", m.checkpointError());
        }
        lastFigures = figures();
        if (!exportWaiters.isEmpty() && !handingOff) {
            export();
            return this;
        }
        startRound();
        return this;
    }

    private Behavior<Protocol.CoordinatorCommand> onMergeFailed(MergeFailed f) {
        // a result that cannot be decoded or merged must not be half-applied: stop, the last checkpoint is intact
        getContext().getLog().error("coordinator: merging round {} failed: {}", f.round(), f.cause().toString());
        System.err.println(prefix + "coordinator stopped: merging round " + f.round() + " failed: " + f.cause());
        return Behaviors.stopped();
    }

    private Behavior<Protocol.CoordinatorCommand> onFinished(Finished f) {
        busy = false;
        lastFigures = figures();
        exportWaiters.forEach(w -> w.tell(view(status())));
        exportWaiters.clear();
        if (f.error() != null) {
            getContext().getLog().error("coordinator: could not write the final checkpoint/summary: {}", f.error());
        }
        if (config.live()) {
            // the final checkpoint holds every round (unless it failed): the workers' rows of them are trained
            long durable = f.error() == null ? state.round() - 1 : durableRound;
            for (ActorRef<Protocol.WorkerCommand> w : workers) {
                w.tell(new Protocol.RunFinished(state.round(), state.rows(), durable));
            }
        }
        if (handingOff) {
            return Behaviors.stopped();
        }
        return this;
    }

    private void checkpoint() throws IOException {
        checkpoints.write(state.rows(), state.snapshot(), Map.of("round", Long.toString(state.round())));
    }

    /** The run's figures the summary needs, read on the actor thread. */
    private Map<String, Object> runFigures() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("workersLost", lost);
        if (!refusedWhy.isEmpty()) {
            Map<String, Object> u = new LinkedHashMap<>();
            for (Map.Entry<Integer, String> e : refusedWhy.entrySet()) {
                u.put(Integer.toString(e.getKey()), Map.of("refusedBy", new java.util.TreeSet<>(refused.get(e.getKey())),
                        "reason", e.getValue(), "rowsLeft", state.rowsLeft(e.getKey())));
            }
            s.put("unreadableShards", u);
        }
        s.put("stragglers", stragglers);
        s.put("bytesSent", bytesSent);
        s.put("bytesReceived", bytesReceived);
        s.put("coordinator", self.hostPort());
        double wall = (System.nanoTime() - firstRoundStart) / 1e9;
        s.put("trainSeconds", wall);
        s.put("rowsAtFirstRound", rowsAtFirstRound);
        s.put("workerComputeSecondsPerRound", resultCount == 0 ? 0 : computeSeconds / resultCount);
        s.put("coordinatorSecondsPerRound", merges == 0 ? 0 : mergeSeconds / merges);
        s.put("coordinatorSendSecondsPerRound", sends == 0 ? 0 : sendSeconds / sends);
        s.put("workerModelSecondsPerRound", resultCount == 0 ? 0 : modelSeconds / resultCount);
        s.put("workerCodecSecondsPerRound", resultCount == 0 ? 0 : codecSeconds / resultCount);
        s.put("resultUploadSecondsPerRound", resultCount == 0 ? 0 : uploadSeconds / resultCount);
        return s;
    }

    /** The final checkpoint and summary; on the blocking dispatcher, which owns the state. Returns an error or null. */
    private String finish(Map<String, Object> run) {
        try {
            checkpoint();
            DataParallelPam.Quality q = state.quality();
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("config", config);
            s.put("rounds", state.round());
            s.put("rows", state.rows());
            if (!Double.isNaN(q.mmcs())) {
                s.put("mmcs", q.mmcs());
            }
            s.put("fvu", q.fvu());
            s.put("l0", q.l0());
            s.put("dead", q.dead());
            s.put("shardOffsets", state.offsets());
            s.put("rowsRejected", state.rejected());
            if (config.live()) {
                s.put("ingest", state.ledger().describe());
                s.put("fvuOn", "the latest (up to) 4096 trained rows");
            }
            if (!state.files().isEmpty()) {
                s.put("shardFiles", state.files());
                s.put("fvuOn", "the first 4096 rows of the first shard (training rows)");
            }
            s.put("decoderStep", config.algorithm().equals("pam") ? config.decoderStep() : "none");
            long[] kinds = state.resultKinds();
            s.put("resultsWithCodes", kinds[0]);
            s.put("resultsWithStatistics", kinds[1]);
            double wall = (double) run.get("trainSeconds");
            long rowsAtFirst = (long) run.remove("rowsAtFirstRound");
            Object compute = run.remove("workerComputeSecondsPerRound");
            Map<String, Object> timings = new LinkedHashMap<>();
            for (String key : List.of("coordinatorSecondsPerRound", "coordinatorSendSecondsPerRound", "workerModelSecondsPerRound",
                    "workerCodecSecondsPerRound", "resultUploadSecondsPerRound")) {
                timings.put(key, run.remove(key));
            }
            s.putAll(run);
            s.put("rowsPerSecond", (state.rows() - rowsAtFirst) / wall);
            s.put("workerComputeSecondsPerRound", compute);
            s.putAll(timings);
            s.put("secondsPerRound", wall / Math.max(1, state.round()));
            // the trained SAE, as train writes it and in the SAELens layout (as serve's export)
            Map<String, String> provenance = Map.of("trainer", "proxstream node (data-parallel " + config.algorithm() + ")",
                    "rows", Long.toString(state.rows()), "rounds", Long.toString(state.round()));
            io.proxstream.actors.train.SaeModelFiles.write(out.resolve("model.safetensors"), state.model(), provenance);
            io.proxstream.actors.train.SaeModelFiles.exportSaeLens(out.resolve("export"), state.model(), new LinkedHashMap<>(provenance));
            s.put("model", out.resolve("model.safetensors").toString());
            s.put("export", out.resolve("export").toString());
            AtomicFiles.writeString(out.resolve("summary.json"), ConfigLoader.toJson(s) + "\n");
            System.out.printf(java.util.Locale.ROOT, prefix + "training finished: %d rounds, %d rows (%d rejected), %sFVU %.4f, "
                    + "workers lost %d%n", state.round(), state.rows(), state.rejected(), Double.isNaN(q.mmcs()) ? ""
                    : String.format(java.util.Locale.ROOT, "MMCS %.4f, ", q.mmcs()), q.fvu(), (long) run.get("workersLost"));
            return null;
        } catch (IOException | RuntimeException e) {
            return e.toString();
        }
    }
}
