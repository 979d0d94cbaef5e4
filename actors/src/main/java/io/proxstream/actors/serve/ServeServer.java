package io.proxstream.actors.serve;

import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.MetricsServer;
import io.proxstream.protocol.config.RunConfig;
import io.proxstream.protocol.config.ServeConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.stream.javadsl.Tcp;

/**
 * The online training service: an actor system whose guardian is the {@link RunManager}, the HTTP
 * API and dashboard, the TCP ingest endpoint and the shard watcher. {@link #shutdown()} stops every
 * run gracefully (queued data trained, final checkpoints written) before the system terminates.
 */
public final class ServeServer implements AutoCloseable {
    private final ActorSystem<RunManager.Command> system;
    private final ConcurrentMap<String, RunHandle> registry;
    private final ServerBinding http;
    private final Tcp.ServerBinding tcp;
    private final Cancellable watcher;
    private final Meters meters;
    private volatile boolean stopped;

    private ServeServer(ActorSystem<RunManager.Command> system, ConcurrentMap<String, RunHandle> registry, ServerBinding http,
                        Tcp.ServerBinding tcp, Cancellable watcher, Meters meters) {
        this.system = system;
        this.registry = registry;
        this.http = http;
        this.tcp = tcp;
        this.watcher = watcher;
        this.meters = meters;
    }

    /** Starts the service; runs found in {@code runsDir} resume before this returns their handles. */
    public static ServeServer start(ServeConfig config) throws Exception {
        return start(config, System.getenv());
    }

    /**
     * Starts the service with {@code env} as its environment (for {@link ServeAuth#ENV}).
     *
     * @throws IllegalArgumentException before anything binds, when the token cannot be read or a non-loopback bind has none
     */
    public static ServeServer start(ServeConfig config, Map<String, String> env) throws Exception {
        Meters meters = new Meters();
        ServeAuth auth = ServeAuth.resolve(config, env, meters.registry());
        javax.net.ssl.SSLContext tls = ServeTls.resolve(config, env);
        ConcurrentMap<String, RunHandle> registry = new ConcurrentHashMap<>();
        ConcurrentMap<String, RunStatus> notRunning = new ConcurrentHashMap<>();
        ActorSystem<RunManager.Command> system = ActorSystem.create(RunManager.create(config, meters, registry, notRunning),
                "proxstream-serve");
        try {
            MetricsServer metrics = new MetricsServer(meters, () -> Map.of("runs", registry.size() + notRunning.size(),
                    "training", registry.values().stream().filter(h -> h.status() != null
                            && h.status().state().equals(RunState.TRAINING.name())).count()));
            ServeRoutes routes = new ServeRoutes(system, config, registry, notRunning, system, metrics, auth);
            ServerBinding http = (tls == null ? MetricsServer.bind(system, config.host(), config.port(), routes.routes())
                    : org.apache.pekko.http.javadsl.Http.get(system).newServerAt(config.host(), config.port())
                    .enableHttps(org.apache.pekko.http.javadsl.ConnectionContext.httpsServer(tls)).bind(routes.routes()))
                    .toCompletableFuture().get(30, TimeUnit.SECONDS);
            Tcp.ServerBinding tcp = config.tcpPort() < 0 ? null
                    : TcpIngest.bind(system, config.host(), config.tcpPort(), config.maxBatchBytes(), registry, auth, tls)
                    .toCompletableFuture().get(30, TimeUnit.SECONDS);
            Cancellable watcher = config.watchDir().isBlank() ? null
                    : ShardWatcher.start(system, Path.of(config.watchDir()), registry, Duration.ofSeconds(1));
            ServeServer server = new ServeServer(system, registry, http, tcp, watcher, meters);
            server.registerShutdown();
            return server;
        } catch (Exception e) {
            system.terminate();
            throw e;
        }
    }

    public int httpPort() {
        return http.localAddress().getPort();
    }

    /** The TCP ingest port, or -1 when off. */
    public int tcpPort() {
        return tcp == null ? -1 : tcp.localAddress().getPort();
    }

    public ConcurrentMap<String, RunHandle> runs() {
        return registry;
    }

    public Meters meters() {
        return meters;
    }

    public ActorSystem<RunManager.Command> system() {
        return system;
    }

    /** Creates a run (as {@code POST /runs} does). */
    public RunStatus create(RunConfig config) throws Exception {
        StatusReply<RunStatus> r = AskPattern.<RunManager.Command, StatusReply<RunStatus>>ask(system,
                replyTo -> new RunManager.Create(config, replyTo), Duration.ofMinutes(2), system.scheduler())
                .toCompletableFuture().get(2, TimeUnit.MINUTES);
        if (!r.isSuccess()) {
            throw new IllegalArgumentException(r.getError().getMessage());
        }
        return r.getValue();
    }

    /** Waits until the runs found on disk at start have registered (or the timeout passes). */
    public void awaitRuns(List<String> names, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end && !registry.keySet().containsAll(names)) {
            Thread.sleep(20);
        }
    }

    /**
     * The service's shutdown as tasks of Pekko's {@link CoordinatedShutdown}, which runs them on
     * {@link #shutdown()}, on SIGTERM/SIGINT (its JVM hook) and on any other termination of the system:
     * stop the shard watcher and unbind HTTP and TCP (phase {@code service-unbind}), then stop every run
     * so that queued data is trained and the final checkpoints written (phase {@code service-requests-done},
     * whose timeout in reference.conf allows checkpoints of gigabytes).
     */
    private void registerShutdown() {
        CoordinatedShutdown cs = CoordinatedShutdown.get(system);
        cs.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "proxstream-serve-unbind", () -> {
            if (watcher != null) {
                watcher.cancel();
            }
            CompletionStage<Done> h = http.unbind();
            return tcp == null ? h : h.thenCombine(tcp.unbind(), (a, b) -> Done.getInstance());
        });
        cs.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "proxstream-serve-stop-runs", () -> {
            System.err.println("proxstream serve: stopping runs (final checkpoints) ...");
            return AskPattern.<RunManager.Command, Done>ask(system, RunManager.StopAll::new, Duration.ofMinutes(30),
                    system.scheduler());
        });
    }

    /** Stops every run gracefully, unbinds, and terminates the actor system (through {@link CoordinatedShutdown}). */
    public void shutdown() throws Exception {
        if (stopped) {
            return;
        }
        stopped = true;
        CoordinatedShutdown.get(system).runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture().get(40, TimeUnit.MINUTES);
        system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception {
        shutdown();
    }
}
