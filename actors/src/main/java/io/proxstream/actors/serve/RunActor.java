package io.proxstream.actors.serve;

import io.proxstream.actors.stream.Chunk;
import io.proxstream.actors.stream.HoldOut;
import io.proxstream.actors.stream.TrainingStages;
import io.proxstream.actors.stream.WindowReport;
import io.proxstream.actors.train.SaeModelFiles;
import io.proxstream.actors.train.Trainers;
import io.proxstream.monitoring.IngestMeters;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.SaeRunMeters;
import io.proxstream.monitoring.StreamMeters;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.HealthConfig;
import io.proxstream.protocol.config.RunConfig;
import io.proxstream.solvers.sae.LatentHealth;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeTrainer;
import io.proxstream.solvers.sae.TrainerState;
import io.proxstream.solvers.sae.TrainingMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSink;

/**
 * One served run: owns its trainer, its training stream (fed by a bounded queue that the ingest
 * endpoints fill through the run's {@link RunHandle}) and its checkpoints.
 *
 * <p>Starting is asynchronous: the trainer is built and its newest intact checkpoint (or
 * {@code initFrom}) read on Pekko's blocking-IO dispatcher, and the result comes back as a message
 * ({@code pipeToSelf}); commands that arrive meanwhile are stashed. Only then does the stream start
 * and the run register.
 *
 * <p>Checkpoints are snapshots taken on the training thread between steps, by control tokens that
 * travel down the stream behind the data already queued: periodically (this actor sends one when a
 * report shows {@code checkpointEvery} more vectors trained, and none is being written) and on
 * demand. Files are written by a single writer thread and the outcome comes back as a message.
 * Stopping completes the queue; when the stream has drained, the trainer is idle and the final
 * checkpoint is written. The run's state lives in this actor's fields and is read and written only
 * in its message handlers; other threads see it through the immutable {@link RunStatus} it publishes.
 */
public final class RunActor extends AbstractBehavior<RunActor.Command> {

    /** The run's protocol; local only. */
    public sealed interface Command extends NoSerializationVerificationNeeded {
    }

    /** Stops the run after the data already queued is trained; replies once the final checkpoint is written. */
    public record Stop(ActorRef<StatusReply<RunStatus>> replyTo) implements Command {
    }

    /** Writes the SAELens export of the model as trained on everything queued so far; replies with the directory. */
    public record Export(ActorRef<StatusReply<String>> replyTo) implements Command {
    }

    /** Writes a checkpoint now (behind the queued data); replies with the file. */
    public record Checkpoint(ActorRef<StatusReply<String>> replyTo) implements Command {
    }

    /** Ends a run that is FAILED or STOPPED (the actor stops; its files stay); refused while it trains. */
    public record Shutdown(ActorRef<StatusReply<RunStatus>> replyTo) implements Command {
    }

    record Started(ActorRef<Ack> replyTo) implements Command {
    }

    record Window(WindowReport report, ActorRef<Ack> replyTo) implements Command {
    }

    enum Completed implements Command { INSTANCE }

    record Failed(Throwable cause) implements Command {
    }

    private enum Purpose { CHECKPOINT, FINAL, EXPORT }

    private record SnapshotTaken(TrainerState state, long samples, Purpose purpose, ActorRef<StatusReply<String>> replyTo)
            implements Command {
    }

    private record Written(Purpose purpose, long samples, String path, String error, ActorRef<StatusReply<String>> replyTo)
            implements Command {
    }

    /** Acknowledgement to the stream. */
    enum Ack implements NoSerializationVerificationNeeded { INSTANCE }

    private record Loaded(Prepared prepared) implements Command {
    }

    private record LoadFailed(Throwable cause) implements Command {
    }

    /** A latent-health evaluation finished on the training thread (error non-null if it threw). */
    private record HealthEvaluated(HealthStatus health, LatentHealth.Result result, String error) implements Command {
    }

    /** What the blocking start builds: the trainer, restored or initialised, and its metrics window. */
    private record Prepared(SaeTrainer trainer, TrainingMetrics window, String resumedFrom, long checkpointMillis) {
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RunActor.class);

    private final RunConfig config;
    private final Path dir;
    private final SaeTrainer trainer;
    private final TrainingMetrics window;
    private final CheckpointStore store;
    private final ExecutorService writer;
    private final SaeRunMeters runMeters;
    private final IngestMeters ingestMeters;
    private final Meters meters;
    private final RunHandle handle;
    private final long startNanos = System.nanoTime();
    /** The checkpoint-age meter's value: written by this actor's handlers, read by the registry at a scrape. */
    private final AtomicLong checkpointSeconds = new AtomicLong();
    /** A periodic checkpoint is on its way (token queued, snapshot taken or file being written). */
    private boolean writing;
    /** Samples of the newest durable checkpoint (renamed and synced): what the status reports. */
    private long lastCheckpointSamples;
    /** Samples at which the last periodic checkpoint was asked for (maybe still being written). */
    private long checkpointRequested;
    /** Samples trained, as of the newest report, snapshot or end of stream. */
    private long trained;
    private final List<ActorRef<StatusReply<RunStatus>>> stopping = new ArrayList<>();
    private RunState state = RunState.TRAINING;
    private long checkpointFailures;
    private String checkpointError = "";
    /** This actor's reference, for the training and writer threads (which must not touch the context). */
    private final ActorRef<Command> selfRef;
    private String error = "";
    private final String resumedFrom;
    private String lastCheckpoint = "";
    private WindowReport last;
    /** Rows kept out of training for latent health, or null when the run's health.holdout is 0. */
    private final HoldOut holdOut;
    /** The newest latent-health evaluation, or null. */
    private HealthStatus health;
    /** A latent-health evaluation is queued or running. */
    private boolean healthPending;
    /** When the last latent-health evaluation was asked for (System.nanoTime), 0 before the first. */
    private long healthAsked;
    private long healthFailures;
    private long lastIngestRows;
    private double lastPointSeconds;

    /** Hears whether the run started. */
    public interface StartListener {
        /** The stream runs; called before any message is processed. */
        void started(RunHandle handle);

        /** The run could not start (unreadable checkpoints or initFrom, ...). */
        void failed(Throwable cause);
    }

    /** Commands that may arrive while the run loads (a run registers only once loaded, so few do). */
    private static final int STASH = 256;

    public static Behavior<Command> create(RunConfig config, Path runDir, Meters meters, int historyPoints,
                                           StartListener listener) {
        return Behaviors.withStash(STASH, stash -> Behaviors.setup(ctx -> {
            java.util.concurrent.Executor blocking = ctx.getSystem().dispatchers()
                    .lookup(org.apache.pekko.actor.typed.DispatcherSelector.blocking());
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> prepare(config, runDir), blocking),
                    (p, err) -> err == null ? new Loaded(p) : new LoadFailed(err instanceof CompletionException && err.getCause() != null
                            ? err.getCause() : err));
            return Behaviors.receive(Command.class)
                    .onMessage(Loaded.class, l -> {
                        try {
                            return stash.unstashAll(new RunActor(ctx, config, runDir, meters, historyPoints, l.prepared(), listener));
                        } catch (Exception | Error e) {
                            l.prepared().trainer().close();
                            Meters.removeRun(meters.registry(), config.name());
                            listener.failed(e);
                            return Behaviors.stopped();
                        }
                    })
                    .onMessage(LoadFailed.class, f -> {
                        listener.failed(f.cause());
                        return Behaviors.stopped();
                    })
                    .onAnyMessage(m -> {
                        if (stash.isFull()) {
                            ctx.getLog().warn("run {}: dropping {} that arrived while loading (stash full)", config.name(), m);
                        } else {
                            stash.stash(m);
                        }
                        return Behaviors.same();
                    })
                    .build();
        }));
    }

    /** A run has checkpoints and none reads back: it must not start from scratch. */
    public static final class UnreadableCheckpoints extends IOException {
        private static final long serialVersionUID = 1L;

        UnreadableCheckpoints(String run, List<String> reasons) {
            super("run '" + run + "' has " + reasons.size() + " checkpoint(s) and none reads back, so it is not started from"
                    + " scratch: " + String.join("; ", reasons) + ". Delete the files, or POST /runs/" + run
                    + "/start-fresh to move them aside and train from scratch.");
        }
    }

    /**
     * Builds the trainer and restores it from the newest intact checkpoint, or initialises it from
     * {@code initFrom}; blocking (reads files of gigabytes), so it runs on the blocking-IO dispatcher and
     * touches nothing of the actor.
     */
    private static Prepared prepare(RunConfig config, Path dir) {
        SaeTrainer trainer = null;
        try {
            SaeModel model = Trainers.initialModel(config.sae(), config.trainer(), config.inputDim(), config.seed());
            trainer = Trainers.create(config.trainer(), model, config.deadWindow());
            TrainingMetrics window = new TrainingMetrics(config.inputDim(), config.sae().latents(), config.deadWindow());
            return restore(config, dir, trainer, model, window);
        } catch (IOException e) {
            if (trainer != null) {
                trainer.close();
            }
            throw new java.io.UncheckedIOException(e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            if (trainer != null) {
                trainer.close();
            }
            throw e;
        }
    }

    private static Prepared restore(RunConfig config, Path dir, SaeTrainer trainer, SaeModel model, TrainingMetrics window)
            throws IOException {
        CheckpointStore store = new CheckpointStore(dir.resolve("checkpoints"), config.keepCheckpoints());
        List<String> unreadable = new ArrayList<>();
        Optional<CheckpointStore.Loaded> loaded = store.loadLatest(skipped -> {
            unreadable.add(skipped);
            LOG.warn("run {}: skipping unreadable checkpoint {}", config.name(), skipped);
        });
        if (loaded.isEmpty() && !unreadable.isEmpty()) {
            // never silently start over: what was learnt is in those files
            throw new UnreadableCheckpoints(config.name(), unreadable);
        }
        if (loaded.isPresent()) {
            TrainerState s = loaded.get().state();
            trainer.restore(s);
            window.loadFrom(s);
            return new Prepared(trainer, window, loaded.get().file().getFileName().toString(),
                    Files.getLastModifiedTime(loaded.get().file()).toMillis());
        }
        if (!config.initFrom().isBlank()) {
            SaeModel init = SaeModelFiles.read(Path.of(config.initFrom()));
            if (!init.spec().withTied(model.spec().tied()).equals(model.spec())) {
                throw new IllegalArgumentException("initFrom " + config.initFrom() + " holds " + init.spec()
                        + ", the run needs " + model.spec());
            }
            model.copyFrom(init.spec().tied() == model.spec().tied() ? init : SaeModel.of(model.spec(),
                    init.encoderWeights(), init.encoderBias(), init.decoderWeights(), init.decoderBias()));
            LOG.info("run {}: initialised from {}", config.name(), config.initFrom());
        }
        return new Prepared(trainer, window, "", System.currentTimeMillis());
    }

    private RunActor(ActorContext<Command> ctx, RunConfig config, Path dir, Meters meters, int historyPoints, Prepared p,
                     StartListener listener) {
        super(ctx);
        this.selfRef = ctx.getSelf();
        this.config = config;
        this.dir = dir;
        this.meters = meters;
        this.store = new CheckpointStore(dir.resolve("checkpoints"), config.keepCheckpoints());
        this.trainer = p.trainer();
        this.window = p.window();
        this.resumedFrom = p.resumedFrom();
        if (!resumedFrom.isEmpty()) {
            lastCheckpoint = resumedFrom;
            lastCheckpointSamples = trainer.samplesSeen();
            checkpointRequested = trainer.samplesSeen();
            trained = trainer.samplesSeen();
            ctx.getLog().info("run {}: resumed from {} at {} samples", config.name(), resumedFrom, trained);
        }
        this.writer = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "checkpoint-writer-" + config.name());
            t.setDaemon(true);
            return t;
        });
        this.runMeters = new SaeRunMeters(meters.registry(), config.name(), trainer.algorithm(), config.sae().latents());
        checkpointSeconds.set(p.checkpointMillis() / 1000);
        io.micrometer.core.instrument.Gauge.builder(Meters.CHECKPOINT_TIMESTAMP, checkpointSeconds, AtomicLong::get).baseUnit("seconds")
                .description("when the newest durable checkpoint was written (the run's start if it has none), Unix time")
                .tag("run", config.name()).register(meters.registry());
        StreamMeters streamMeters = new StreamMeters(meters.registry(), config.name());
        long budgetBytes = config.queueBytes();
        ByteBudget budget = new ByteBudget(budgetBytes, Scheduler.SHARED);
        this.ingestMeters = new IngestMeters(meters.registry(), config.name(), budget::reserved);
        Pair<BoundedSourceQueue<Chunk>, Source<Chunk, org.apache.pekko.NotUsed>> q =
                Source.<Chunk>queue(4096).preMaterialize(ctx.getSystem());
        HealthConfig hc = config.health();
        this.holdOut = hc.enabled() ? new HoldOut(config.inputDim(), hc.rows(), hc.stride(), config.seed()) : null;
        HoldOut ho = holdOut;
        this.handle = new RunHandle(config, dir, selfRef, budget, q.first(), ingestMeters, new History(historyPoints),
                trainer::samplesSeen, ho == null ? () -> 0L : ho::heldOut);
        Source<Chunk, org.apache.pekko.NotUsed> fed = q.second().map(c -> {
            if (!c.isControl()) {
                budget.release(4L * c.rows() * c.cols());
            }
            return c;
        });
        TrainingStages.graph(fed, trainer, config.batchSize(), 0, 0, config.reportEvery(), window,
                        config.maxAbs(), holdOut, streamMeters)
                .to(ActorSink.<WindowReport, Command, Ack>actorRefWithBackpressure(selfRef,
                        (replyTo, r) -> new Window(r, replyTo), Started::new, Ack.INSTANCE, Completed.INSTANCE, Failed::new))
                .run(ctx.getSystem());
        publish();
        listener.started(handle);
    }

    /** Trainer and dead-latent tracker; call on the training thread or when the stream is finished. */
    private TrainerState snapshot() {
        TrainerState.Builder m = new TrainerState.Builder(trainer.algorithm());
        window.saveTo(m);
        return CheckpointStore.merge(trainer.snapshot(), m.build());
    }

    public RunHandle handle() {
        return handle;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Started.class, this::onStarted)
                .onMessage(Window.class, this::onWindow)
                .onMessageEquals(Completed.INSTANCE, this::onCompleted)
                .onMessage(Failed.class, this::onFailed)
                .onMessage(Stop.class, this::onStop)
                .onMessage(Export.class, this::onExport)
                .onMessage(Checkpoint.class, this::onCheckpoint)
                .onMessage(SnapshotTaken.class, this::onSnapshot)
                .onMessage(Written.class, this::onWritten)
                .onMessage(Shutdown.class, this::onShutdown)
                .onMessage(HealthEvaluated.class, this::onHealth)
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    private Behavior<Command> onStarted(Started s) {
        s.replyTo().tell(Ack.INSTANCE);
        return this;
    }

    private Behavior<Command> onWindow(Window w) {
        last = w.report();
        var m = last.metrics();
        trained = Math.max(trained, m.samples());
        long reported = trained;
        if (state == RunState.TRAINING && !writing && reported - checkpointRequested >= config.checkpointEvery()) {
            // the periodic checkpoint: a token behind the queued data takes the snapshot on the training thread
            long before = checkpointRequested;
            writing = true;
            checkpointRequested = reported;
            if (!handle.offerControl(() -> selfRef.tell(new SnapshotTaken(snapshot(), trainer.samplesSeen(), Purpose.CHECKPOINT, null)))) {
                writing = false;
                checkpointRequested = before;
            }
        }
        maybeEvaluateHealth();
        runMeters.report(m.loss(), m.mse(), m.fvu(), m.l0(), m.deadLatents(), m.vectorsPerSecond(), m.windowRows(), m.auxLoss());
        if (last.solves() > 0) {
            runMeters.solve(last.solveMillis() / last.solves());
            if (last.lastSolve() != null) {
                runMeters.decoderConvergence(last.lastSolve().iterations(), last.lastSolve().residual());
            }
        }
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        long rows = handle.ingestedRows();
        double ingestRate = seconds > lastPointSeconds ? (rows - lastIngestRows) / (seconds - lastPointSeconds) : 0;
        lastIngestRows = rows;
        lastPointSeconds = seconds;
        handle.history().add(new History.Point(reported, seconds, m.loss(), m.fvu(), m.l0(), m.deadLatents(),
                m.vectorsPerSecond(), ingestRate, (long) ingestMeters.rejectedTotal()));
        publish();
        w.replyTo().tell(Ack.INSTANCE);
        return this;
    }

    /**
     * Asks for a latent-health evaluation when one is due: the first once the reservoir holds
     * min(256, capacity) rows, then every {@code health.everySeconds}. A control token runs it on the
     * training thread between steps (the model is read, not copied), and the result comes back as a message.
     */
    private void maybeEvaluateHealth() {
        HealthConfig hc = config.health();
        long now = System.nanoTime();
        if (holdOut == null || healthPending || state != RunState.TRAINING
                || holdOut.size() < Math.min(256, holdOut.capacity())
                || (healthAsked != 0 && now - healthAsked < (long) (hc.everySeconds() * 1e9))) {
            return;
        }
        LatentHealth.Settings settings = new LatentHealth.Settings(hc.denseFraction(), hc.cosineFlops(),
                config.seed() + healthFailures + (health == null ? 0 : health.samples()));
        HoldOut ho = holdOut;
        ActorRef<Command> self = selfRef;
        SaeTrainer t = trainer;
        boolean queued = handle.offerControl(() -> {
            try {
                long t0 = System.nanoTime();
                float[] rows = ho.copy();
                int n = rows.length / config.inputDim();
                LatentHealth.Result r = LatentHealth.evaluate(t.model(), rows, n, Math.max(1, Math.min(256, n)), settings);
                self.tell(new HealthEvaluated(HealthStatus.of(r, t.samplesSeen(), hc.denseFraction(), (System.nanoTime() - t0) / 1e6),
                        r, null));
            } catch (RuntimeException | OutOfMemoryError e) {
                // never fail the training stream over a monitor
                self.tell(new HealthEvaluated(null, null, e.toString()));
            }
        });
        if (queued) {
            healthPending = true;
            healthAsked = now;
        }
    }

    private Behavior<Command> onHealth(HealthEvaluated h) {
        healthPending = false;
        if (h.error() != null) {
            healthFailures++;
            getContext().getLog().warn("run {}: latent-health evaluation failed (training goes on): {}", config.name(), h.error());
            return this;
        }
        health = h.health();
        LatentHealth.Result r = h.result();
        runMeters.health(LatentHealth.Result.labels(), r.buckets(), r.rows(), r.dense(), r.shrinkage(), r.maxCosine(), r.fvu());
        publish();
        return this;
    }

    private Behavior<Command> onCompleted() {
        // the stream has drained: the trainer is idle, so it can be read from this thread
        if (state != RunState.FAILED) {
            long samples = trainer.samplesSeen();
            trained = samples;
            TrainerState s = snapshot();
            writer.submit(() -> write(Purpose.FINAL, samples, s, null));
        }
        return this;
    }

    private Behavior<Command> onFailed(Failed f) {
        state = RunState.FAILED;
        error = String.valueOf(f.cause());
        getContext().getLog().error("run {}: training stream failed: {}", config.name(), error);
        handle.stopAccepting();
        publish();
        stopping.forEach(r -> r.tell(StatusReply.error("run failed: " + error)));
        stopping.clear();
        return this;
    }

    private Behavior<Command> onShutdown(Shutdown s) {
        if (state != RunState.FAILED && state != RunState.STOPPED) {
            s.replyTo().tell(StatusReply.error("run '" + config.name() + "' is " + state + "; only a FAILED or STOPPED run is shut down"));
            return this;
        }
        s.replyTo().tell(StatusReply.success(handle.status()));
        return Behaviors.stopped();
    }

    private Behavior<Command> onStop(Stop s) {
        if (state == RunState.STOPPED || state == RunState.FAILED) {
            s.replyTo().tell(StatusReply.success(handle.status()));
            return this;
        }
        stopping.add(s.replyTo());
        if (state == RunState.TRAINING) {
            state = RunState.STOPPING;
            handle.stopAccepting();
            handle.completeQueue();
            publish();
        }
        return this;
    }

    private Behavior<Command> onExport(Export e) {
        return requestSnapshot(Purpose.EXPORT, e.replyTo());
    }

    private Behavior<Command> onCheckpoint(Checkpoint c) {
        return requestSnapshot(Purpose.CHECKPOINT, c.replyTo());
    }

    private Behavior<Command> requestSnapshot(Purpose purpose, ActorRef<StatusReply<String>> replyTo) {
        if (state == RunState.TRAINING) {
            boolean queued = handle.offerControl(() -> selfRef.tell(new SnapshotTaken(snapshot(), trainer.samplesSeen(), purpose, replyTo)));
            if (!queued) {
                replyTo.tell(StatusReply.error("the run's queue refused the request; try again"));
            }
        } else if (state == RunState.STOPPED) {
            selfRef.tell(new SnapshotTaken(snapshot(), trained, purpose, replyTo));
        } else {
            replyTo.tell(StatusReply.error("run is " + state));
        }
        return this;
    }

    private Behavior<Command> onSnapshot(SnapshotTaken s) {
        trained = Math.max(trained, s.samples());
        writer.submit(() -> write(s.purpose(), s.samples(), s.state(), s.replyTo()));
        return this;
    }

    /** On the writer thread. */
    private void write(Purpose purpose, long samples, TrainerState state, ActorRef<StatusReply<String>> replyTo) {
        String path = null;
        String err = null;
        try {
            if (purpose != Purpose.EXPORT) {
                path = store.write(samples, state, Map.of("run", config.name(), "config", ConfigLoader.toJson(config))).toString();
            } else {
                SaeModel model = Trainers.initialModel(config.sae(), config.trainer(), config.inputDim(), config.seed());
                model.loadFrom(state);
                Path exportDir = dir.resolve("export");
                SaeModelFiles.exportSaeLens(exportDir, model, Map.of("run", config.name(), "samples", samples,
                        "algorithm", trainer.algorithm()));
                path = exportDir.toString();
            }
        } catch (IOException | RuntimeException e) {
            err = e.toString();
        }
        selfRef.tell(new Written(purpose, samples, path, err, replyTo));
    }

    private Behavior<Command> onWritten(Written w) {
        if (w.purpose() != Purpose.EXPORT) {
            if (w.purpose() == Purpose.CHECKPOINT && w.replyTo() == null) {
                writing = false;
            }
            if (w.error() == null) {
                lastCheckpoint = Path.of(w.path()).getFileName().toString();
                lastCheckpointSamples = Math.max(lastCheckpointSamples, w.samples());
                checkpointSeconds.set(System.currentTimeMillis() / 1000);
            } else {
                // the previous checkpoint is intact (atomic write) and training goes on; the failure is visible
                checkpointFailures++;
                checkpointError = w.error();
                getContext().getLog().error("run {}: checkpoint failed: {}", config.name(), w.error());
            }
        }
        if (w.replyTo() != null) {
            w.replyTo().tell(w.error() == null ? StatusReply.success(w.path()) : StatusReply.error(w.error()));
        }
        if (w.purpose() == Purpose.FINAL) {
            state = w.error() == null ? RunState.STOPPED : RunState.FAILED;
            if (w.error() != null) {
                error = "final checkpoint failed: " + w.error();
            }
            publish();
            stopping.forEach(r -> r.tell(StatusReply.success(handle.status())));
            stopping.clear();
        }
        publish();
        return this;
    }

    private void publish() {
        var m = last == null ? null : last.metrics();
        handle.status(new RunStatus(config.name(), state.name(), trainer.algorithm(), config.inputDim(), config.sae().latents(),
                config.sae().sparsifier(), config.sae().k(), trained,
                m == null ? Double.NaN : m.loss(), m == null ? Double.NaN : m.fvu(), m == null ? Double.NaN : m.l0(),
                m == null ? 0 : m.deadLatents(), m == null ? 0 : m.vectorsPerSecond(), handle.ingestedRows(),
                (long) ingestMeters.rejectedTotal(), (long) ingestMeters.busyTotal(), handle.budget().reserved(),
                lastCheckpointSamples, lastCheckpoint, resumedFrom, error, checkpointFailures, checkpointError,
                config.health().holdout(), holdOut == null ? 0 : holdOut.heldOut(), health));
    }

    private Behavior<Command> onPostStop() {
        handle.stopAccepting();
        writer.shutdown();
        trainer.close();
        Meters.removeRun(meters.registry(), config.name());
        return this;
    }
}
