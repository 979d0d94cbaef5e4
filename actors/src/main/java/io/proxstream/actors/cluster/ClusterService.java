package io.proxstream.actors.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.MeterRegistry;
import io.proxstream.monitoring.ClusterMeters;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.format.AtomicFiles;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * A node of {@code serve --cluster}: runs are created, listed, stopped and exported through any node's {@code /runs}
 * ({@link ClusterRoutes}), each run trains by data-parallel PAM-SGD over the cluster's workers, and rows pushed to any
 * node's {@code POST /runs/NAME/batches} are trained by that node's worker.
 *
 * <p><b>Where a run lives.</b> Runs are directories of a runs directory every node reads and writes (a shared path, as
 * the checkpoints of {@code proxstream node}): {@value #RUN_FILE} holds the run's configuration, {@code checkpoints/}
 * its coordinator's checkpoints, {@value Coordinator#STOP_FILE} a stop request, {@value Coordinator#SUMMARY_FILE} and
 * the model its end. Each run's coordinator is a Cluster Sharding entity (type {@code proxstream-run}, id the run's
 * name) on a node with role {@code coordinator}, so the runs of a cluster spread over its nodes. Every node looks at the
 * runs directory each second: it sends each unfinished run's entity a {@link Protocol.Wake} (which starts it where its
 * shard lives: after the node holding it died and was downed, the shard moves and the coordinator resumes from its last
 * checkpoint) and, with role {@code worker}, starts a worker for the run (registered under the run's own key) and, for
 * a live run, a queue for the rows pushed to this node ({@link LiveRows}). A whole cluster restarted on the same
 * directory resumes every unfinished run the same way.
 */
public final class ClusterService {
    /** The entity type of run coordinators. */
    public static final EntityTypeKey<Protocol.CoordinatorCommand> RUN = EntityTypeKey.create(Protocol.CoordinatorCommand.class,
            "proxstream-run");
    /** A run's configuration in its directory. */
    public static final String RUN_FILE = "cluster-run.json";
    /** Run names: they are directory and actor names. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /**
     * A node's settings.
     *
     * @param host         this node's address (cluster transport and HTTP)
     * @param clusterPort  its Artery port
     * @param seeds        seed nodes (HOST:PORT)
     * @param roles        coordinator and/or worker
     * @param downAfter    unreachable members are downed after this
     * @param tls          TLS of the cluster transport (null: none; loopback only unless insecure)
     * @param runsDir      the shared runs directory
     * @param queueBytes   the rows a live run may hold on this node until they are trained
     * @param ackMillis    longest wait of a push with {@code X-Ack: trained}
     * @param maxBatchBytes largest push body
     * @param waitMillis   how long a push waits for room in a full queue before 503
     * @param maxAbs       largest accepted absolute value of an input
     */
    public record Options(String host, int clusterPort, List<String> seeds, List<String> roles, Duration downAfter,
                          ClusterNode.Tls tls, Path runsDir, long queueBytes, long ackMillis, long maxBatchBytes, long waitMillis,
                          double maxAbs) {
    }

    private final Options options;
    private final MeterRegistry registry;
    private final Map<String, ClusterMeters> meters = new ConcurrentHashMap<>();
    /** The queue of each live run on this node; written by the watch actor only, read by the ingest endpoint. */
    private final Map<String, LiveRows> queues = new ConcurrentHashMap<>();
    /** Why this node takes no part in a run (it could not hold the run's queue, the run's file does not read), by run. */
    private final Map<String, String> problems = new ConcurrentHashMap<>();
    private ActorSystem<Void> system;

    private ClusterService(Options options, MeterRegistry registry) {
        this.options = options;
        this.registry = registry;
    }

    /** Starts the node: joins the cluster, starts the run entities' region and the watch of the runs directory. */
    public static ClusterService start(Options options, MeterRegistry registry) throws IOException {
        Files.createDirectories(options.runsDir());
        ClusterService s = new ClusterService(options, registry);
        var config = ClusterNode.config(options.host(), options.clusterPort(), options.seeds(), options.roles(), options.downAfter(),
                options.tls());
        s.system = ActorSystem.create(Behaviors.empty(), ClusterNode.SYSTEM, config);
        Cluster cluster = Cluster.get(s.system);
        ClusterMeters.members(registry, cluster.selfMember().address().hostPort(), () -> ClusterNode.membersUp(cluster));
        // the region before anything can address a run (the HTTP API is bound once this returns, the watch wakes runs)
        ClusterSharding.get(s.system).init(Entity.of(RUN, e -> s.entity(e.getEntityId())).withRole("coordinator")
                .withStopMessage(Coordinator.HandOff.INSTANCE));
        s.system.systemActorOf(s.watch(), "runs-watch", org.apache.pekko.actor.typed.Props.empty());
        return s;
    }

    public ActorSystem<Void> system() {
        return system;
    }

    public Options options() {
        return options;
    }

    /** This node's address (host:port of its cluster transport). */
    public String self() {
        return system.address().hostPort();
    }

    /** The queue of run {@code name} on this node (null: none). */
    public LiveRows queue(String name) {
        return queues.get(name);
    }

    /** The live runs whose rows this node queues (their queues may have closed since: the run ended). */
    public java.util.Set<String> liveRuns() {
        return java.util.Set.copyOf(queues.keySet());
    }

    /** Why this node takes no part in run {@code name} (null: it does, or it does not know the run). */
    public String problem(String name) {
        return problems.get(name);
    }

    /** The coordinator of run {@code name}, wherever it is. */
    public EntityRef<Protocol.CoordinatorCommand> coordinator(String name) {
        return ClusterSharding.get(system).entityRefFor(RUN, name);
    }

    ClusterMeters meters(String run) {
        return meters.computeIfAbsent(run, r -> new ClusterMeters(registry, options.host() + ":" + options.clusterPort(), r));
    }

    /** The run file's key naming the run's design ({@code star}, the default, or {@code sharded}). */
    static final String DESIGN = "design";
    static final List<String> DESIGNS = List.of("star", "sharded");

    /** A run as its file describes it: its training configuration and its design. */
    record RunSpec(DataParallelPam.Config config, String design) {
        boolean sharded() {
            return design.equals("sharded");
        }
    }

    /** The configuration written when a run is created; errors name the file. */
    static DataParallelPam.Config readRun(Path dir) {
        return readSpec(dir).config();
    }

    /** The configuration and design written when a run is created; errors name the file. */
    static RunSpec readSpec(Path dir) {
        Path f = dir.resolve(RUN_FILE);
        try {
            JsonNode doc = ConfigLoader.mapper().readTree(Files.readString(f));
            String design = "star";
            if (doc != null && doc.isObject() && doc.has(DESIGN)) {
                design = ((ObjectNode) doc).remove(DESIGN).asText();
                if (!DESIGNS.contains(design)) {
                    throw new IllegalArgumentException(f + ": design '" + design + "' is not one of " + DESIGNS);
                }
            }
            return new RunSpec(ConfigLoader.loadJson(DataParallelPam.Config.class, DataParallelPam.Config.defaults(), String.valueOf(doc),
                    f.toString()), design);
        } catch (IOException e) {
            throw new IllegalArgumentException(f + " cannot be read: " + e.getMessage(), e);
        }
    }

    /** The defaults of a run created through {@code POST /runs}: live rows, trained until stopped. */
    public static DataParallelPam.Config runDefaults() {
        DataParallelPam.Config d = DataParallelPam.Config.defaults();
        return new DataParallelPam.Config(d.dim(), d.features(), d.latents(), d.k(), d.shards(), d.batch(), d.batchesPerShard(),
                Long.MAX_VALUE, d.checkpointEvery(), d.roundTimeoutMs(), d.minWorkers(), d.seed(), d.algorithm(), d.decoder(),
                d.results(), d.solveEvery(), DataParallelPam.Config.LIVE);
    }

    /**
     * Creates run {@code name} from a JSON document of {@link DataParallelPam.Config} fields over {@link #runDefaults()}
     * ({@code dim} is required): checks it, estimates its coordinator's heap against this JVM's, writes its directory and
     * wakes its coordinator. Throws {@link IllegalArgumentException} for a bad document (400), {@link IllegalStateException}
     * for a run that cannot fit (422) and {@link FileAlreadyExistsException} for a name taken (409).
     */
    public DataParallelPam.Config create(String name, String body) throws IOException {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("run name '" + name + "' must be 1-64 letters, digits, '.', '_' or '-', starting with"
                    + " a letter or digit");
        }
        JsonNode doc;
        try {
            doc = ConfigLoader.mapper().readTree(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("the run's description is not valid JSON: " + e.getMessage(), e);
        }
        if (doc != null && doc.isObject() && doc.has("inputDim")) {
            // serve's name for the width (the Python client's create_run sends it): the same key here
            JsonNode w = ((ObjectNode) doc).remove("inputDim");
            if (doc.has("dim") && !doc.get("dim").equals(w)) {
                throw new IllegalArgumentException("\"dim\" " + doc.get("dim") + " and \"inputDim\" " + w + " disagree; give one of them");
            }
            ((ObjectNode) doc).set("dim", w);
        }
        if (doc == null || !doc.isObject() || !doc.hasNonNull("dim")) {
            throw new IllegalArgumentException("a run needs at least \"name\" and \"dim\" (the rows' width)");
        }
        ((ObjectNode) doc).remove("name");
        JsonNode d = ((ObjectNode) doc).remove(DESIGN);
        String design = d == null ? "star" : d.asText();
        if (!DESIGNS.contains(design)) {
            throw new IllegalArgumentException("\"design\" " + d + " is not one of " + DESIGNS);
        }
        DataParallelPam.Config config = ConfigLoader.loadJson(DataParallelPam.Config.class, runDefaults(), doc.toString(),
                "run '" + name + "'");
        boolean sharded = design.equals("sharded");
        if (sharded) {
            if (!config.algorithm().equals("pam")) {
                throw new IllegalArgumentException("the sharded design trains PAM-SGD (\"algorithm\": \"pam\"), got " + config.algorithm());
            }
            if (config.decoder().equals("auto")) {
                config = config.withDecoder("cg", config.results(), config.solveEvery());
            } else if (!config.decoder().equals("cg")) {
                throw new IllegalArgumentException("the sharded design runs the cg decoder step (\"decoder\": \"cg\"), got "
                        + config.decoder());
            }
        }
        long heap = Runtime.getRuntime().maxMemory();
        // the sharded design's coordinator holds no model (each worker's share is planned when its node joins the run)
        long need = sharded ? 0 : config.coordinatorBytes();
        if (need > io.proxstream.actors.train.MemoryPlan.HEAP_SHARE * heap) {
            throw new IllegalStateException(String.format(Locale.ROOT, "run '%s' needs about %s for its coordinator (%s, %d latents, width"
                    + " %d), more than %.0f %% of this node's heap of %s; give the nodes more heap (JAVA_OPTS=-Xmx...) or choose"
                    + " fewer latents or the cg decoder step", name, io.proxstream.actors.train.MemoryPlan.size(need),
                    config.decoderStep(), config.latents(), config.dim(), 100 * io.proxstream.actors.train.MemoryPlan.HEAP_SHARE,
                    io.proxstream.actors.train.MemoryPlan.size(heap)));
        }
        Path dir = options.runsDir().resolve(name);
        Files.createDirectory(dir);
        ObjectNode file = ConfigLoader.mapper().valueToTree(config);
        if (sharded) {
            file.put(DESIGN, design);
        }
        AtomicFiles.writeString(dir.resolve(RUN_FILE), ConfigLoader.toJson(file) + "\n");
        coordinator(name).tell(new Protocol.Wake(self()));
        return config;
    }

    /** Asks run {@code name} to stop: a stop file its coordinator reads (also after moving), and a message. */
    public void stop(String name, String reason) throws IOException {
        Path dir = options.runsDir().resolve(name);
        AtomicFiles.writeString(dir.resolve(Coordinator.STOP_FILE), ConfigLoader.toJson(Map.of("reason", reason, "node", self(),
                "at", java.time.Instant.now().toString())) + "\n");
        coordinator(name).tell(new Protocol.StopRun(reason));
    }

    /** The run directories (those with a {@value #RUN_FILE}), by name. */
    public List<String> runs() throws IOException {
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(options.runsDir())) {
            return out;
        }
        try (var s = Files.list(options.runsDir())) {
            s.filter(d -> Files.isRegularFile(d.resolve(RUN_FILE))).forEach(d -> out.add(d.getFileName().toString()));
        }
        out.sort(null);
        return out;
    }

    /** The run's coordinator entity: reads the run's configuration off the actor thread, then runs a {@link Coordinator}. */
    private Behavior<Protocol.CoordinatorCommand> entity(String name) {
        Path dir = options.runsDir().resolve(name);
        return Behaviors.withStash(1024, stash -> Behaviors.setup(ctx -> {
            Executor blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> readSpec(dir), blocking), (c, err) -> new RunRead(c,
                    err == null ? null : String.valueOf(err.getCause() != null ? err.getCause().getMessage() : err.getMessage())));
            return Behaviors.receive(Protocol.CoordinatorCommand.class)
                    .onMessage(RunRead.class, r -> {
                        if (r.error() != null) {
                            System.err.println("proxstream run " + name + ": cannot start its coordinator: " + r.error());
                            return stash.unstashAll(Coordinator.failed(name, "the run's configuration cannot be read: " + r.error()));
                        }
                        if (r.spec().sharded()) {
                            return stash.unstashAll(ShardedCoordinator.create(r.spec().config(), dir, meters(name),
                                    ShardedCoordinator.workers(name), name));
                        }
                        return stash.unstashAll(Coordinator.create(r.spec().config(), dir, meters(name), Worker.key(name), name));
                    })
                    .onAnyMessage(m -> {
                        if (!stash.isFull()) {
                            stash.stash(m);
                        }
                        return Behaviors.same();
                    })
                    .build();
        }));
    }

    private record RunRead(RunSpec spec, String error) implements Protocol.CoordinatorInternal {
    }

    // ---- the watch of the runs directory: wakes coordinators, starts and retires this node's workers ----

    private sealed interface WatchCommand {
    }

    private enum Tick implements WatchCommand {
        TICK
    }

    /** A run directory as the scan saw it. */
    private record Found(String name, DataParallelPam.Config config, String error, boolean finished, boolean sharded) {
    }

    private record Scanned(List<Found> runs, String error) implements WatchCommand {
    }

    /** This node's part in a run: its worker, the worker's link to the coordinator, its queue (null: not live). */
    private static final class Local {
        final ActorRef<?> worker;
        final ActorRef<Protocol.CoordinatorCommand> forwarder;
        final LiveRows live;
        /** The worker's estimated heap ({@link DataParallelPam.Config#workerBytes()}). */
        final long bytes;
        int finishedTicks;
        boolean retired;

        Local(ActorRef<?> worker, ActorRef<Protocol.CoordinatorCommand> forwarder, LiveRows live, long bytes) {
            this.worker = worker;
            this.forwarder = forwarder;
            this.live = live;
            this.bytes = bytes;
        }
    }

    /** How often the runs directory is looked at. */
    static final Duration SCAN_EVERY = Duration.ofSeconds(1);
    /** Scans a finished run's queue may stay open for its {@link Protocol.RunFinished} before it is closed anyway. */
    private static final int FINISH_GRACE_TICKS = 10;

    private Behavior<WatchCommand> watch() {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Tick.TICK, SCAN_EVERY);
            Executor blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
            Map<String, Local> local = new HashMap<>();
            boolean[] scanning = {false};
            ctx.getSystem().getWhenTerminated().thenRun(() -> queues.values().forEach(LiveRows::close));
            return Behaviors.receive(WatchCommand.class)
                    .onMessageEquals(Tick.TICK, () -> {
                        if (!scanning[0]) {
                            scanning[0] = true;
                            ctx.pipeToSelf(CompletableFuture.supplyAsync(this::scan, blocking),
                                    (r, err) -> err == null ? r : new Scanned(List.of(), String.valueOf(err)));
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Scanned.class, sc -> {
                        scanning[0] = false;
                        if (sc.error() != null) {
                            ctx.getLog().error("cannot list the runs directory {}: {}", options.runsDir(), sc.error());
                        }
                        for (Found f : sc.runs()) {
                            onFound(ctx, f, local);
                        }
                        return Behaviors.same();
                    })
                    .build();
        }));
    }

    private Scanned scan() {
        List<Found> out = new ArrayList<>();
        try {
            for (String name : runs()) {
                Path dir = options.runsDir().resolve(name);
                boolean finished = Files.exists(dir.resolve(Coordinator.SUMMARY_FILE));
                if (finished) {
                    // only its worker's retirement is left to do, which needs no configuration
                    out.add(new Found(name, null, null, true, false));
                    continue;
                }
                try {
                    RunSpec spec = readSpec(dir);
                    out.add(new Found(name, spec.config(), null, finished, spec.sharded()));
                } catch (RuntimeException e) {
                    out.add(new Found(name, null, e.getMessage(), finished, false));
                }
            }
            return new Scanned(out, null);
        } catch (IOException e) {
            return new Scanned(out, e.toString());
        }
    }

    private void onFound(ActorContext<WatchCommand> ctx, Found f, Map<String, Local> local) {
        if (!f.finished()) {
            coordinator(f.name()).tell(new Protocol.Wake(self()));
        }
        Local l = local.get(f.name());
        if (f.finished()) {
            if (l != null && !l.retired && (l.live == null || !l.live.accepting() || ++l.finishedTicks > FINISH_GRACE_TICKS)) {
                // the run's end reached this node (its queue closed on RunFinished), or it never will: retire its worker
                ctx.stop(l.worker);
                ctx.stop(l.forwarder);
                if (l.live != null) {
                    l.live.close();
                }
                l.retired = true;
            }
            return;
        }
        if (l != null || !options.roles().contains("worker") || problems.containsKey(f.name())) {
            return;
        }
        if (f.config() == null) {
            problems.put(f.name(), f.error());
            ctx.getLog().error("run {}: {}", f.name(), f.error());
            return;
        }
        // this node's share of its runs, planned before it joins one: every worker's heap and every live run's queue
        long heap = Runtime.getRuntime().maxMemory();
        long need = f.config().workerBytes() + (f.config().live() ? options.queueBytes() : 0);
        for (Local e : local.values()) {
            need += e.retired ? 0 : e.bytes + (e.live != null && e.live.accepting() ? e.live.budget().capacity() : 0);
        }
        double share = io.proxstream.actors.train.MemoryPlan.HEAP_SHARE;
        if (need > share * heap) {
            String why = String.format(Locale.ROOT, "this node cannot take part in run '%s': its workers and ingest queues would need"
                    + " about %s with it (this run's worker %s%s), more than %.0f %% of its heap of %s", f.name(),
                    io.proxstream.actors.train.MemoryPlan.size(need), io.proxstream.actors.train.MemoryPlan.size(f.config().workerBytes()),
                    f.config().live() ? ", queue " + io.proxstream.actors.train.MemoryPlan.size(options.queueBytes()) : "", 100 * share,
                    io.proxstream.actors.train.MemoryPlan.size(heap));
            problems.put(f.name(), why);
            System.err.println("proxstream serve: " + why);
            return;
        }
        LiveRows live = null;
        if (f.config().live()) {
            live = new LiveRows(f.config().dim(), new io.proxstream.actors.serve.ByteBudget(options.queueBytes(),
                    io.proxstream.actors.serve.Scheduler.SHARED));
            queues.put(f.name(), live);
        }
        String name = f.name();
        ActorRef<Protocol.CoordinatorCommand> forwarder = ctx.spawn(Behaviors.receive(Protocol.CoordinatorCommand.class)
                .onAnyMessage(m -> {
                    coordinator(name).tell(m);
                    return Behaviors.same();
                }).build(), "to-coordinator-" + name);
        ActorRef<?> worker;
        if (f.sharded()) {
            // a shard worker of the run: it holds a copy of the model and column ranges; registered under the run's own key
            ActorRef<ShardWorker.Command> w = ctx.spawn(ShardWorker.create(live, forwarder), "shard-worker-" + name);
            ctx.getSystem().receptionist().tell(org.apache.pekko.actor.typed.receptionist.Receptionist.register(
                    ShardedCoordinator.workers(name), w));
            worker = w;
        } else {
            worker = ctx.spawn(Worker.create(self(), meters(name), live, forwarder, Worker.key(name)), "worker-" + name);
        }
        local.put(name, new Local(worker, forwarder, live, f.config().workerBytes()));
        System.out.println("proxstream serve: this node's worker joined run " + name + (live != null ? " (takes rows at POST /runs/"
                + name + "/batches)" : ""));
    }

    /** The status of run {@code name} from its files, if it has finished (its summary), else null. */
    static Map<String, Object> finishedStatus(Path dir, String name) throws IOException {
        Path summary = dir.resolve(Coordinator.SUMMARY_FILE);
        if (!Files.exists(summary)) {
            return null;
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> s = ConfigLoader.mapper().readValue(Files.readString(summary), LinkedHashMap.class);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", name);
        out.put("state", "finished");
        out.putAll(s);
        return out;
    }
}
