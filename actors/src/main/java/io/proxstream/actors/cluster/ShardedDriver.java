package io.proxstream.actors.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * N {@link ShardWorker}s, each the guardian of its own actor system — on loopback in this JVM, or in other processes
 * ({@link ShardWorkerNode}) — talking Artery TCP with the cluster's serializers, so every message between them is
 * serialised and sent as between machines; and a driver system whose guardian hands their answers to the calling thread:
 * the column-sharded round driven by hand, for tests and {@code bench cluster}.
 */
public final class ShardedDriver implements AutoCloseable {
    private final List<ActorSystem<ShardWorker.Command>> systems = new ArrayList<>();
    private final List<ActorRef<ShardWorker.Command>> workers = new ArrayList<>();
    private final ActorSystem<ShardWorker.Reply> driver;
    private final LinkedBlockingQueue<ShardWorker.Reply> replies = new LinkedBlockingQueue<>();
    private final Duration wait;
    /** The run's participants as the driver sees them, their rings, and the ranges' owners and replicas. */
    private final List<ActorRef<ShardWorker.Command>> members = new ArrayList<>();
    private final List<ActorRef<RingCollective.Command>> rings = new ArrayList<>();
    private int[] owner;
    private int[] replica;
    private long transfers;
    private DataParallelPam.Config config;

    /** {@code n} workers, each in its own actor system in this JVM; every answer is awaited at most {@code wait}. */
    public ShardedDriver(int n, Duration wait) {
        this.wait = wait;
        Config remote = remoteConfig("127.0.0.1", 0);
        driver = ActorSystem.create(Behaviors.receiveMessage(r -> {
            replies.add(r);
            return Behaviors.same();
        }), "shard-driver", remote);
        try {
            for (int i = 0; i < n; i++) {
                systems.add(ActorSystem.create(ShardWorker.create(), "shard", remote));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        for (ActorSystem<ShardWorker.Command> s : systems) {
            workers.add(ActorRefResolver.get(driver).resolveActorRef(ActorRefResolver.get(s).toSerializationFormat(s)));
        }
    }

    /**
     * The workers that {@link ShardWorkerNode}s run at {@code addresses} (host:port, in participant order), driven from a
     * system bound to {@code driverHost}; every answer is awaited at most {@code wait}.
     */
    public ShardedDriver(List<String> addresses, String driverHost, Duration wait) {
        this.wait = wait;
        driver = ActorSystem.create(Behaviors.receiveMessage(r -> {
            replies.add(r);
            return Behaviors.same();
        }), "shard-driver", remoteConfig(driverHost, 0));
        for (String a : addresses) {
            int colon = a.lastIndexOf(':');
            workers.add(ActorRefResolver.get(driver).resolveActorRef(ShardWorkerNode.path(a.substring(0, colon),
                    Integer.parseInt(a.substring(colon + 1)))));
        }
    }

    /** An actor system's settings for the shard round: Artery TCP at host:port (0: any), the cluster's serializers, no membership. */
    static Config remoteConfig(String host, int port) {
        Config base = ClusterNode.config(host, port, List.of(host + ":" + Math.max(port, 1)), List.of("worker"), Duration.ofSeconds(5));
        return ConfigFactory.parseString("pekko.actor.provider = remote\npekko.remote.warn-about-direct-use = off").withFallback(base);
    }

    public int size() {
        return workers.size();
    }

    /** Worker i's actor system in this JVM, by the index it was created with (a test stops one to see what its peers do). */
    public ActorSystem<ShardWorker.Command> system(int i) {
        return systems.get(i);
    }

    /** The next answer of any worker; fails when none comes in time. */
    public ShardWorker.Reply next() throws InterruptedException {
        ShardWorker.Reply r = replies.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
        if (r == null) {
            throw new IllegalStateException("no shard worker answered within " + wait);
        }
        return r;
    }

    /**
     * Gathers the workers' rings and configures worker i as participant i of a run of {@code config}, with or without
     * replicas; fails with a worker's reason.
     */
    public void configure(DataParallelPam.Config config, boolean replicas) throws InterruptedException {
        configure(config, replicas, workers.size());
    }

    /** As {@link #configure(DataParallelPam.Config, boolean)} with the first {@code count} workers; the others can {@link #join}. */
    public void configure(DataParallelPam.Config config, boolean replicas, int count) throws InterruptedException {
        this.config = config;
        members.clear();
        rings.clear();
        for (ActorRef<ShardWorker.Command> w : workers.subList(0, count)) {
            ShardWorker.Member m = hello(w);
            members.add(m.worker());
            rings.add(m.ring());
        }
        int[][] placement = ShardWorker.initialPlacement(members.size(), replicas);
        owner = placement[0];
        replica = placement[1];
        for (int i = 0; i < members.size(); i++) {
            members.get(i).tell(new ShardWorker.Configure(config, members, rings, i, replicas, driver));
            expect(ShardWorker.Configured.class);
        }
    }

    /**
     * After the workers not {@code alive} are gone: the survivors continue as participants 0.. in their old order, the dead
     * owners' ranges taken over by their replicas ({@link ShardWorker#afterLoss}); fails with a worker's reason. Worker
     * indices of later calls ({@link #round}, {@link #digest}) are the survivors'.
     */
    public void promote(boolean[] alive) throws InterruptedException {
        int[][] placement = ShardWorker.afterLoss(owner, replica, alive);
        List<ActorRef<ShardWorker.Command>> ws = new ArrayList<>();
        List<ActorRef<RingCollective.Command>> rs = new ArrayList<>();
        for (int w = 0; w < alive.length; w++) {
            if (alive[w]) {
                ws.add(members.get(w));
                rs.add(rings.get(w));
            }
        }
        for (int i = 0; i < ws.size(); i++) {
            ws.get(i).tell(new ShardWorker.Promote(ws, rs, i, placement[0], placement[1], driver));
        }
        for (int i = 0; i < ws.size(); i++) {
            ShardWorker.Reply r;
            do {
                r = next();
            } while (r instanceof ShardWorker.Stalled);
            if (!(r instanceof ShardWorker.Configured)) {
                throw new IllegalStateException("expected Configured from a shard worker, got " + r);
            }
        }
        members.clear();
        members.addAll(ws);
        rings.clear();
        rings.addAll(rs);
        owner = placement[0];
        replica = placement[1];
    }

    /**
     * Gives every range without a replica one again: its owner copies the range's state to the next worker
     * ({@link ShardWorker.SeedReplica}), then every worker learns the placement ({@link ShardWorker.Promote}). Between rounds.
     */
    public void restoreReplicas() throws InterruptedException {
        int n = members.size();
        if (n < 2) {
            return;
        }
        int[] rep = replica.clone();
        for (int r = 0; r < owner.length; r++) {
            if (rep[r] < 0) {
                int to = (owner[r] + 1) % n;
                members.get(owner[r]).tell(new ShardWorker.SeedReplica(++transfers, r, to, driver));
                expect(ShardWorker.ReplicaSeeded.class);
                rep[r] = to;
            }
        }
        for (int i = 0; i < n; i++) {
            members.get(i).tell(new ShardWorker.Promote(members, rings, i, owner, rep, driver));
            expect(ShardWorker.Configured.class);
        }
        replica = rep;
    }

    /**
     * Starts round {@code round} (an operation number: every call a new one, also when a failed round is run again) on the
     * first {@code slices.size()} participants and returns the first {@code answers} answers.
     */
    public List<ShardWorker.Reply> round(long round, List<List<Protocol.Assignment>> slices, int answers) throws InterruptedException {
        for (int i = 0; i < slices.size(); i++) {
            members.get(i).tell(new ShardWorker.Start(round, slices.get(i), driver));
        }
        List<ShardWorker.Reply> out = new ArrayList<>();
        for (int i = 0; i < answers; i++) {
            out.add(next());
        }
        return out;
    }

    /**
     * Worker {@code i} (by creation index) joins the run between rounds as the last participant: it is adopted with the
     * current placement (it holds no range), the others learn of it ({@link ShardWorker.Promote}), and participant 0 sends
     * it the model ({@link ShardWorker.SeedModel}); it takes rounds from the next one.
     */
    public void join(int i) throws InterruptedException {
        ActorRef<ShardWorker.Command> w = workers.get(i);
        ShardWorker.Member m = hello(w);
        List<ActorRef<ShardWorker.Command>> ws = new ArrayList<>(members);
        List<ActorRef<RingCollective.Command>> rs = new ArrayList<>(rings);
        ws.add(m.worker());
        rs.add(m.ring());
        int n = ws.size();
        m.worker().tell(new ShardWorker.Adopt(config, ws, rs, n - 1, owner, replica, driver));
        expect(ShardWorker.Adopted.class);
        for (int j = 0; j < n - 1; j++) {
            ws.get(j).tell(new ShardWorker.Promote(ws, rs, j, owner, replica, driver));
            expect(ShardWorker.Configured.class);
        }
        members.clear();
        members.addAll(ws);
        rings.clear();
        rings.addAll(rs);
        members.get(0).tell(new ShardWorker.SeedModel(++transfers, n - 1, driver));
        ShardWorker.Configured joined = expect(ShardWorker.Configured.class);
        if (joined.index() != n - 1) {
            throw new IllegalStateException("expected the joining worker's Configured, got " + joined);
        }
    }

    /** Sends participant i a message as a peer would (tests of what a worker does with a bad one). */
    public void send(int i, ShardWorker.Command message) {
        members.get(i).tell(message);
    }

    /** Arms participant i to stop once its next round has committed ({@link ShardWorker.Crash}). */
    public void crash(int i) {
        members.get(i).tell(new ShardWorker.Crash());
    }

    /**
     * Finishes round {@code round} on every participant after a mid-round {@link #promote} ({@link ShardWorker.Resume}):
     * the participants' answers, {@link ShardWorker.Stalled} reports that were still under way left out.
     */
    public List<ShardWorker.Reply> resume(long round) throws InterruptedException {
        for (ActorRef<ShardWorker.Command> w : members) {
            w.tell(new ShardWorker.Resume(round));
        }
        List<ShardWorker.Reply> out = new ArrayList<>();
        while (out.size() < members.size()) {
            ShardWorker.Reply r = next();
            if (!(r instanceof ShardWorker.Stalled)) {
                out.add(r);
            }
        }
        return out;
    }

    /** Every participant writes its part of a checkpoint into {@code dir}; returns their answers (fails with a worker's error). */
    public List<ShardWorker.CheckpointWritten> checkpoint(java.nio.file.Path dir) throws InterruptedException {
        for (ActorRef<ShardWorker.Command> w : members) {
            w.tell(new ShardWorker.WriteCheckpoint(dir.toString(), driver));
        }
        List<ShardWorker.CheckpointWritten> out = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            ShardWorker.CheckpointWritten c = expect(ShardWorker.CheckpointWritten.class);
            if (c.error() != null) {
                throw new IllegalStateException("participant " + c.index() + " did not write its checkpoint: " + c.error());
            }
            out.add(c);
        }
        return out;
    }

    /**
     * The first {@code count} workers (by creation index) resume the run from the checkpoint in {@code dir}, which holds
     * {@code ranges} column ranges: range r owned by worker r mod count, replicated on the next.
     */
    public void restore(java.nio.file.Path dir, int ranges, int count) throws InterruptedException {
        members.clear();
        rings.clear();
        for (ActorRef<ShardWorker.Command> w : workers.subList(0, count)) {
            ShardWorker.Member m = hello(w);
            members.add(m.worker());
            rings.add(m.ring());
        }
        int[][] placement = ShardWorker.roundRobinPlacement(ranges, count);
        owner = placement[0];
        replica = placement[1];
        for (int i = 0; i < count; i++) {
            members.get(i).tell(new ShardWorker.Restore(config, members, rings, i, owner, replica, dir.toString(), -1, driver));
        }
        for (int i = 0; i < count; i++) {
            expect(ShardWorker.Configured.class);
        }
    }

    /** Worker i's model digest. */
    public ShardWorker.Digest digest(int i) throws InterruptedException {
        members.get(i).tell(new ShardWorker.GetDigest(driver));
        return expect(ShardWorker.Digest.class);
    }

    /** A worker's participant and ring references. */
    private ShardWorker.Member hello(ActorRef<ShardWorker.Command> w) throws InterruptedException {
        w.tell(new ShardWorker.Hello(driver));
        return expect(ShardWorker.Member.class);
    }

    private <T extends ShardWorker.Reply> T expect(Class<T> type) throws InterruptedException {
        ShardWorker.Reply r = next();
        if (!type.isInstance(r)) {
            throw new IllegalStateException("expected " + type.getSimpleName() + " from a shard worker, got " + r);
        }
        return type.cast(r);
    }

    @Override
    public void close() {
        List<ActorSystem<?>> all = new ArrayList<>(systems);
        all.add(driver);
        all.forEach(ActorSystem::terminate);
        for (ActorSystem<?> s : all) {
            try {
                s.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                // terminating anyway; a system that does not stop in 30 s is left to the JVM's exit
            }
        }
    }
}
