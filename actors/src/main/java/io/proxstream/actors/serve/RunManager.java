package io.proxstream.actors.serve;

import io.proxstream.actors.train.MemoryPlan;
import io.proxstream.monitoring.Meters;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.RunConfig;
import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.protocol.format.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.stream.Stream;
import org.apache.pekko.Done;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.pattern.StatusReply;

/**
 * The served runs: creates them (and resumes the ones found in the runs directory at start), keeps
 * the registry the ingest endpoints read, and stops them all on shutdown.
 */
public final class RunManager extends AbstractBehavior<RunManager.Command> {

    public sealed interface Command extends NoSerializationVerificationNeeded {
    }

    /** Creates a new run (its directory must not exist yet); replies with its status. */
    public record Create(RunConfig config, ActorRef<StatusReply<RunStatus>> replyTo) implements Command {
    }

    /** Stops every run (each writes its final checkpoint); replies when all are stopped. */
    public record StopAll(ActorRef<Done> replyTo) implements Command {
    }

    /**
     * Starts a run that could not resume ({@link RunState#RESUME_FAILED}) from scratch: its checkpoint
     * directory is renamed to {@code checkpoints.unreadable-MILLIS} (kept, never deleted) first.
     */
    public record StartFresh(String name, ActorRef<StatusReply<RunStatus>> replyTo) implements Command {
    }

    /**
     * Restarts a FAILED run from its newest checkpoint: the run's actor is shut down (its files stay), then
     * the run is started again from {@code run.json}, resuming like a run found at server start.
     */
    public record Restart(String name, ActorRef<StatusReply<RunStatus>> replyTo) implements Command {
    }

    private record RunEnded(String name) implements Command {
    }

    private record Started(String name) implements Command {
    }

    private record StartFailed(String name, RunConfig config, String reason) implements Command {
    }

    private final ServeConfig serve;
    private final Meters meters;
    private final ConcurrentMap<String, RunHandle> registry;
    private final Path runsDir;
    private final Map<String, ActorRef<StatusReply<RunStatus>>> pending = new java.util.HashMap<>();
    private final ConcurrentMap<String, RunStatus> notRunning;
    private final Map<String, ActorRef<StatusReply<RunStatus>>> restarting = new java.util.HashMap<>();
    /** Runs spawned and not started yet (their trainers and checkpoints load), for the memory plan. */
    private final Map<String, RunConfig> loading = new java.util.HashMap<>();

    /**
     * @param registry    the running runs, by name (read by the routes)
     * @param notRunning  the runs that are not training: {@link RunState#LOADING} while a run's trainer and
     *                    checkpoint load, {@link RunState#RESUME_FAILED} with the reasons for a run found at
     *                    start that could not resume (read by the routes and the readiness check)
     */
    public static Behavior<Command> create(ServeConfig serve, Meters meters, ConcurrentMap<String, RunHandle> registry,
                                           ConcurrentMap<String, RunStatus> notRunning) {
        return Behaviors.setup(ctx -> new RunManager(ctx, serve, meters, registry, notRunning));
    }

    private RunManager(ActorContext<Command> ctx, ServeConfig serve, Meters meters, ConcurrentMap<String, RunHandle> registry,
                       ConcurrentMap<String, RunStatus> notRunning) throws IOException {
        super(ctx);
        this.serve = serve;
        this.meters = meters;
        this.registry = registry;
        this.notRunning = notRunning;
        this.runsDir = Path.of(serve.runsDir());
        Files.createDirectories(runsDir);
        try (Stream<Path> dirs = Files.list(runsDir)) {
            for (Path d : dirs.filter(p -> Files.isRegularFile(p.resolve("run.json"))).sorted().toList()) {
                try {
                    RunConfig c = loadRunConfig(d);
                    if (!c.name().equals(d.getFileName().toString())) {
                        throw new IllegalArgumentException("run.json names run '" + c.name() + "' but lives in " + d.getFileName());
                    }
                    spawn(c, d);
                    ctx.getLog().info("resuming run {} from {}", c.name(), d);
                } catch (RuntimeException e) {
                    ctx.getLog().error("cannot resume the run in {}: {}", d, e.getMessage());
                    String name = d.getFileName().toString();
                    trackState(name);
                    notRunning.put(name, resumeFailed(name, null, "cannot read " + d.resolve("run.json") + ": " + e.getMessage()));
                }
            }
        }
    }

    /**
     * The run's state as gauges, one per {@link RunState} (1 for the current state, 0 for the others), read at
     * each scrape from the statuses the routes serve: {@code serve_run_state{run,state}}.
     */
    private void trackState(String run) {
        for (RunState st : RunState.values()) {
            io.micrometer.core.instrument.Gauge.builder(Meters.RUN_STATE, () -> st.name().equals(currentState(run)) ? 1 : 0)
                    .description("a served run's state: 1 for the current one").tags("run", run, "state", st.name())
                    .strongReference(true).register(meters.registry());
        }
    }

    private String currentState(String run) {
        RunHandle h = registry.get(run);
        RunStatus st = h != null ? h.status() : notRunning.get(run);
        return st == null ? "" : st.state();
    }

    private void spawn(RunConfig c, Path dir) {
        ActorRef<Command> self = getContext().getSelf();
        trackState(c.name());
        loading.put(c.name(), c);
        notRunning.put(c.name(), statusWithoutTraining(c.name(), c, RunState.LOADING, ""));
        Behavior<RunActor.Command> b = RunActor.create(c, dir, meters, serve.historyPoints(), new RunActor.StartListener() {
            @Override
            public void started(RunHandle handle) {
                registry.put(c.name(), handle);
                notRunning.remove(c.name());
                self.tell(new Started(c.name()));
            }

            @Override
            public void failed(Throwable cause) {
                self.tell(new StartFailed(c.name(), c, String.valueOf(cause.getMessage() == null ? cause : cause.getMessage())));
            }
        });
        getContext().spawn(Behaviors.supervise(b).onFailure(SupervisorStrategy.stop()), "run-" + c.name());
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Create.class, this::onCreate)
                .onMessage(StopAll.class, this::onStopAll)
                .onMessage(Started.class, this::onStarted)
                .onMessage(StartFailed.class, this::onStartFailed)
                .onMessage(StartFresh.class, this::onStartFresh)
                .onMessage(Restart.class, this::onRestart)
                .onMessage(RunEnded.class, this::onRunEnded)
                .build();
    }

    /** The run described by {@code dir/run.json} (defaults for the keys it lacks). */
    private static RunConfig loadRunConfig(Path dir) {
        return ConfigLoader.load(RunConfig.class, RunConfig.defaults("x", 1), List.of(dir.resolve("run.json")), Map.of());
    }

    /** The status of a run that could not resume: no training figures, the reason as its error. */
    static RunStatus resumeFailed(String name, RunConfig c, String reason) {
        return statusWithoutTraining(name, c, RunState.RESUME_FAILED, reason);
    }

    private static RunStatus statusWithoutTraining(String name, RunConfig c, RunState state, String reason) {
        return new RunStatus(name, state.name(), c == null ? "" : c.trainer().algo(), c == null ? 0 : c.inputDim(),
                c == null ? 0 : c.sae().latents(), c == null ? "" : c.sae().sparsifier(), c == null ? 0 : c.sae().k(), 0, Double.NaN,
                Double.NaN, Double.NaN, 0, 0, 0, 0, 0, 0, 0, "", "", reason, 0, "", c == null ? 0 : c.health().holdout(), 0, null);
    }

    private Behavior<Command> onRestart(Restart r) {
        RunHandle h = registry.get(r.name());
        if (h == null || h.status() == null || !RunState.FAILED.name().equals(h.status().state())) {
            r.replyTo().tell(StatusReply.error("run '" + r.name() + "' is not FAILED" + (h == null || h.status() == null ? ""
                    : " (it is " + h.status().state() + ")") + "; only a failed run is restarted"));
            return this;
        }
        if (restarting.containsKey(r.name())) {
            r.replyTo().tell(StatusReply.error("run '" + r.name() + "' is already restarting"));
            return this;
        }
        restarting.put(r.name(), r.replyTo());
        getContext().watchWith(h.actor(), new RunEnded(r.name()));
        h.actor().tell(new RunActor.Shutdown(getContext().getSystem().ignoreRef()));
        return this;
    }

    private Behavior<Command> onRunEnded(RunEnded e) {
        ActorRef<StatusReply<RunStatus>> replyTo = restarting.remove(e.name());
        if (replyTo == null) {
            return this;
        }
        registry.remove(e.name());
        Path dir = runsDir.resolve(e.name());
        try {
            RunConfig c = loadRunConfig(dir);
            pending.put(e.name(), replyTo);
            spawn(c, dir);
            getContext().getLog().info("restarting failed run {} from its newest checkpoint", e.name());
        } catch (RuntimeException ex) {
            replyTo.tell(StatusReply.error("cannot restart run '" + e.name() + "': " + ex.getMessage()));
        }
        return this;
    }

    private Behavior<Command> onStartFresh(StartFresh f) {
        RunStatus st = notRunning.get(f.name());
        if (st == null || !RunState.RESUME_FAILED.name().equals(st.state())) {
            f.replyTo().tell(StatusReply.error("run '" + f.name() + "' is not waiting to start fresh (only runs in "
                    + RunState.RESUME_FAILED + " are)"));
            return this;
        }
        Path dir = runsDir.resolve(f.name());
        try {
            RunConfig c = loadRunConfig(dir);
            Path ck = dir.resolve("checkpoints");
            if (Files.exists(ck)) {
                Path aside = dir.resolve("checkpoints.unreadable-" + System.currentTimeMillis());
                Files.move(ck, aside);
                getContext().getLog().warn("run {}: unreadable checkpoints moved to {}; starting from scratch", f.name(), aside);
            }
            notRunning.remove(f.name());
            pending.put(f.name(), f.replyTo());
            spawn(c, dir);
        } catch (IOException | RuntimeException e) {
            f.replyTo().tell(StatusReply.error("cannot start run '" + f.name() + "' fresh: " + e.getMessage()));
        }
        return this;
    }

    private Behavior<Command> onCreate(Create c) {
        RunConfig cfg = c.config();
        Path dir = runsDir.resolve(cfg.name());
        if (registry.containsKey(cfg.name()) || Files.exists(dir)) {
            c.replyTo().tell(StatusReply.error("run '" + cfg.name() + "' already exists"));
            return this;
        }
        if (pending.containsKey(cfg.name())) {
            c.replyTo().tell(StatusReply.error("run '" + cfg.name() + "' is being created"));
            return this;
        }
        try {
            MemoryPlan.require(cfg.name(), cfg.trainer(), cfg.sae(), cfg.inputDim(), cfg.batchSize(), true, heldBytes(cfg),
                    heldByRuns(), Runtime.getRuntime().maxMemory());
        } catch (IllegalStateException e) {
            c.replyTo().tell(StatusReply.error("the server cannot hold " + e.getMessage()));
            return this;
        } catch (IllegalArgumentException e) {
            c.replyTo().tell(StatusReply.error(e.getMessage()));
            return this;
        }
        try {
            Files.createDirectories(dir);
            AtomicFiles.writeString(dir.resolve("run.json"), ConfigLoader.toJson(cfg) + "\n");
            pending.put(cfg.name(), c.replyTo());
            spawn(cfg, dir);
        } catch (IOException | RuntimeException e) {
            pending.remove(cfg.name());
            c.replyTo().tell(StatusReply.error("cannot create run '" + cfg.name() + "': " + e.getMessage()));
        }
        return this;
    }

    /** The planned heap of the runs this server holds (running, or loading: spawned and not started yet). */
    private long heldByRuns() {
        long sum = 0;
        for (RunHandle h : registry.values()) {
            sum += plan(h.config());
        }
        for (Map.Entry<String, RunConfig> e : loading.entrySet()) {
            if (!registry.containsKey(e.getKey())) {
                sum += plan(e.getValue());
            }
        }
        return sum;
    }

    private static long plan(RunConfig c) {
        return MemoryPlan.of(c.trainer(), c.sae(), c.inputDim(), c.batchSize(), true, heldBytes(c)).total();
    }

    /** Input rows a served run holds: its ingest queue and its latent-health reservoir with what evaluating it takes. */
    private static long heldBytes(RunConfig c) {
        return c.queueBytes() + MemoryPlan.heldOutBytes(c.health(), c.inputDim(), c.sae().latents());
    }

    private Behavior<Command> onStarted(Started s) {
        loading.remove(s.name());
        ActorRef<StatusReply<RunStatus>> r = pending.remove(s.name());
        if (r != null) {
            r.tell(StatusReply.success(registry.get(s.name()).status()));
        }
        return this;
    }

    private Behavior<Command> onStartFailed(StartFailed f) {
        loading.remove(f.name());
        ActorRef<StatusReply<RunStatus>> r = pending.remove(f.name());
        if (r != null) {
            // a run that never started leaves nothing behind, so the name can be used again
            notRunning.remove(f.name());
            deleteRecursively(runsDir.resolve(f.name()));
            r.tell(StatusReply.error("run '" + f.name() + "' failed to start: " + f.reason()));
        } else {
            // a run found at start that cannot resume stays visible (and keeps the service not ready)
            getContext().getLog().error("run {} failed to start: {}", f.name(), f.reason());
            // replaced in one step: the API (another thread) never sees the run missing between LOADING and RESUME_FAILED
            notRunning.put(f.name(), resumeFailed(f.name(), f.config(), f.reason()));
        }
        return this;
    }

    private static void deleteRecursively(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a leftover directory only blocks reusing the name
        }
    }

    private Behavior<Command> onStopAll(StopAll s) {
        List<CompletableFuture<StatusReply<RunStatus>>> all = new ArrayList<>();
        for (RunHandle h : registry.values()) {
            all.add(AskPattern.<RunActor.Command, StatusReply<RunStatus>>ask(h.actor(), RunActor.Stop::new,
                    Duration.ofMinutes(5), getContext().getSystem().scheduler()).toCompletableFuture()
                    .exceptionally(StatusReply::error));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).thenRun(() -> s.replyTo().tell(Done.getInstance()));
        return this;
    }
}
