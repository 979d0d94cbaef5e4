package io.proxstream.actors.cluster;

import io.proxstream.monitoring.ClusterMeters;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.format.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * The coordinator of a column-sharded run ({@code node --design sharded}; design: docs/column-sharded-cluster.md), a
 * cluster singleton like the star's {@link Coordinator} but holding no model: the workers' {@link ShardWorker}s hold the
 * model and the decoder's column ranges; this coordinator keeps control only — participants, placement, the round (an
 * operation number), the shard files' offsets — and drives the rounds: slices out, answers in, offsets advanced only for
 * rounds every participant completed.
 *
 * <p>The control runs as one sequential loop ({@link Run}) on a thread of its own, which owns all of the run's state and
 * blocks only on its inbox; this actor only forwards into that inbox what the receptionist lists and what the workers
 * answer, and stops the loop when it stops. The loop's steps are those of {@link ShardedDriver} (tests, {@code bench
 * cluster}), with membership from the cluster: a worker that leaves or dies is dropped ({@link ShardWorker#afterLoss},
 * replicas re-seeded), its round run again among the survivors — or, when the ring had already summed, finished by the
 * promoted replicas at no cost; a worker that joins gets the model between rounds and takes rounds from the next one.
 *
 * <p>Live ingest ({@code --data live}): each worker trains on the rows pushed to its own node; the workers report their
 * queues ({@link Status}), the loop keeps the run's ledger ({@code accepted = trained + queued + lost}), writes it to
 * {@value #LEDGER_FILE} before it confirms a node's count ({@link ShardWorker.Recorded}: the node answers the pushes), sizes
 * each round by the queues, and settles every round's leases ({@link ShardWorker.Settle}: included or back to the queue;
 * trained once a checkpoint holds them).
 *
 * <p>Not built (said in the README): re-splitting the columns when workers join; {@code serve --cluster} with this design.
 */
public final class ShardedCoordinator {
    /** The receptionist key under which worker nodes of a sharded run register their {@link ShardWorker}. */
    public static final ServiceKey<ShardWorker.Command> WORKERS = ServiceKey.create(ShardWorker.Command.class, "proxstream-shard-worker");

    /** The run's control, rewritten after every completed round (a new coordinator that finds it unfinished refuses to start over). */
    public static final String CONTROL_FILE = "sharded-run.json";

    /** A live run's whole ingest ledger, rewritten after every change (a node's pushes are answered once it holds their rows). */
    public static final String LEDGER_FILE = "sharded-ledger.json";

    private ShardedCoordinator() {
    }

    /** The receptionist key of run {@code run}'s shard workers under {@code serve --cluster} (each run has its own). */
    public static ServiceKey<ShardWorker.Command> workers(String run) {
        return ServiceKey.create(ShardWorker.Command.class, "proxstream-shard-worker-" + run);
    }

    private record Listed(Receptionist.Listing listing) implements Protocol.CoordinatorInternal, NoSerializationVerificationNeeded {
    }

    private record Replied(ShardWorker.Reply reply) implements Protocol.CoordinatorInternal, NoSerializationVerificationNeeded {
    }

    /**
     * A worker's ingest ledger ({@link LiveRows.Ledger}) from its node's process {@code incarnation}: sent every
     * {@link ShardWorker#REPORT_EVERY} and after pushes; an inbox event of the loop.
     */
    public record Status(ActorRef<ShardWorker.Command> worker, long incarnation, long accepted, long queued, long available,
                         long heldBytes, long budgetBytes) implements Protocol.CoordinatorInternal, CborSerializable {
    }

    /** The workers the receptionist lists (an inbox event of the loop). */
    record Members(Set<ActorRef<ShardWorker.Command>> workers) {
    }

    /** An export asked through the API (an inbox event of the loop: done between rounds). */
    record ExportRequest(ActorRef<Protocol.RunView> replyTo) {
    }

    /** The coordinator of {@code node --design sharded} (a cluster singleton; its workers register under {@link #WORKERS}). */
    public static Behavior<Protocol.CoordinatorCommand> create(DataParallelPam.Config config, Path out, ClusterMeters meters) {
        return create(config, out, meters, WORKERS, null);
    }

    /**
     * The coordinator of a column-sharded run whose workers register under {@code key}; {@code run} names a run of
     * {@code serve --cluster} (null: the one run of {@code proxstream node}), which also answers {@link Protocol.GetStatus},
     * {@link Protocol.StopRun} (and its stop file), {@link Protocol.Export} and stops on {@link Coordinator.HandOff} (the
     * next coordinator resumes from the run's checkpoint).
     */
    public static Behavior<Protocol.CoordinatorCommand> create(DataParallelPam.Config config, Path out, ClusterMeters meters,
                                                             ServiceKey<ShardWorker.Command> key, String run) {
        return Behaviors.setup(ctx -> {
            ActorRef<ShardWorker.Reply> replies = ctx.messageAdapter(ShardWorker.Reply.class, Replied::new);
            Run loop = new Run(config, out, meters, replies, org.apache.pekko.cluster.typed.Cluster.get(ctx.getSystem()).selfMember().address(),
                    run);
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(key, ctx.messageAdapter(Receptionist.Listing.class, Listed::new)));
            Thread t = new Thread(loop, "proxstream-sharded-run" + (run == null ? "" : "-" + run));
            t.setDaemon(true);
            t.start();
            return Behaviors.receive(Protocol.CoordinatorCommand.class)
                    .onMessage(Listed.class, l -> {
                        loop.inbox.add(new Members(l.listing().getServiceInstances(key)));
                        return Behaviors.same();
                    })
                    .onMessage(Replied.class, r -> {
                        loop.inbox.add(r.reply());
                        return Behaviors.same();
                    })
                    .onMessage(Status.class, st -> {
                        loop.inbox.add(st);
                        return Behaviors.same();
                    })
                    .onMessage(Protocol.Wake.class, w -> Behaviors.same())
                    .onMessage(Protocol.GetStatus.class, g -> {
                        g.replyTo().tell(new Protocol.RunView(ConfigLoader.toJson(loop.view)));
                        return Behaviors.same();
                    })
                    .onMessage(Protocol.StopRun.class, st -> {
                        loop.stopReason = st.reason();
                        return Behaviors.same();
                    })
                    .onMessage(Protocol.Export.class, e -> {
                        loop.inbox.add(new ExportRequest(e.replyTo()));
                        return Behaviors.same();
                    })
                    .onMessageEquals(Coordinator.HandOff.INSTANCE, Behaviors::stopped)
                    .onSignal(PostStop.class, sig -> {
                        t.interrupt();
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    /** A failure the run cannot recover from without a checkpoint of the ranges: the run stops and says why. */
    static class Unrecoverable extends Exception {
        Unrecoverable(String message) {
            super(message);
        }
    }

    /**
     * A failure the round protocol cannot repair in place (a death inside the ring, a range lost with both its owner and its
     * replica, a worker failing after it changed shared state): the run goes back to its last checkpoint.
     */
    static final class Rewind extends Unrecoverable {
        Rewind(String message) {
            super(message);
        }
    }

    /** How far a resumed run's operation numbers start above the last one its control file holds (rounds run again between writes). */
    static final long OPERATION_MARGIN = 1_000_000;

    /** The control loop; its fields belong to its thread. */
    static final class Run implements Runnable {
        final LinkedBlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
        private final DataParallelPam.Config config;
        private final Path out;
        private final ClusterMeters meters;
        private final ActorRef<ShardWorker.Reply> replies;
        private final String prefix;
        /** This node's address: a worker on this node has a local reference, named by it. */
        private final org.apache.pekko.actor.Address self;
        private final List<ShardFiles.Shard> files;
        private final long[] offsets;
        /** Workers the receptionist lists now. */
        private Set<ActorRef<ShardWorker.Command>> listed = Set.of();
        /** Participants in order, their rings, the ranges' owners and replicas. */
        private final List<ActorRef<ShardWorker.Command>> members = new ArrayList<>();
        private final List<ActorRef<RingCollective.Command>> rings = new ArrayList<>();
        private int[] owner;
        private int[] replica;
        /** Workers that were participants and left: never taken back (a restarted node registers a new worker). */
        private final Set<ActorRef<ShardWorker.Command>> departed = new HashSet<>();
        private long ops;
        private long transfers;
        private long rounds;
        private long rows;
        private long lost;
        private long joined;
        private long reruns;
        private long bytesSent;
        private long firstRoundAt;
        /** The number of column ranges (fixed for the run: the checkpoint's ranges are cut by it). */
        private int ranges;
        /** The last complete checkpoint (relative to {@link #out}), and the rounds, rows and offsets it holds. */
        private String checkpoint;
        private long checkpointRounds;
        private long checkpointRows;
        private long[] checkpointOffsets;
        private long rewinds;
        private final List<String> resumedAt = new ArrayList<>();
        private double encoderSeconds;
        private double roundSeconds;
        /** Live ingest: the run's ledger, each worker's last report (by name), the counts to confirm once the ledger is written. */
        private DataParallelPam.IngestLedger ledger;
        private final Map<String, Status> reports = new java.util.HashMap<>();
        private final Map<ActorRef<ShardWorker.Command>, Long> toConfirm = new java.util.HashMap<>();
        private boolean ledgerDirty;
        /** The ledger as the last complete checkpoint holds it, and the last operation (round) in that checkpoint. */
        private DataParallelPam.IngestLedger checkpointLedger;
        private long checkpointOp = -1;
        /** The participants' names of the round under way, by index (the ledger counts rows per node). */
        private List<String> roundNames = List.of();
        private final long startedAt = System.nanoTime();
        /** Workers that reported rows to a run that takes none (told once). */
        private final Set<ActorRef<ShardWorker.Command>> refusedIngest = new HashSet<>();

        /** The run's name under {@code serve --cluster} (null: {@code proxstream node}'s one run). */
        private final String runName;
        /** What {@code GET /runs/NAME} shows: rebuilt by the loop, read by the actor. */
        volatile Map<String, Object> view = Map.of("state", "starting");
        /** Why the run was asked to stop (set by the actor; the loop ends the run after the round in flight). */
        volatile String stopReason;
        private final List<ActorRef<Protocol.RunView>> exportWaiters = new ArrayList<>();
        private String state = "starting";
        /** The last round (what the dashboard plots) and each worker's last rows and seconds, by name. */
        private Map<String, Object> lastRound;
        private final Map<String, double[]> workerLast = new java.util.HashMap<>();

        Run(DataParallelPam.Config config, Path out, ClusterMeters meters, ActorRef<ShardWorker.Reply> replies,
            org.apache.pekko.actor.Address self) {
            this(config, out, meters, replies, self, null);
        }

        Run(DataParallelPam.Config config, Path out, ClusterMeters meters, ActorRef<ShardWorker.Reply> replies,
            org.apache.pekko.actor.Address self, String runName) {
            this.runName = runName;
            this.config = config;
            this.out = out;
            this.meters = meters;
            this.replies = replies;
            this.self = self;
            this.prefix = "coordinator (sharded) at " + self.hostPort() + ": ";
            try {
                this.files = config.files() ? ShardFiles.list(Path.of(config.data()), config.dim()) : List.of();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e.getMessage(), e);
            }
            this.offsets = new long[config.files() ? files.size() : config.shards()];
            if (config.live()) {
                ledger = new DataParallelPam.IngestLedger();
            }
        }

        @Override
        public void run() {
            try {
                if (Files.exists(out.resolve(Coordinator.SUMMARY_FILE))) {
                    System.out.println(prefix + "the run in " + out + " has finished (" + Coordinator.SUMMARY_FILE + "); nothing to train");
                    return;
                }
                if (Files.exists(out.resolve(CONTROL_FILE))) {
                    readControl();
                    rewind(true);
                } else {
                    configure();
                    checkpoint();
                }
                while (!finished()) {
                    try {
                        takeJoiners();
                        if (!exportWaiters.isEmpty()) {
                            export();
                        }
                        List<List<Protocol.Assignment>> slices;
                        if (config.live()) {
                            slices = liveSlices();
                            if (slices == null) {
                                // no queue holds a minibatch: rows merged since the checkpoint are trained (their pushes
                                // acknowledged, their bytes freed) once one holds them, so write it once the queues stayed dry
                                // a while rather than when rows come again (not after every round a slow producer leaves)
                                long now = System.nanoTime();
                                idleSince = idleSince == 0 ? now : idleSince;
                                if (rounds != checkpointRounds && now - idleSince > IDLE_CHECKPOINT_MS * 1_000_000L) {
                                    checkpoint();
                                } else {
                                    publish("waiting for rows");
                                    next(250);
                                }
                                continue;
                            }
                            idleSince = 0;
                            if (rounds != checkpointRounds && queuesHalfFullOfUntrained()) {
                                checkpoint(); // the merged rows hold their nodes' ingest budgets until a checkpoint frees them
                            }
                        } else {
                            slices = DataParallelPam.assign(config, files, offsets, names(), Map.of());
                        }
                        round(slices);
                        if (rounds % Math.max(1, config.checkpointEvery()) == 0 && rounds != checkpointRounds) {
                            checkpoint();
                        }
                    } catch (Rewind e) {
                        if (++rewinds > 5) {
                            throw new Unrecoverable(e.getMessage() + " (the run went back to its checkpoint " + (rewinds - 1) + " times already)");
                        }
                        System.out.println(prefix + e.getMessage() + "; the run goes back to its checkpoint at round " + checkpointRounds);
                        rewind(false);
                    }
                }
                if (rounds != checkpointRounds) {
                    checkpoint();
                }
                finish(null);
            } catch (InterruptedException e) {
                System.out.println(prefix + "stopped after " + rounds + " rounds");
            } catch (Unrecoverable | IOException | RuntimeException | Error e) {
                // an Error too (out of memory in the final evaluation, say): the run says it stopped, never dies silently
                String why = e instanceof Unrecoverable ? e.getMessage() : e.toString();
                System.err.println(prefix + "the run stopped: " + why);
                System.out.println(prefix + "the run stopped: " + why);
                try {
                    // the model the survivors hold is written with the summary that says why the run stopped
                    if (owner != null && !members.isEmpty()) {
                        finish(why);
                    }
                } catch (Exception | Error f) {
                    System.err.println(prefix + "could not write the summary: " + f);
                }
            }
        }

        private boolean finished() {
            if (rows >= config.totalRows() || stopRequested()) {
                return true;
            }
            for (int s = 0; s < offsets.length; s++) {
                if (DataParallelPam.remaining(config, files, offsets, s) > 0) {
                    return false;
                }
            }
            return true;
        }

        /** Stopped through the API: the message, or the stop file (read again by a coordinator that moved). */
        private boolean stopRequested() {
            if (stopReason == null && runName != null && Files.exists(out.resolve(Coordinator.STOP_FILE))) {
                stopReason = "stop file " + out.resolve(Coordinator.STOP_FILE);
            }
            return stopReason != null;
        }

        /** Rebuilds what the run's status shows. */
        private void publish(String now) {
            state = now;
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("name", runName == null ? "cluster" : runName);
            v.put("state", stopReason != null && !now.startsWith("finish") ? "stopping" : now);
            v.put("design", "column-sharded");
            v.put("coordinator", self.hostPort());
            v.put("workers", members.stream().map(this::name).toList());
            v.put("round", rounds);
            v.put("rows", rows);
            v.put("operations", ops);
            if (checkpoint != null) {
                v.put("checkpoint", checkpoint);
                v.put("checkpointRound", checkpointRounds);
            }
            if (lastRound != null) {
                v.put("lastRound", lastRound);
            }
            if (ledger != null) {
                v.put("ingest", ledger.describe());
            }
            Map<String, Object> per = new LinkedHashMap<>();
            for (ActorRef<ShardWorker.Command> w : members) {
                String n = name(w);
                Map<String, Object> f = new LinkedHashMap<>();
                double[] last = workerLast.get(n);
                if (last != null) {
                    f.put("lastRoundRows", (long) last[0]);
                    f.put("lastRoundSeconds", last[1]);
                }
                Status r = reports.get(n);
                if (r != null) {
                    f.put("queued", r.queued());
                    f.put("queuedBytes", r.heldBytes());
                }
                per.put(n, f);
            }
            v.put("perWorker", per);
            v.put("workersLost", lost);
            v.put("workersJoined", joined);
            v.put("bytesSentByWorkers", bytesSent);
            v.put("config", config);
            view = v;
        }

        /** Participant 0 writes the SAELens export of the model now (between rounds); the waiting requests get the status. */
        private void export() throws InterruptedException, Unrecoverable {
            Map<String, String> provenance = Map.of("trainer", "proxstream (column-sharded pam)", "rows", Long.toString(rows),
                    "rounds", Long.toString(rounds));
            String error = null;
            if (members.isEmpty()) {
                error = "the run has no workers yet";
            } else {
                members.get(0).tell(new ShardWorker.Save("", out.resolve("export").toString(), provenance, replies));
                try {
                    error = expect(ShardWorker.Saved.class, "Save (export)").error();
                } catch (Unrecoverable e) {
                    error = e.getMessage(); // a failed export does not stop the run
                }
            }
            publish(state);
            Map<String, Object> v = new LinkedHashMap<>(view);
            if (error != null) {
                v.put("error", "the export failed: " + error);
            } else {
                v.put("exportedAtRows", rows);
            }
            for (ActorRef<Protocol.RunView> w : exportWaiters) {
                w.tell(new Protocol.RunView(ConfigLoader.toJson(v)));
            }
            exportWaiters.clear();
        }

        /** A worker's name in logs and meters, as the star's: system@host:port. */
        private String name(ActorRef<?> worker) {
            org.apache.pekko.actor.Address a = worker.path().address();
            return (a.hasLocalScope() ? self : a).hostPort();
        }

        private List<String> names() {
            List<String> n = new ArrayList<>();
            for (int i = 0; i < members.size(); i++) {
                n.add(Integer.toString(i));
            }
            return n;
        }

        /**
         * Takes the inbox's next item, waiting at most {@code ms}; listings and ingest reports are applied as they come (the
         * ledger is written, and the counts in it confirmed, whenever the inbox is empty). Null on timeout.
         */
        private ShardWorker.Reply next(long ms) throws InterruptedException {
            long end = System.nanoTime() + ms * 1_000_000L;
            while (true) {
                if (ledgerDirty && inbox.isEmpty()) {
                    flushLedger();
                }
                long left = end - System.nanoTime();
                Object o = left <= 0 ? inbox.poll() : inbox.poll(left, TimeUnit.NANOSECONDS);
                if (o == null) {
                    return null;
                }
                if (o instanceof Members m) {
                    listed = m.workers();
                    continue;
                }
                if (o instanceof Status st) {
                    onStatus(st);
                    continue;
                }
                if (o instanceof ExportRequest e) {
                    exportWaiters.add(e.replyTo());
                    continue;
                }
                return (ShardWorker.Reply) o;
            }
        }

        /** A worker's ingest report: into the ledger (written before the count is confirmed) and the queue meters. */
        private void onStatus(Status st) {
            if (!config.live()) {
                if (refusedIngest.add(st.worker())) {
                    System.out.println(prefix + "worker " + name(st.worker()) + " has an ingest, but this run takes no pushed rows (start"
                            + " the nodes with --data live); its ingest is closed");
                    st.worker().tell(new ShardWorker.Settle(-1, false, -1, true));
                }
                return;
            }
            if (departed.contains(st.worker())) {
                return; // dropped from the run: its rows are in no round of it (its entry is closed, counted lost)
            }
            String w = name(st.worker());
            ledger.report(w, st.incarnation(), st.accepted());
            reports.put(w, st);
            meters.workerQueue(w, st.queued());
            toConfirm.merge(st.worker(), st.accepted(), Math::max);
            ledgerDirty = true;
        }

        /** Writes the whole ledger, then confirms to each node that reported the count the file holds (its pushes are answered). */
        private void flushLedger() {
            ledgerDirty = false;
            try {
                AtomicFiles.writeString(out.resolve(LEDGER_FILE), ConfigLoader.toJson(ledger.state()) + "\n");
            } catch (IOException | RuntimeException e) {
                System.err.println(prefix + "cannot write the ingest ledger " + out.resolve(LEDGER_FILE) + ": " + e.getMessage()
                        + "; pushes are not answered until it is written");
                return;
            }
            meters.ledger(ledger.accepted(), ledger.trained(), ledger.queued(), ledger.lost());
            toConfirm.forEach((w, n) -> w.tell(new ShardWorker.Recorded(n)));
            toConfirm.clear();
            publish(state); // the status shows the ledger as written, also during a long round
        }

        /** How long the queues stay dry before the rows merged since the last checkpoint are checkpointed. */
        static final long IDLE_CHECKPOINT_MS = 2_000;
        private long idleSince;

        /**
         * Whether rows leased to rounds and not yet in a checkpoint fill half of a node's ingest budget (they hold it until a
         * checkpoint frees them; rows still waiting do not count: a backlog is no reason to checkpoint).
         */
        private boolean queuesHalfFullOfUntrained() {
            for (ActorRef<ShardWorker.Command> w : members) {
                Status r = reports.get(name(w));
                if (r != null && 2 * 4L * config.dim() * (r.queued() - r.available()) > r.budgetBytes()) {
                    return true;
                }
            }
            return false;
        }

        /**
         * A live round's slices: each participant takes the whole minibatches its last report says wait in its queue (at most
         * a slice); null when no queue holds a minibatch.
         */
        private List<List<Protocol.Assignment>> liveSlices() {
            long[] waiting = new long[members.size()];
            boolean any = false;
            for (int i = 0; i < waiting.length; i++) {
                Status r = reports.get(name(members.get(i)));
                waiting[i] = r == null ? 0 : r.available();
                any |= waiting[i] >= config.batch();
            }
            return any ? DataParallelPam.assignLive(config, waiting) : null;
        }

        /** Tells {@code to} how a live round settled (its leases included, or back to the queues). */
        private void settle(List<ActorRef<ShardWorker.Command>> to, long op, boolean included) {
            if (config.live()) {
                for (ActorRef<ShardWorker.Command> w : to) {
                    w.tell(new ShardWorker.Settle(op, included, -1, false));
                }
            }
        }

        /**
         * Ledger entries of nodes that left while no coordinator watched (the run resumed without them) are closed once the
         * listing had time to settle: what they accepted and was not trained is lost.
         */
        private void closeVanished() {
            if (!config.live() || System.nanoTime() - startedAt < 30_000_000_000L) {
                return;
            }
            Set<String> here = new HashSet<>();
            for (ActorRef<ShardWorker.Command> w : listed) {
                here.add(name(w));
            }
            for (ActorRef<ShardWorker.Command> w : members) {
                here.add(name(w));
            }
            for (String w : ledger.openWorkers()) {
                if (!here.contains(w)) {
                    closeEntry(w, " (it left the cluster)");
                }
            }
        }

        private void closeEntry(String worker, String why) {
            long before = ledger.lost();
            ledger.close(worker);
            reports.remove(worker);
            ledgerDirty = true;
            if (ledger.lost() > before) {
                System.out.println(prefix + (ledger.lost() - before) + " rows queued on " + worker + " lost with it" + why);
            }
        }

        /** The next answer of type {@code type}, skipping late answers of earlier rounds; fails after the round timeout. */
        private <T extends ShardWorker.Reply> T expect(Class<T> type, String what) throws InterruptedException, Unrecoverable {
            long end = System.nanoTime() + answerMs() * 1_000_000L;
            while (true) {
                ShardWorker.Reply r = next(Math.max(1, (end - System.nanoTime()) / 1_000_000L));
                if (r == null) {
                    throw new Unrecoverable("no worker answered " + what + " within " + answerMs() + " ms");
                }
                if (type.isInstance(r)) {
                    return type.cast(r);
                }
                if (r instanceof ShardWorker.Failed f && f.round() == -1) {
                    throw new Unrecoverable("a worker refused " + what + ": " + f.reason());
                }
                if (r instanceof ShardWorker.Saved s && s.error() != null) {
                    throw new Unrecoverable(what + " failed: " + s.error());
                }
                // a late Done/Failed/Stalled of a round already decided
            }
        }

        /** A worker's participant and ring references. */
        /**
         * Says hello to each of {@code ws} and returns the answers that came within {@link #HELLO_MS}, in the order of
         * {@code ws}: a worker the receptionist still lists though its node died does not answer, and is left out.
         */
        private List<ShardWorker.Member> helloAll(List<ActorRef<ShardWorker.Command>> ws) throws InterruptedException {
            for (ActorRef<ShardWorker.Command> w : ws) {
                w.tell(new ShardWorker.Hello(replies));
            }
            Map<ActorRef<ShardWorker.Command>, ShardWorker.Member> got = new java.util.HashMap<>();
            long end = System.nanoTime() + HELLO_MS * 1_000_000L;
            while (got.size() < ws.size() && System.nanoTime() < end) {
                ShardWorker.Reply r = next(Math.max(1, (end - System.nanoTime()) / 1_000_000L));
                if (r instanceof ShardWorker.Member m && ws.contains(m.worker())) {
                    got.put(m.worker(), m);
                }
            }
            List<ShardWorker.Member> out = new ArrayList<>();
            for (ActorRef<ShardWorker.Command> w : ws) {
                if (got.containsKey(w)) {
                    out.add(got.get(w));
                } else {
                    System.out.println(prefix + "worker " + name(w) + " did not answer within " + HELLO_MS + " ms; left out");
                }
            }
            return out;
        }

        /** How long a listed worker has to answer a hello. */
        static final long HELLO_MS = 15_000;

        private long answerMs() {
            return 2 * config.roundTimeoutMs() + 30_000;
        }

        /** Waits for the minimum of workers, then configures them as participants in their address order. */
        private void configure() throws InterruptedException, Unrecoverable {
            System.out.println(prefix + "waiting for " + config.minWorkers() + " shard workers (" + config.describe() + ")");
            publish("waiting for workers");
            List<ShardWorker.Member> answered = List.of();
            while (answered.size() < Math.max(1, config.minWorkers())) {
                while (listed.size() < Math.max(1, config.minWorkers())) {
                    next(1000);
                }
                List<ActorRef<ShardWorker.Command>> first = new ArrayList<>(listed);
                first.sort(Comparator.comparing(this::name));
                answered = helloAll(first);
            }
            for (ShardWorker.Member m : answered) {
                members.add(m.worker());
                rings.add(m.ring());
            }
            int[][] placement = ShardWorker.initialPlacement(members.size(), true);
            owner = placement[0];
            replica = placement[1];
            ranges = owner.length;
            for (int i = 0; i < members.size(); i++) {
                members.get(i).tell(new ShardWorker.Configure(config, members, rings, i, true, replies));
                expect(ShardWorker.Configured.class, "Configure");
            }
            meters.workers(members.size());
            writeControl();
            publish("training");
            System.out.println(prefix + "coordinator started: " + members.size() + " workers, " + owner.length + " column ranges with"
                    + " replicas, " + (config.live() ? "the rows pushed to the workers' ingest" : files.isEmpty() ? "the synthetic stream"
                    : files.size() + " shard files"));
        }

        /** Workers the receptionist lists that are not participants join between rounds, one at a time. */
        private void takeJoiners() throws InterruptedException, Unrecoverable {
            // drain late answers of rounds already decided (and take the latest listing)
            while (next(0) != null) {
                continue;
            }
            closeVanished();
            List<ActorRef<ShardWorker.Command>> fresh = new ArrayList<>();
            for (ActorRef<ShardWorker.Command> w : listed) {
                if (!members.contains(w) && !departed.contains(w)) {
                    fresh.add(w);
                }
            }
            fresh.sort(Comparator.comparing(this::name));
            for (ActorRef<ShardWorker.Command> w : fresh) {
                List<ShardWorker.Member> hi = helloAll(List.of(w));
                if (hi.isEmpty()) {
                    continue; // listed but silent (its node died or is starting): asked again before the next round
                }
                ShardWorker.Member m = hi.get(0);
                List<ActorRef<ShardWorker.Command>> ws = new ArrayList<>(members);
                List<ActorRef<RingCollective.Command>> rs = new ArrayList<>(rings);
                ws.add(m.worker());
                rs.add(m.ring());
                int n = ws.size();
                m.worker().tell(new ShardWorker.Adopt(config, ws, rs, n - 1, owner, replica, replies));
                // the model's parts come from participant 0, unordered with this message: send them once the joiner is adopted
                expect(ShardWorker.Adopted.class, "Adopt (a worker joins)");
                for (int j = 0; j < n - 1; j++) {
                    ws.get(j).tell(new ShardWorker.Promote(ws, rs, j, owner, replica, replies));
                    expect(ShardWorker.Configured.class, "Promote (a worker joins)");
                }
                members.clear();
                members.addAll(ws);
                rings.clear();
                rings.addAll(rs);
                members.get(0).tell(new ShardWorker.SeedModel(++transfers, n - 1, replies));
                expect(ShardWorker.Configured.class, "SeedModel (the joining worker's copy of the model)");
                joined++;
                meters.workers(members.size());
                System.out.println(prefix + "worker " + name(m.worker()) + " joined as participant " + (n - 1)
                        + " (it takes rounds from the next one)");
            }
            // a range without a replica (its replica holder left) gets one again when there is a worker to hold it
            if (members.size() >= 2) {
                for (int r : replica) {
                    if (r < 0) {
                        restoreReplicas();
                        break;
                    }
                }
            }
        }

        /** One round, run again (with a new operation number) until it completes; advances the offsets when it does. */
        private void round(List<List<Protocol.Assignment>> slices) throws InterruptedException, Unrecoverable {
            long op = ++ops;
            long t0 = System.nanoTime();
            if (firstRoundAt == 0) {
                firstRoundAt = t0;
            }
            roundNames = members.stream().map(this::name).toList();
            List<ActorRef<ShardWorker.Command>> roundMembers = List.copyOf(members);
            for (int i = 0; i < members.size(); i++) {
                members.get(i).tell(new ShardWorker.Start(op, slices.get(i), replies));
            }
            Map<Integer, ShardWorker.Reply> answers = new LinkedHashMap<>();
            boolean[] alive = new boolean[members.size()];
            java.util.Arrays.fill(alive, true);
            long end = System.nanoTime() + answerMs() * 1_000_000L;
            while (true) {
                int aliveCount = 0;
                for (int i = 0; i < alive.length; i++) {
                    if (alive[i] && !listed.contains(members.get(i))) {
                        alive[i] = false;
                        // the survivors would wait for its part, its ring pieces or its corrections until the round's deadline
                        String why = "participant " + i + " (" + name(members.get(i)) + ") left the cluster";
                        for (int j = 0; j < alive.length; j++) {
                            if (alive[j] && !answers.containsKey(j)) {
                                members.get(j).tell(new ShardWorker.Abandon(op, why));
                            }
                        }
                    }
                    aliveCount += alive[i] ? 1 : 0;
                }
                int answered = 0;
                for (int i : answers.keySet()) {
                    answered += alive[i] ? 1 : 0;
                }
                if (answered == aliveCount) {
                    break;
                }
                ShardWorker.Reply r = next(Math.max(1, Math.min(1000, (end - System.nanoTime()) / 1_000_000L)));
                if (r == null && System.nanoTime() > end) {
                    for (int i = 0; i < alive.length; i++) {
                        if (alive[i] && !answers.containsKey(i)) {
                            System.out.println(prefix + "participant " + i + " did not answer round " + op + "; dropped");
                            alive[i] = false;
                        }
                    }
                    break;
                }
                if (r instanceof ShardWorker.Done d && d.round() == op) {
                    answers.put(d.index(), d);
                } else if (r instanceof ShardWorker.Failed f && f.round() == op) {
                    answers.put(f.index(), f);
                } else if (r instanceof ShardWorker.Stalled s && s.round() == op) {
                    answers.put(s.index(), s);
                }
            }
            boolean anyGone = false;
            boolean aliveAllDone = true;
            for (int i = 0; i < alive.length; i++) {
                anyGone |= !alive[i];
                aliveAllDone &= !alive[i] || answers.get(i) instanceof ShardWorker.Done;
            }
            if (aliveAllDone) {
                // every survivor finished: the ring summed everyone's encoder and every correction arrived, so the round is
                // trained, also the rows of a participant that died after sending its part
                commit(op, slices, answers.values().stream().filter(a -> a instanceof ShardWorker.Done).map(a -> (ShardWorker.Done) a)
                        .toList(), t0);
                settle(roundMembers, op, true);
                if (anyGone) {
                    closeEntries(dropLost(alive, op, "after the round"));
                    promote(alive);
                    restoreReplicas();
                }
                return;
            }
            if (!anyGone) {
                StringBuilder why = new StringBuilder();
                for (ShardWorker.Reply a : answers.values()) {
                    if (a instanceof ShardWorker.Failed f) {
                        if (!f.clean()) {
                            throw new Rewind("participant " + f.index() + " failed round " + op + " after changing shared state: "
                                    + f.reason());
                        }
                        why.append(" ").append(f.index()).append(": ").append(f.reason()).append(";");
                    } else if (a instanceof ShardWorker.Stalled) {
                        throw new Rewind("round " + op + " stalled after the ring with every participant alive: " + answers.values());
                    }
                }
                settle(roundMembers, op, false);
                if (++reruns > 3 + 3 * rounds / 10) {
                    throw new Unrecoverable("round " + op + " failed clean again (" + reruns + " times in all):" + why);
                }
                System.out.println(prefix + "round " + op + " failed clean, run again:" + why);
                return;
            }
            boolean stalled = false;
            boolean failed = false;
            for (int i = 0; i < alive.length; i++) {
                if (alive[i]) {
                    stalled |= answers.get(i) instanceof ShardWorker.Stalled;
                    failed |= answers.get(i) instanceof ShardWorker.Failed;
                }
            }
            List<String> gone = dropLost(alive, op, stalled ? "after the ring" : "before the ring");
            try {
                finishAfterLoss(alive, op, slices, answers, stalled, failed, t0);
            } finally {
                // after the round's commit (a dead worker's rows of a finished round are trained), or its failure
                closeEntries(gone);
            }
            restoreReplicas();
        }

        /** A round some participants did not finish: the survivors finish it (promoted replicas) or it failed clean. */
        private void finishAfterLoss(boolean[] alive, long op, List<List<Protocol.Assignment>> slices, Map<Integer, ShardWorker.Reply> answers,
                                     boolean stalled, boolean failed, long t0) throws InterruptedException, Unrecoverable {
            if (stalled && failed) {
                throw new Rewind("a worker died inside round " + op + "'s ring: some survivors hold the summed encoder and some"
                        + " do not (" + answers.values() + ")");
            }
            promote(alive);
            if (stalled) {
                for (ActorRef<ShardWorker.Command> w : members) {
                    w.tell(new ShardWorker.Resume(op));
                }
                List<ShardWorker.Done> done = new ArrayList<>();
                while (done.size() < members.size()) {
                    ShardWorker.Reply r = next(answerMs());
                    if (r == null) {
                        throw new Rewind("the survivors did not finish round " + op + " after the promotion");
                    }
                    if (r instanceof ShardWorker.Failed f && f.round() == op) {
                        throw new Rewind("round " + op + " cannot be finished after the loss: " + f.reason());
                    }
                    if (r instanceof ShardWorker.Done d && d.round() == op) {
                        done.add(d);
                    }
                }
                commit(op, slices, done, t0);
                settle(members, op, true);
            } else {
                settle(members, op, false);
            }
        }

        /** The ledger entries of workers the run lost are closed: what they accepted and was not trained is lost. */
        private void closeEntries(List<String> gone) {
            if (config.live()) {
                for (String w : gone) {
                    closeEntry(w, "");
                }
            }
        }

        /** Counts the participants not {@code alive} as lost; they are never taken back. */
        private List<String> dropLost(boolean[] alive, long op, String when) {
            List<String> gone = new ArrayList<>();
            for (int i = 0; i < alive.length; i++) {
                if (!alive[i]) {
                    String name = name(members.get(i));
                    gone.add(name);
                    departed.add(members.get(i));
                    meters.workerLost();
                    meters.workerGone(name);
                    lost++;
                }
            }
            System.out.println(prefix + "lost worker(s) " + gone + " in round " + op + " (" + when + ")");
            return gone;
        }

        /** The survivors {@code alive} continue in their old order, the dead owners' ranges taken by their replicas. */
        private void promote(boolean[] alive) throws InterruptedException, Unrecoverable {
            int[][] placement;
            try {
                placement = ShardWorker.afterLoss(owner, replica, alive);
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new Rewind("the run lost a column range with both its owner and its replica: " + e.getMessage());
            }
            List<ActorRef<ShardWorker.Command>> ws = new ArrayList<>();
            List<ActorRef<RingCollective.Command>> rs = new ArrayList<>();
            for (int w = 0; w < alive.length; w++) {
                if (alive[w]) {
                    ws.add(members.get(w));
                    rs.add(rings.get(w));
                }
            }
            if (ws.isEmpty()) {
                throw new Rewind("every worker of the run is gone");
            }
            for (int i = 0; i < ws.size(); i++) {
                ws.get(i).tell(new ShardWorker.Promote(ws, rs, i, placement[0], placement[1], replies));
            }
            for (int i = 0; i < ws.size(); i++) {
                expect(ShardWorker.Configured.class, "Promote (after a loss)");
            }
            members.clear();
            members.addAll(ws);
            rings.clear();
            rings.addAll(rs);
            owner = placement[0];
            replica = placement[1];
            meters.workers(members.size());
        }

        /** Every range without a replica gets one again: its owner copies the range's state to the next participant. */
        private void restoreReplicas() throws InterruptedException, Unrecoverable {
            int n = members.size();
            if (n < 2) {
                return;
            }
            int[] rep = replica.clone();
            boolean changed = false;
            for (int r = 0; r < owner.length; r++) {
                if (rep[r] < 0) {
                    int to = (owner[r] + 1) % n;
                    members.get(owner[r]).tell(new ShardWorker.SeedReplica(++transfers, r, to, replies));
                    expect(ShardWorker.ReplicaSeeded.class, "SeedReplica of range " + r);
                    rep[r] = to;
                    changed = true;
                }
            }
            if (!changed) {
                return;
            }
            for (int i = 0; i < n; i++) {
                members.get(i).tell(new ShardWorker.Promote(members, rings, i, owner, rep, replies));
                expect(ShardWorker.Configured.class, "Promote (replicas re-seeded)");
            }
            replica = rep;
            System.out.println(prefix + "replicas restored on " + n + " workers");
        }

        private void commit(long op, List<List<Protocol.Assignment>> slices, List<ShardWorker.Done> done, long t0) {
            for (List<Protocol.Assignment> ss : slices) {
                for (Protocol.Assignment a : ss) {
                    if (!a.isLive()) {
                        offsets[a.shard()] = Math.max(offsets[a.shard()], a.offset() + a.rows());
                    }
                }
            }
            long total = done.get(0).totalRows();
            if (config.live()) {
                List<Long> by = done.get(0).rowsBy();
                for (int j = 0; j < by.size() && j < roundNames.size(); j++) {
                    if (by.get(j) > 0) {
                        ledger.merged(roundNames.get(j), by.get(j));
                        // what the node leased is no longer waiting there (until its next report says so itself)
                        Status r = reports.get(roundNames.get(j));
                        if (r != null) {
                            reports.put(roundNames.get(j), new Status(r.worker(), r.incarnation(), r.accepted(), r.queued(),
                                    Math.max(0, r.available() - by.get(j)), r.heldBytes(), r.budgetBytes()));
                        }
                    }
                }
                ledgerDirty = true;
                if (total == 0) {
                    return; // the queues emptied between the reports and the round: nothing trained, no round counted
                }
            }
            double mse = 0;
            long doneRows = 0;
            for (ShardWorker.Done d : done) {
                mse += d.mse() * d.rows(); // each worker's is a mean per entry over its rows: weigh by them
                doneRows += d.rows();
                bytesSent += d.bytesSent();
                encoderSeconds += d.encoderSeconds();
                meters.workerRound(roundNames.get(Math.min(d.index(), roundNames.size() - 1)), d.rows(), d.seconds());
                meters.sent(d.bytesSent());
            }
            rows += total;
            rounds++;
            reruns = 0;
            double seconds = (System.nanoTime() - t0) / 1e9;
            roundSeconds += seconds;
            for (ShardWorker.Done d : done) {
                if (d.index() < roundNames.size()) {
                    workerLast.put(roundNames.get(d.index()), new double[] {d.rows(), d.seconds()});
                }
            }
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("round", rounds);
            h.put("workers", done.size());
            h.put("rows", total);
            h.put("mse", mse / Math.max(1, doneRows));
            h.put("seconds", seconds);
            lastRound = h;
            publish("training");
            meters.round(seconds, total);
            meters.roundMse(mse / Math.max(1, doneRows));
            if (rounds % 10 == 0 || rounds <= 2) {
                System.out.printf(java.util.Locale.ROOT, "%sround %d: %d rows in %d workers, %.3f s (op %d)%n", prefix, rounds, total,
                        members.size(), seconds, op);
            }
            try {
                writeControl();
            } catch (java.io.UncheckedIOException e) {
                System.err.println(prefix + "could not write " + CONTROL_FILE + ": " + e.getMessage());
            }
        }

        private void writeControl() throws java.io.UncheckedIOException {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("design", "column-sharded");
            c.put("rounds", rounds);
            c.put("rows", rows);
            c.put("offsets", offsets.clone());
            c.put("participants", members.stream().map(this::name).toList());
            c.put("ranges", ranges);
            c.put("operations", ops);
            if (checkpoint != null) {
                Map<String, Object> k = new LinkedHashMap<>();
                k.put("dir", checkpoint);
                k.put("rounds", checkpointRounds);
                k.put("rows", checkpointRows);
                k.put("offsets", checkpointOffsets);
                k.put("operation", checkpointOp);
                if (checkpointLedger != null) {
                    k.put("ledger", checkpointLedger.state());
                }
                c.put("checkpoint", k);
            }
            try {
                AtomicFiles.writeString(out.resolve(CONTROL_FILE), ConfigLoader.toJson(c) + "\n");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        /**
         * Every participant writes its owned ranges (participant 0 also the model) into a new checkpoint directory; once all
         * ranges are written, the control file names it and older checkpoints but the one before are deleted. A checkpoint that
         * fails is reported and the previous one stays the run's.
         */
        private void checkpoint() throws InterruptedException, Unrecoverable {
            String name = "sharded-checkpoints/round-" + String.format("%012d", rounds);
            Path dir = out.resolve(name);
            long t0 = System.nanoTime();
            for (ActorRef<ShardWorker.Command> w : members) {
                w.tell(new ShardWorker.WriteCheckpoint(dir.toString(), replies));
            }
            Set<Integer> written = new HashSet<>();
            long bytes = 0;
            String error = null;
            // every participant's answer, unless one leaves the cluster meanwhile (the next round then deals with the loss)
            Set<Integer> answered = new HashSet<>();
            long end = System.nanoTime() + answerMs() * 1_000_000L;
            while (answered.size() < members.size() && error == null) {
                for (int i = 0; i < members.size(); i++) {
                    if (!answered.contains(i) && !listed.contains(members.get(i))) {
                        error = "participant " + i + " (" + name(members.get(i)) + ") left the cluster";
                    }
                }
                if (error != null) {
                    break;
                }
                ShardWorker.Reply r = next(1000);
                if (r instanceof ShardWorker.CheckpointWritten c) {
                    answered.add(c.index());
                    if (c.error() != null) {
                        error = "participant " + c.index() + ": " + c.error();
                    }
                    written.addAll(c.ranges());
                    bytes += c.bytes();
                } else if (r == null && System.nanoTime() > end) {
                    error = "no answer from participants other than " + answered + " within " + answerMs() + " ms";
                }
            }
            if (error == null && (written.size() != ranges || !Files.exists(ShardWorker.modelFile(dir)))) {
                error = "the checkpoint holds ranges " + written + " of " + ranges + (Files.exists(ShardWorker.modelFile(dir)) ? "" : " and no model");
            }
            if (error != null) {
                System.err.println(prefix + "checkpoint at round " + rounds + " failed (" + error + "); the run's checkpoint stays "
                        + (checkpoint == null ? "none" : checkpoint));
                System.out.println(prefix + "checkpoint at round " + rounds + " failed: " + error);
                if (checkpoint == null) {
                    throw new Unrecoverable("the run's first checkpoint could not be written: " + error);
                }
                return;
            }
            String previous = checkpoint;
            checkpoint = name;
            checkpointRounds = rounds;
            checkpointRows = rows;
            checkpointOffsets = offsets.clone();
            checkpointOp = ops;
            if (config.live()) {
                checkpointLedger = copy(ledger);
            }
            writeControl();
            if (config.live()) {
                // every lease up to this operation was settled before the checkpoint was asked for (same sender, in order):
                // the included ones are now trained
                for (ActorRef<ShardWorker.Command> w : members) {
                    w.tell(new ShardWorker.Settle(-1, false, checkpointOp, false));
                }
            }
            System.out.printf(java.util.Locale.ROOT, "%scheckpoint at round %d: %s, %.1f MB in %.2f s%n", prefix, rounds, name, bytes / 1e6,
                    (System.nanoTime() - t0) / 1e9);
            try (var old = Files.list(out.resolve("sharded-checkpoints"))) {
                for (Path p : (Iterable<Path>) old::iterator) {
                    String n = "sharded-checkpoints/" + p.getFileName();
                    if (!n.equals(name) && !n.equals(previous)) {
                        deleteTree(p);
                    }
                }
            } catch (IOException e) {
                System.err.println(prefix + "could not delete old checkpoints: " + e.getMessage());
            }
        }

        private static DataParallelPam.IngestLedger copy(DataParallelPam.IngestLedger l) {
            return DataParallelPam.IngestLedger.fromState(new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(l.state()));
        }

        private static void deleteTree(Path p) throws IOException {
            try (var walk = Files.walk(p)) {
                for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(q);
                }
            }
        }

        /** Reads the control file a coordinator before this one wrote; a run without a checkpoint in it is an error. */
        void readControl() throws Unrecoverable {
            Path f = out.resolve(CONTROL_FILE);
            try {
                com.fasterxml.jackson.databind.JsonNode c = new com.fasterxml.jackson.databind.ObjectMapper().readTree(f.toFile());
                com.fasterxml.jackson.databind.JsonNode k = c.get("checkpoint");
                if (k == null || !c.has("ranges")) {
                    throw new Unrecoverable(f + " names no checkpoint: the run cannot be resumed, and it will not start over; move " + out
                            + " aside to start a new run");
                }
                ranges = c.get("ranges").asInt();
                // operation numbers never repeat (a ring's pieces are matched by them): continue far above the last one written
                ops = c.path("operations").asLong(0) + OPERATION_MARGIN;
                checkpoint = k.get("dir").asText();
                checkpointRounds = k.get("rounds").asLong();
                checkpointRows = k.get("rows").asLong();
                checkpointOffsets = new long[offsets.length];
                if (k.get("offsets").size() != offsets.length) {
                    throw new Unrecoverable(f + " holds " + k.get("offsets").size() + " shard offsets, this run has " + offsets.length
                            + " shards: the data changed since the checkpoint");
                }
                for (int i = 0; i < offsets.length; i++) {
                    checkpointOffsets[i] = k.get("offsets").get(i).asLong();
                }
                checkpointOp = k.path("operation").asLong(-1);
                if (config.live()) {
                    if (!k.has("ledger")) {
                        throw new Unrecoverable(f + " names a checkpoint without an ingest ledger (a run started without --data live?):"
                                + " a live run cannot resume from it; move " + out + " aside to start a new run");
                    }
                    checkpointLedger = DataParallelPam.IngestLedger.fromState(k.get("ledger"));
                    ledger = latestLedger(checkpointLedger);
                }
                if (ranges < 1 || ranges > config.dim()) {
                    throw new Unrecoverable(f + " holds " + ranges + " column ranges");
                }
            } catch (IOException | RuntimeException e) {
                throw new Unrecoverable("the run's control file " + f + " cannot be read (" + e.getMessage() + "); the run will not start"
                        + " over: move " + out + " aside to start a new run");
            }
        }

        /**
         * The newest whole ledger: {@value #LEDGER_FILE} (written after every change) when it is at least as new as the
         * checkpoint's, else the checkpoint's. A ledger file that cannot be read is said loudly; the checkpoint's ledger stands
         * (the counts reported since are reported again by the nodes that live).
         */
        private DataParallelPam.IngestLedger latestLedger(DataParallelPam.IngestLedger atCheckpoint) {
            Path f = out.resolve(LEDGER_FILE);
            if (Files.exists(f)) {
                try {
                    DataParallelPam.IngestLedger l = DataParallelPam.IngestLedger.fromState(new com.fasterxml.jackson.databind.ObjectMapper()
                            .readTree(f.toFile()));
                    if (l.seq() >= atCheckpoint.seq()) {
                        return l;
                    }
                } catch (IOException | RuntimeException e) {
                    System.err.println(prefix + "the ingest ledger " + f + " cannot be read (" + e.getMessage() + "); the ledger resumes"
                            + " from the checkpoint's: rows accepted by nodes that died since may be missing from it");
                    System.out.println(prefix + "the ingest ledger " + f + " cannot be read: " + e.getMessage());
                }
            }
            return copy(atCheckpoint);
        }

        /**
         * The run goes back to its checkpoint: the workers the receptionist lists (not those that left; at start, once the
         * minimum of workers is there) take the checkpoint's ranges, placed round-robin with replicas on the next worker, read the
         * model and their ranges from it; the rounds, rows and offsets are the checkpoint's, so the rows trained since are
         * trained again and none is lost or counted twice.
         */
        private void rewind(boolean atStart) throws InterruptedException, Unrecoverable {
            long waitUntil = System.nanoTime() + answerMs() * 1_000_000L;
            int need = atStart ? Math.max(1, config.minWorkers()) : 1;
            List<ShardWorker.Member> answered = List.of();
            while (true) {
                List<ActorRef<ShardWorker.Command>> ws = new ArrayList<>();
                for (ActorRef<ShardWorker.Command> w : listed) {
                    if (!departed.contains(w)) {
                        ws.add(w);
                    }
                }
                if (ws.size() >= need) {
                    // a listed worker whose node died does not answer; the listing drops it once its node is removed
                    ws.sort(Comparator.comparing(this::name));
                    answered = helloAll(ws);
                    if (answered.size() >= need) {
                        break;
                    }
                }
                if (!atStart && System.nanoTime() > waitUntil) {
                    throw new Unrecoverable("no worker is left to resume the run from its checkpoint " + checkpoint);
                }
                next(1000);
            }
            members.clear();
            rings.clear();
            for (ShardWorker.Member m : answered) {
                members.add(m.worker());
                rings.add(m.ring());
            }
            int n = members.size();
            int[][] placement = ShardWorker.roundRobinPlacement(ranges, n);
            owner = placement[0];
            replica = placement[1];
            String dir = out.resolve(checkpoint).toString();
            for (int i = 0; i < n; i++) {
                members.get(i).tell(new ShardWorker.Restore(config, members, rings, i, owner, replica, dir, checkpointOp, replies));
            }
            long end = System.nanoTime() + answerMs() * 1_000_000L;
            Set<Integer> restored = new HashSet<>();
            while (restored.size() < n) {
                ShardWorker.Reply r = next(Math.max(1, (end - System.nanoTime()) / 1_000_000L));
                if (r == null) {
                    throw new Unrecoverable("the workers did not restore the checkpoint " + checkpoint + " within " + answerMs() + " ms");
                }
                if (r instanceof ShardWorker.Configured c) {
                    restored.add(c.index());
                } else if (r instanceof ShardWorker.Failed f && f.round() == -1) {
                    if (f.reason().contains("between rounds")) {
                        // busy with a round of before the rewind: it ends at its deadline; ask again
                        Thread.sleep(500);
                        members.get(f.index()).tell(new ShardWorker.Restore(config, members, rings, f.index(), owner, replica, dir,
                                checkpointOp, replies));
                    } else {
                        throw new Unrecoverable("participant " + f.index() + " cannot resume from the checkpoint " + checkpoint + ": "
                                + f.reason());
                    }
                }
            }
            System.arraycopy(checkpointOffsets, 0, offsets, 0, offsets.length);
            if (config.live()) {
                // the rounds after the checkpoint are not in the model: their rows are queued again on the nodes that live
                // (each requeued its leases on Restore), lost with the nodes that died since
                long back = ledger.rollBack(checkpointLedger);
                ledgerDirty = true;
                if (back > 0) {
                    System.out.println(prefix + back + " rows merged after the checkpoint are not in it: queued again on their nodes"
                            + " (or lost with them)");
                }
            }
            long redo = rounds - checkpointRounds;
            rounds = checkpointRounds;
            rows = checkpointRows;
            resumedAt.add(checkpoint);
            meters.workers(n);
            writeControl();
            publish("training");
            System.out.println(prefix + "coordinator resumed from checkpoint at round " + rounds + " (" + checkpoint + ") with " + n
                    + " workers" + (atStart ? "" : ", " + redo + " rounds to train again"));
        }

        /**
         * A live run's quality: every participant evaluates its copy of the model (the same bits) on the latest rows it trained,
         * and the sums combine into the FVU, L0 and dead latents of all those rows (NaN when none were trained). No MMCS: the
         * rows are the producers', not a planted dictionary's.
         */
        private DataParallelPam.Quality liveQuality() throws InterruptedException {
            for (ActorRef<ShardWorker.Command> w : members) {
                w.tell(new ShardWorker.Evaluate(replies));
            }
            List<io.proxstream.solvers.sae.SaeEvaluator.Sums> parts = new ArrayList<>();
            Set<Integer> answered = new HashSet<>();
            long end = System.nanoTime() + answerMs() * 1_000_000L;
            while (answered.size() < members.size() && System.nanoTime() < end) {
                ShardWorker.Reply r = next(Math.max(1, (end - System.nanoTime()) / 1_000_000L));
                if (r instanceof ShardWorker.Evaluated e && answered.add(e.index())) {
                    if (e.error() != null) {
                        System.out.println(prefix + "participant " + e.index() + " could not evaluate the model: " + e.error());
                    } else if (e.rows() > 0) {
                        parts.add(e.sums());
                    }
                }
            }
            if (parts.isEmpty()) {
                return new DataParallelPam.Quality(Double.NaN, Double.NaN, Double.NaN, 0);
            }
            io.proxstream.solvers.sae.SaeEvaluator.Result r = io.proxstream.solvers.sae.SaeEvaluator.combine(config.spec(), parts);
            return new DataParallelPam.Quality(Double.NaN, r.fvu(), r.l0(), r.dead());
        }

        /** Participant 0 writes the model; the summary is written from it ({@code error}: why the run stopped early). */
        private void finish(String error) throws InterruptedException, Unrecoverable, IOException {
            Map<String, String> provenance = Map.of("trainer", "proxstream node (column-sharded pam)", "rows", Long.toString(rows),
                    "rounds", Long.toString(rounds));
            Path model = out.resolve("model.safetensors");
            members.get(0).tell(new ShardWorker.Save(model.toString(), out.resolve("export").toString(), provenance, replies));
            ShardWorker.Saved saved = expect(ShardWorker.Saved.class, "Save");
            DataParallelPam.Quality q = config.live() ? liveQuality()
                    : DataParallelPam.quality(config, files, io.proxstream.actors.train.SaeModelFiles.read(model));
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("config", config);
            s.put("design", "column-sharded");
            if (error != null) {
                s.put("error", error);
            }
            s.put("stopped", stopReason != null);
            if (stopReason != null) {
                s.put("stopReason", stopReason);
            }
            s.put("rounds", rounds);
            s.put("rows", rows);
            s.put("modelRounds", saved.rounds());
            if (!Double.isNaN(q.mmcs())) {
                s.put("mmcs", q.mmcs());
            }
            if (!Double.isNaN(q.fvu())) {
                s.put("fvu", q.fvu());
                s.put("l0", q.l0());
                s.put("dead", q.dead());
            }
            if (config.live()) {
                s.put("fvuOn", "the latest (up to) " + ShardWorker.RECENT_ROWS + " rows each worker trained");
            }
            s.put("shardOffsets", offsets.clone());
            if (config.live()) {
                s.put("ingest", ledger.describe());
                for (ActorRef<ShardWorker.Command> w : members) {
                    w.tell(new ShardWorker.Settle(-1, false, checkpointRounds == rounds ? checkpointOp : -1, true));
                }
            }
            if (!files.isEmpty()) {
                s.put("shardFiles", files);
            }
            s.put("workers", members.size());
            s.put("workersLost", lost);
            s.put("workersJoined", joined);
            s.put("operations", ops);
            s.put("resumedFrom", resumedAt);
            s.put("checkpoint", checkpoint);
            s.put("bytesSentByWorkers", bytesSent);
            double wall = (System.nanoTime() - firstRoundAt) / 1e9;
            s.put("trainSeconds", wall);
            s.put("secondsPerRound", rounds == 0 ? 0 : roundSeconds / rounds);
            s.put("rowsPerSecond", rows / wall);
            s.put("model", model.toString());
            s.put("export", out.resolve("export").toString());
            AtomicFiles.writeString(out.resolve(Coordinator.SUMMARY_FILE), ConfigLoader.toJson(s) + "\n");
            System.out.printf(java.util.Locale.ROOT, "%straining finished: %d rounds, %d rows, %sFVU %.4f, workers lost %d, joined %d%n",
                    prefix, rounds, rows, Double.isNaN(q.mmcs()) ? "" : String.format(java.util.Locale.ROOT, "MMCS %.4f, ", q.mmcs()),
                    q.fvu(), lost, joined);
        }
    }
}
