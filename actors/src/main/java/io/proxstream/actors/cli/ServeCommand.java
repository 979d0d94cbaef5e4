package io.proxstream.actors.cli;

import io.proxstream.actors.serve.RunStatus;
import io.proxstream.actors.serve.ServeServer;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.RunConfig;
import io.proxstream.protocol.config.ServeConfig;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code proxstream serve}: the long-running online trainer. */
@Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        header = "the online trainer: HTTP/TCP/directory ingest, checkpoints, dashboard, export", sortOptions = false, usageHelpAutoWidth = true,
        description = {"Trains SAEs continuously on activations pushed to it: HTTP (POST /runs/NAME/batches with raw float32 +"
                + " X-Shape, .npy or .safetensors bodies), TCP (length-prefixed frames, see README), or shard files dropped into a"
                + " watched directory. Each run checkpoints atomically every N samples and on shutdown and resumes from its newest"
                + " intact checkpoint when the server restarts.",
            "Dashboard at /, API at /runs, Prometheus at /metrics. SIGTERM or Ctrl-C stops gracefully.",
            "Defaults come from the service configuration (ServeConfig); --config FILE and --set KEY=VALUE set any key.", ""})
final class ServeCommand implements Callable<Integer> {
    private final PrintStream out;

    @Spec
    CommandSpec spec;

    @Mixin
    Cli.ConfigOptions configOptions = new Cli.ConfigOptions();

    @Cli.ConfigKey("host")
    @Option(names = "--host", paramLabel = "H", description = "interface of the HTTP and TCP servers (default: ${DEFAULT-VALUE})")
    String host;

    @Cli.ConfigKey("port")
    @Option(names = "--port", paramLabel = "P", description = "HTTP port: API, dashboard, /metrics; 0 = any free port, printed"
            + " (default: ${DEFAULT-VALUE})")
    Integer port;

    @Cli.ConfigKey("tcpPort")
    @Option(names = "--tcp-port", paramLabel = "P", description = "TCP ingest port; 0 = any, -1 = off (default: ${DEFAULT-VALUE})")
    Integer tcpPort;

    @Cli.ConfigKey("runsDir")
    @Option(names = "--runs-dir", paramLabel = "DIR", description = "where runs live; runs found there resume at start"
            + " (default: ${DEFAULT-VALUE})")
    String runsDir;

    @Cli.ConfigKey("watchDir")
    @Option(names = "--watch", paramLabel = "DIR", description = "feed shards dropped into DIR/RUN/*.npy|*.safetensors (default: off)")
    String watch;

    @Cli.ConfigKey("maxBatchBytes")
    @Option(names = "--max-batch-bytes", paramLabel = "N", description = "largest accepted batch body or frame (default: ${DEFAULT-VALUE})")
    Long maxBatchBytes;

    @Cli.ConfigKey("ingestWaitMillis")
    @Option(names = "--ingest-wait-ms", paramLabel = "MS", description = "how long an HTTP push waits for room before 503"
            + " (default: ${DEFAULT-VALUE})")
    Long ingestWaitMillis;

    @Cli.ConfigKey("historyPoints")
    @Option(names = "--history", paramLabel = "N", description = "report windows kept per run for the dashboard (default: ${DEFAULT-VALUE})")
    Integer history;

    @Cli.ConfigKey("tokenFile")
    @Option(names = "--token-file", paramLabel = "FILE", description = "file holding the bearer token (at least 16 characters) that"
            + " the API, /metrics and TCP ingest then require; default: the environment variable PROXSTREAM_TOKEN, else none."
            + " A --host other than loopback needs a token or --insecure")
    String tokenFile;

    @Cli.ConfigKey("tlsKeystore")
    @Option(names = "--tls-keystore", paramLabel = "FILE", description = "PKCS12 key store with the server's key and certificate:"
            + " HTTPS and TCP ingest over TLS. A --host other than loopback needs it or --insecure")
    String tlsKeystore;

    @Cli.ConfigKey("tlsPasswordFile")
    @Option(names = "--tls-password-file", paramLabel = "FILE", description = "file holding the key store's password (default: the"
            + " environment variable PROXSTREAM_TLS_PASSWORD)")
    String tlsPasswordFile;

    @Option(names = "--insecure", description = "allow a non-loopback --host without a token or without TLS: anyone who reaches the"
            + " ports can push data and create, stop and export runs, or read the token in transit (config key insecure)")
    boolean insecure;

    @Option(names = "--create", paramLabel = "NAME:DIM", description = "create run NAME of width DIM with the run defaults, unless it"
            + " exists (repeatable)")
    List<String> create = new ArrayList<>();

    @Option(names = "--run-config", paramLabel = "FILE", description = "create the run described by a JSON RunConfig, unless it exists"
            + " (repeatable)")
    List<Path> runConfigs = new ArrayList<>();

    @Option(names = "--cluster", description = "be a node of a serving cluster: runs are created, listed, stopped and exported"
            + " through any node's /runs, each run's coordinator is a sharded entity on a node with role coordinator (it moves,"
            + " resuming from its checkpoint, when its node is lost), every worker node trains the rows pushed to it. --runs-dir"
            + " must be a directory every node reads and writes (a shared path)")
    boolean cluster;

    @Option(names = "--cluster-port", paramLabel = "P", defaultValue = "2552", description = "cluster: this node's cluster transport"
            + " (Artery) port (default: ${DEFAULT-VALUE})")
    int clusterPort;

    @CommandLine.Mixin
    ClusterOptions clusterOptions = new ClusterOptions();

    ServeCommand(PrintStream out) {
        this.out = out;
    }

    static CommandLine.IDefaultValueProvider defaults() {
        return new Cli.RecordDefaults(ServeConfig.defaults());
    }

    @Override
    public Integer call() throws Exception {
        java.util.Map<String, String> overrides = Cli.overrides(spec, configOptions.sets);
        if (insecure) {
            overrides.put("insecure", "true");
        }
        ServeConfig config = ConfigLoader.load(ServeConfig.class, ServeConfig.defaults(), configOptions.files, overrides);
        if (cluster) {
            return callCluster(config);
        }
        for (String clusterOnly : List.of("--seed", "--role", "--tls-truststore", "--down-after", "--ingest-queue-mb", "--ack-timeout")) {
            if (spec.commandLine().getParseResult().hasMatchedOption(clusterOnly)) {
                throw new CommandLine.ParameterException(spec.commandLine(), clusterOnly + " needs --cluster");
            }
        }
        List<RunConfig> toCreate = new ArrayList<>();
        for (String c : create) {
            int colon = c.lastIndexOf(':');
            if (colon <= 0) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--create needs NAME:DIM, got '" + c + "'");
            }
            try {
                toCreate.add(RunConfig.defaults(c.substring(0, colon), Integer.parseInt(c.substring(colon + 1))));
            } catch (NumberFormatException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--create needs NAME:DIM with an integer DIM, got '" + c + "'");
            }
        }
        for (Path f : runConfigs) {
            String json = Files.readString(f);
            var doc = ConfigLoader.mapper().readTree(json);
            if (doc == null || !doc.hasNonNull("name") || !doc.hasNonNull("inputDim")) {
                throw new IllegalArgumentException(f + ": a run config needs at least name and inputDim");
            }
            toCreate.add(ConfigLoader.loadJson(RunConfig.class, RunConfig.defaults(doc.get("name").asText(),
                    doc.get("inputDim").asInt()), json, f.toString()));
        }
        ServeServer server = ServeServer.start(config);
        // SIGTERM/SIGINT run Pekko's CoordinatedShutdown (its JVM hook), whose tasks stop the runs (final checkpoints)
        List<String> existing = listExisting(Path.of(config.runsDir()));
        server.awaitRuns(existing, java.time.Duration.ofSeconds(60));
        for (RunConfig rc : toCreate) {
            if (server.runs().containsKey(rc.name())) {
                continue;
            }
            RunStatus s = server.create(rc);
            out.println("created run " + s.name() + " (width " + s.inputDim() + ", " + s.algorithm() + ")");
        }
        out.printf("proxstream serve: dashboard http://%s:%d/  API http://%s:%d/runs  metrics http://%s:%d/metrics%n",
                config.host(), server.httpPort(), config.host(), server.httpPort(), config.host(), server.httpPort());
        out.printf("proxstream serve: TCP ingest %s; runs in %s%s%n",
                server.tcpPort() < 0 ? "off" : config.host() + ":" + server.tcpPort(), Path.of(config.runsDir()).toAbsolutePath(),
                config.watchDir().isBlank() ? "" : "; watching " + Path.of(config.watchDir()).toAbsolutePath());
        for (var h : server.runs().values()) {
            RunStatus s = h.status();
            out.printf("run %s: %s, %d samples%s%n", s.name(), s.state(), s.samples(),
                    s.resumedFrom().isEmpty() ? "" : " (resumed from " + s.resumedFrom() + ")");
        }
        out.flush();
        server.system().getWhenTerminated().toCompletableFuture().get();
        return 0;
    }

    /** {@code serve --cluster}: a node of a serving cluster ({@link io.proxstream.actors.cluster.ClusterService}). */
    private int callCluster(ServeConfig config) throws Exception {
        var parsed = spec.commandLine().getParseResult();
        for (String localOnly : List.of("--create", "--run-config")) {
            if (parsed.hasMatchedOption(localOnly)) {
                throw new CommandLine.ParameterException(spec.commandLine(), localOnly + " is not available with --cluster: runs are"
                        + " created with POST /runs on any node and take rows over HTTP (POST /runs/NAME/batches), TCP (--tcp-port)"
                        + " or a watched directory (--watch)");
            }
        }
        // TCP ingest only when asked for (serve's default port would clash between nodes on one machine)
        boolean tcp = parsed.hasMatchedOption("--tcp-port") && config.tcpPort() >= 0;
        List<String> roles = clusterOptions.roles(List.of("coordinator", "worker"));
        List<String> seedNodes = clusterOptions.seedNodes(spec.commandLine(), config.host() + ":" + clusterPort);
        long queueBytes = roles.contains("worker") ? clusterOptions.queueBytes(spec.commandLine()) : 0;
        Path tlsTrustStore = clusterOptions.tlsTrustStore;
        io.proxstream.monitoring.Meters meters = new io.proxstream.monitoring.Meters();
        io.proxstream.actors.serve.ServeAuth auth;
        javax.net.ssl.SSLContext https;
        io.proxstream.actors.cluster.ClusterNode.Tls tls = null;
        try {
            auth = io.proxstream.actors.serve.ServeAuth.resolve(config, System.getenv(), meters.registry());
            https = io.proxstream.actors.serve.ServeTls.resolve(config, System.getenv());
            if (!config.tlsKeystore().isBlank()) {
                tls = io.proxstream.actors.cluster.ClusterNode.Tls.open(Path.of(config.tlsKeystore()), tlsTrustStore,
                        config.tlsPasswordFile().isBlank() ? null : config.tlsPasswordFile(), System.getenv());
            } else if (tlsTrustStore != null) {
                throw new IllegalArgumentException("--tls-truststore needs --tls-keystore");
            }
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        var options = new io.proxstream.actors.cluster.ClusterService.Options(config.host(), clusterPort, seedNodes, roles,
                java.time.Duration.ofMillis(clusterOptions.downAfter), tls, Path.of(config.runsDir()), queueBytes, clusterOptions.ackTimeout,
                config.maxBatchBytes(), config.ingestWaitMillis(), 1e5);
        var service = io.proxstream.actors.cluster.ClusterService.start(options, meters.registry());
        var system = service.system();
        var mat = org.apache.pekko.stream.Materializer.createMaterializer(system);
        var ingest = new io.proxstream.actors.cluster.NodeIngest(service::queue, auth, mat, config.maxBatchBytes(),
                config.ingestWaitMillis(), clusterOptions.ackTimeout, 1e5, meters.registry());
        var routes = new io.proxstream.actors.cluster.ClusterRoutes(service, ingest, auth,
                new io.proxstream.monitoring.MetricsServer(meters, java.util.Map::of).routes(), mat);
        var server = org.apache.pekko.http.javadsl.Http.get(system).newServerAt(config.host(), config.port()).adaptSettings(ingest::outlastAcks);
        if (https != null) {
            server = server.enableHttps(org.apache.pekko.http.javadsl.ConnectionContext.httpsServer(https));
        }
        var binding = server.bind(routes.routes()).toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        String tcpLine = "";
        if (tcp) {
            var tcpBinding = io.proxstream.actors.serve.TcpIngest.bind(system, config.host(), config.tcpPort(), config.maxBatchBytes(),
                    ingest::target, auth, https).toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
            tcpLine = String.format("  TCP ingest %s:%d%s", config.host(), tcpBinding.localAddress().getPort(), https != null ? " (TLS)" : "");
        }
        String watchLine = "";
        if (!config.watchDir().isBlank()) {
            // this node's own directory: shards dropped into WATCH/RUN/ go to run RUN's queue here, trained by this node's worker
            io.proxstream.actors.serve.ShardWatcher.start(system, Path.of(config.watchDir()), service::liveRuns, ingest::target,
                    java.time.Duration.ofSeconds(1));
            watchLine = "  watching " + Path.of(config.watchDir()).toAbsolutePath();
        }
        String scheme = https != null ? "https" : "http";
        out.printf("proxstream serve --cluster: API %s://%s:%d/runs  metrics %s://%s:%d/metrics%s%s%n", scheme, config.host(),
                binding.localAddress().getPort(), scheme, config.host(), binding.localAddress().getPort(), tcpLine + watchLine,
                auth.required() ? " (bearer token)" : "");
        out.printf("proxstream serve --cluster: %s at %s:%d, seeds %s, %s; runs in %s%n", String.join(",", roles), config.host(),
                clusterPort, seedNodes, tls != null ? "cluster transport TLS (mutual)" : "cluster transport without TLS",
                Path.of(config.runsDir()).toAbsolutePath());
        out.flush();
        system.getWhenTerminated().toCompletableFuture().get();
        return 0;
    }

    private static List<String> listExisting(Path runsDir) throws java.io.IOException {
        if (!Files.isDirectory(runsDir)) {
            return List.of();
        }
        try (var s = Files.list(runsDir)) {
            return s.filter(d -> Files.isRegularFile(d.resolve("run.json"))).map(d -> d.getFileName().toString()).toList();
        }
    }
}
