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
 * <p>Not built (said in the README): checkpoints of the ranges (a new coordinator finds the run's control file and refuses
 * to start over; the run ends with the workers that hold it), live ingest, re-splitting the columns when workers join.
 */
public final class ShardedCoordinator {
    /** The receptionist key under which worker nodes of a sharded run register their {@link ShardWorker}. */
    public static final ServiceKey<ShardWorker.Command> WORKERS = ServiceKey.create(ShardWorker.Command.class, "proxstream-shard-worker");

    /** The run's control, rewritten after every completed round (a new coordinator that finds it unfinished refuses to start over). */
    public static final String CONTROL_FILE = "sharded-run.json";

    private ShardedCoordinator() {
    }

    /** What this actor handles: listings and answers, forwarded to the run's loop. */
    public interface Command {
    }

    private record Listed(Receptionist.Listing listing) implements Command, NoSerializationVerificationNeeded {
    }

    private record Replied(ShardWorker.Reply reply) implements Command, NoSerializationVerificationNeeded {
    }

    /** The workers the receptionist lists (an inbox event of the loop). */
    record Members(Set<ActorRef<ShardWorker.Command>> workers) {
    }

    public static Behavior<Command> create(DataParallelPam.Config config, Path out, ClusterMeters meters) {
        return Behaviors.setup(ctx -> {
            ActorRef<ShardWorker.Reply> replies = ctx.messageAdapter(ShardWorker.Reply.class, Replied::new);
            Run run = new Run(config, out, meters, replies, org.apache.pekko.cluster.typed.Cluster.get(ctx.getSystem()).selfMember().address());
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(WORKERS, ctx.messageAdapter(Receptionist.Listing.class, Listed::new)));
            Thread t = new Thread(run, "proxstream-sharded-run");
            t.setDaemon(true);
            t.start();
            return Behaviors.receive(Command.class)
                    .onMessage(Listed.class, l -> {
                        run.inbox.add(new Members(l.listing().getServiceInstances(WORKERS)));
                        return Behaviors.same();
                    })
                    .onMessage(Replied.class, r -> {
                        run.inbox.add(r.reply());
                        return Behaviors.same();
                    })
                    .onSignal(PostStop.class, s -> {
                        t.interrupt();
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    /** A failure the run cannot recover from without a checkpoint of the ranges: the run stops and says why. */
    static final class Unrecoverable extends Exception {
        Unrecoverable(String message) {
            super(message);
        }
    }

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
        private double encoderSeconds;
        private double roundSeconds;

        Run(DataParallelPam.Config config, Path out, ClusterMeters meters, ActorRef<ShardWorker.Reply> replies,
            org.apache.pekko.actor.Address self) {
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
        }

        @Override
        public void run() {
            try {
                if (Files.exists(out.resolve(Coordinator.SUMMARY_FILE))) {
                    System.out.println(prefix + "the run in " + out + " has finished (" + Coordinator.SUMMARY_FILE + "); nothing to train");
                    return;
                }
                if (Files.exists(out.resolve(CONTROL_FILE))) {
                    throw new Unrecoverable("the column-sharded run in " + out + " started before (" + CONTROL_FILE + ") and its model"
                            + " lives in its workers, which this coordinator cannot take over (checkpoints of the ranges are not built);"
                            + " it will not start over: move " + out + " aside to start a new run");
                }
                configure();
                while (!finished()) {
                    takeJoiners();
                    List<List<Protocol.Assignment>> slices = DataParallelPam.assign(config, files, offsets, names(), Map.of());
                    round(slices);
                }
                finish(null);
            } catch (InterruptedException e) {
                System.out.println(prefix + "stopped after " + rounds + " rounds");
            } catch (Unrecoverable | IOException | RuntimeException e) {
                String why = e instanceof Unrecoverable ? e.getMessage() : e.toString();
                System.err.println(prefix + "the run stopped: " + why);
                System.out.println(prefix + "the run stopped: " + why);
                try {
                    // the model the survivors hold is written with the summary that says why the run stopped
                    if (owner != null && !members.isEmpty()) {
                        finish(why);
                    }
                } catch (Exception f) {
                    System.err.println(prefix + "could not write the summary: " + f);
                }
            }
        }

        private boolean finished() {
            if (rows >= config.totalRows()) {
                return true;
            }
            for (int s = 0; s < offsets.length; s++) {
                if (DataParallelPam.remaining(config, files, offsets, s) > 0) {
                    return false;
                }
            }
            return true;
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

        /** Takes the inbox's next item, waiting at most {@code ms}; listings are applied as they come. Null on timeout. */
        private ShardWorker.Reply next(long ms) throws InterruptedException {
            long end = System.nanoTime() + ms * 1_000_000L;
            while (true) {
                long left = end - System.nanoTime();
                Object o = left <= 0 ? inbox.poll() : inbox.poll(left, TimeUnit.NANOSECONDS);
                if (o == null) {
                    return null;
                }
                if (o instanceof Members m) {
                    listed = m.workers();
                    continue;
                }
                return (ShardWorker.Reply) o;
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

        private long answerMs() {
            return 2 * config.roundTimeoutMs() + 30_000;
        }

        /** Waits for the minimum of workers, then configures them as participants in their address order. */
        private void configure() throws InterruptedException, Unrecoverable {
            System.out.println(prefix + "waiting for " + config.minWorkers() + " shard workers (" + config.describe() + ")");
            while (listed.size() < Math.max(1, config.minWorkers())) {
                next(1000);
            }
            List<ActorRef<ShardWorker.Command>> first = new ArrayList<>(listed);
            first.sort(Comparator.comparing(this::name));
            for (ActorRef<ShardWorker.Command> w : first) {
                w.tell(new ShardWorker.Hello(replies));
                ShardWorker.Member m = expect(ShardWorker.Member.class, "Hello");
                members.add(m.worker());
                rings.add(m.ring());
            }
            int[][] placement = ShardWorker.initialPlacement(members.size(), true);
            owner = placement[0];
            replica = placement[1];
            for (int i = 0; i < members.size(); i++) {
                members.get(i).tell(new ShardWorker.Configure(config, members, rings, i, true, replies));
                expect(ShardWorker.Configured.class, "Configure");
            }
            meters.workers(members.size());
            writeControl();
            System.out.println(prefix + "coordinator started: " + members.size() + " workers, " + owner.length + " column ranges with"
                    + " replicas, " + (files.isEmpty() ? "the synthetic stream" : files.size() + " shard files"));
        }

        /** Workers the receptionist lists that are not participants join between rounds, one at a time. */
        private void takeJoiners() throws InterruptedException, Unrecoverable {
            ShardWorker.Reply stray;
            while ((stray = next(0)) != null) {
                // answers of rounds already decided: nothing to do
                assert stray != null;
            }
            List<ActorRef<ShardWorker.Command>> fresh = new ArrayList<>();
            for (ActorRef<ShardWorker.Command> w : listed) {
                if (!members.contains(w) && !departed.contains(w)) {
                    fresh.add(w);
                }
            }
            fresh.sort(Comparator.comparing(this::name));
            for (ActorRef<ShardWorker.Command> w : fresh) {
                w.tell(new ShardWorker.Hello(replies));
                ShardWorker.Member m = expect(ShardWorker.Member.class, "Hello");
                List<ActorRef<ShardWorker.Command>> ws = new ArrayList<>(members);
                List<ActorRef<RingCollective.Command>> rs = new ArrayList<>(rings);
                ws.add(m.worker());
                rs.add(m.ring());
                int n = ws.size();
                m.worker().tell(new ShardWorker.Adopt(config, ws, rs, n - 1, owner, replica, replies));
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
                if (anyGone) {
                    dropLost(alive, op, "after the round");
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
                            throw new Unrecoverable("participant " + f.index() + " failed round " + op + " after changing shared state: "
                                    + f.reason());
                        }
                        why.append(" ").append(f.index()).append(": ").append(f.reason()).append(";");
                    } else if (a instanceof ShardWorker.Stalled) {
                        throw new Unrecoverable("round " + op + " stalled after the ring with every participant alive: " + answers.values());
                    }
                }
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
            dropLost(alive, op, stalled ? "after the ring" : "before the ring");
            if (stalled && failed) {
                throw new Unrecoverable("a worker died inside round " + op + "'s ring: some survivors hold the summed encoder and some"
                        + " do not (" + answers.values() + "); resuming from a checkpoint of the ranges is not built");
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
                        throw new Unrecoverable("the survivors did not finish round " + op + " after the promotion");
                    }
                    if (r instanceof ShardWorker.Failed f && f.round() == op) {
                        throw new Unrecoverable("round " + op + " cannot be finished after the loss: " + f.reason());
                    }
                    if (r instanceof ShardWorker.Done d && d.round() == op) {
                        done.add(d);
                    }
                }
                commit(op, slices, done, t0);
            }
            restoreReplicas();
        }

        /** Counts the participants not {@code alive} as lost; they are never taken back. */
        private void dropLost(boolean[] alive, long op, String when) {
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
        }

        /** The survivors {@code alive} continue in their old order, the dead owners' ranges taken by their replicas. */
        private void promote(boolean[] alive) throws InterruptedException, Unrecoverable {
            int[][] placement;
            try {
                placement = ShardWorker.afterLoss(owner, replica, alive);
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new Unrecoverable("the run lost a column range with both its owner and its replica: " + e.getMessage());
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
                throw new Unrecoverable("every worker of the run is gone");
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
                    offsets[a.shard()] = Math.max(offsets[a.shard()], a.offset() + a.rows());
                }
            }
            long total = done.get(0).totalRows();
            double mse = 0;
            for (ShardWorker.Done d : done) {
                mse += d.mse();
                bytesSent += d.bytesSent();
                encoderSeconds += d.encoderSeconds();
                meters.workerRound(name(members.get(Math.min(d.index(), members.size() - 1))), d.rows(), d.seconds());
                meters.sent(d.bytesSent());
            }
            rows += total;
            rounds++;
            reruns = 0;
            double seconds = (System.nanoTime() - t0) / 1e9;
            roundSeconds += seconds;
            meters.round(seconds, total);
            meters.roundMse(mse / Math.max(1, total));
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
            try {
                AtomicFiles.writeString(out.resolve(CONTROL_FILE), ConfigLoader.toJson(c) + "\n");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        /** Participant 0 writes the model; the summary is written from it ({@code error}: why the run stopped early). */
        private void finish(String error) throws InterruptedException, Unrecoverable, IOException {
            Map<String, String> provenance = Map.of("trainer", "proxstream node (column-sharded pam)", "rows", Long.toString(rows),
                    "rounds", Long.toString(rounds));
            Path model = out.resolve("model.safetensors");
            members.get(0).tell(new ShardWorker.Save(model.toString(), out.resolve("export").toString(), provenance, replies));
            ShardWorker.Saved saved = expect(ShardWorker.Saved.class, "Save");
            DataParallelPam.Quality q = DataParallelPam.quality(config, files, io.proxstream.actors.train.SaeModelFiles.read(model));
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("config", config);
            s.put("design", "column-sharded");
            if (error != null) {
                s.put("error", error);
            }
            s.put("rounds", rounds);
            s.put("rows", rows);
            s.put("modelRounds", saved.rounds());
            if (!Double.isNaN(q.mmcs())) {
                s.put("mmcs", q.mmcs());
            }
            s.put("fvu", q.fvu());
            s.put("l0", q.l0());
            s.put("dead", q.dead());
            s.put("shardOffsets", offsets.clone());
            if (!files.isEmpty()) {
                s.put("shardFiles", files);
            }
            s.put("workers", members.size());
            s.put("workersLost", lost);
            s.put("workersJoined", joined);
            s.put("operations", ops);
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
