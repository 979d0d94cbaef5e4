package io.proxstream.actors.cli;

import io.proxstream.actors.cluster.ClusterNode;
import io.proxstream.actors.cluster.DataParallelPam;
import io.proxstream.actors.cluster.LiveRows;
import io.proxstream.actors.cluster.NodeIngest;
import io.proxstream.monitoring.ClusterMeters;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.MetricsServer;
import io.proxstream.protocol.config.ConfigLoader;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code proxstream node}: one member of a training cluster (see {@link ClusterNode}). */
@Command(name = "node", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        header = "a member of a training cluster (data-parallel PAM-SGD on Pekko Cluster)", sortOptions = false, usageHelpAutoWidth = true,
        description = {"Starts a member of a Pekko cluster that trains a TopK SAE by data-parallel PAM-SGD on the synthetic"
                + " planted-dictionary stream, on shard files (--data DIR) or on the rows pushed to the workers' ingest endpoints"
                + " (--data live, --ingest-port): the coordinator (a cluster singleton on a node with role coordinator) runs"
                + " synchronous rounds; workers run the encoder steps and decoder statistics of their data.",
            "Start the seed node first. The node runs until stopped (Ctrl-C leaves the cluster gracefully); the coordinator"
                + " prints \"training finished\" and writes summary.json. Training options are read by the coordinator only.", ""})
final class NodeCommand implements Callable<Integer> {
    /** The roles a node can have. */
    static final class Roles extends Cli.OneOf {
        Roles() {
            super(List.of("coordinator", "worker"));
        }
    }

    /** The training algorithms of the cluster. */
    static final class Algorithms extends Cli.OneOf {
        Algorithms() {
            super(List.of("pam", "adam"));
        }
    }

    /** The coordinator's decoder steps. */
    static final class DecoderSteps extends Cli.OneOf {
        DecoderSteps() {
            super(io.proxstream.solvers.sae.PamSgdTrainer.Decoder.STEPS);
        }
    }

    /** What workers ship for the decoder step. */
    static final class Shipped extends Cli.OneOf {
        Shipped() {
            super(DataParallelPam.Config.RESULTS);
        }
    }

    private final PrintStream out;

    @Spec
    CommandSpec spec;

    @CommandLine.Mixin
    ClusterOptions cluster = new ClusterOptions();

    @Option(names = "--host", paramLabel = "H", defaultValue = "127.0.0.1", description = "this node's address (default: ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", paramLabel = "P", defaultValue = "2552", description = "this node's Artery TCP port (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/cluster", description = "coordinator: checkpoints and"
            + " summary.json; give coordinator-capable nodes the same shared directory (default: ${DEFAULT-VALUE})")
    Path dir;

    @Option(names = "--metrics-port", paramLabel = "P", description = "serve /metrics and /health on this port (0 = any; default: off)")
    Integer metricsPort;

    @Option(names = "--tls-keystore", paramLabel = "FILE", description = "PKCS12 key store with this node's key: the cluster transport"
            + " runs TLS with mutual authentication (Artery tls-tcp); needed unless --host is loopback or --insecure is given")
    Path tlsKeyStore;

    @Option(names = "--tls-password-file", paramLabel = "FILE", description = "file holding the stores' password (default: the"
            + " environment variable " + io.proxstream.actors.serve.ServeTls.ENV + ")")
    Path tlsPasswordFile;

    @Option(names = "--insecure", description = "let a node on a non-loopback address talk to its peers without TLS (anyone who"
            + " reaches its port can join the cluster)")
    boolean insecure;

    @Option(names = "--ingest-port", paramLabel = "P", description = "accept rows on this port (POST /runs/cluster/batches, the"
            + " bodies of serve; GET /runs/cluster shows this node's ledger); this node's worker trains on them when the run has"
            + " --data live. Off loopback it needs a token (--token-file or " + io.proxstream.actors.serve.ServeAuth.ENV + ") and"
            + " --tls-keystore (HTTPS), unless --insecure")
    Integer ingestPort;

    @Option(names = "--token-file", paramLabel = "FILE", description = "file holding the bearer token the ingest endpoint requires"
            + " (default: the environment variable " + io.proxstream.actors.serve.ServeAuth.ENV + ", if set)")
    Path tokenFile;

    /** The cluster designs. */
    static final class Designs extends Cli.OneOf {
        Designs() {
            super(List.of("star", "sharded"));
        }
    }

    @Option(names = "--design", paramLabel = "D", defaultValue = "star", completionCandidates = Designs.class, converter = Designs.class,
            description = "star: the coordinator holds the model and solves the decoder step (synthetic, files or live rows);"
                    + " sharded: the workers hold the model and the decoder's column ranges with replicas, the encoders are summed"
                    + " in a ring and no node sends an m x m or whole-model message per round (PAM-SGD with --decoder cg; synthetic,"
                    + " files or live rows). Give every node the same design (default: ${DEFAULT-VALUE})")
    String design;

    @Cli.ConfigKey("dim")
    @Option(names = "--dim", paramLabel = "D", description = "coordinator: input width of the synthetic stream (default: ${DEFAULT-VALUE})")
    Integer dim;

    @Cli.ConfigKey("features")
    @Option(names = "--features", paramLabel = "F", description = "coordinator: planted features (default: ${DEFAULT-VALUE})")
    Integer features;

    @Cli.ConfigKey("latents")
    @Option(names = "--latents", paramLabel = "L", description = "coordinator: SAE latents (default: ${DEFAULT-VALUE})")
    Integer latents;

    @Cli.ConfigKey("k")
    @Option(names = "--k", paramLabel = "K", description = "coordinator: TopK (default: ${DEFAULT-VALUE})")
    Integer k;

    @Cli.ConfigKey("shards")
    @Option(names = "--shards", paramLabel = "S", description = "coordinator: data shards (default: ${DEFAULT-VALUE})")
    Integer shards;

    @Cli.ConfigKey("batch")
    @Option(names = "--batch", paramLabel = "B", description = "coordinator: minibatch rows (default: ${DEFAULT-VALUE})")
    Integer batch;

    @Cli.ConfigKey("batchesPerShard")
    @Option(names = "--batches-per-shard", paramLabel = "N", description = "coordinator: minibatches per shard per round"
            + " (default: ${DEFAULT-VALUE})")
    Integer batchesPerShard;

    @Cli.ConfigKey("totalRows")
    @Option(names = "--rows", paramLabel = "N", description = "coordinator: rows to train on (default: ${DEFAULT-VALUE})")
    Long rows;

    @Cli.ConfigKey("checkpointEvery")
    @Option(names = "--checkpoint-every", paramLabel = "R", description = "coordinator: rounds between checkpoints (default: ${DEFAULT-VALUE})")
    Integer checkpointEvery;

    @Cli.ConfigKey("roundTimeoutMs")
    @Option(names = "--round-timeout", paramLabel = "MS", description = "coordinator: a round completes without workers slower than"
            + " this (default: ${DEFAULT-VALUE})")
    Long roundTimeout;

    @Cli.ConfigKey("minWorkers")
    @Option(names = "--min-workers", paramLabel = "N", description = "coordinator: workers the first round waits for (default: ${DEFAULT-VALUE})")
    Integer minWorkers;

    @Cli.ConfigKey("algorithm")
    @Option(names = "--algo", paramLabel = "A", completionCandidates = Algorithms.class, converter = Algorithms.class,
            description = "coordinator: pam (PAM-SGD) or adam (the untied Adam baseline, parameters averaged; default: ${DEFAULT-VALUE})")
    String algo;

    @Cli.ConfigKey("decoder")
    @Option(names = "--decoder", paramLabel = "STEP", completionCandidates = DecoderSteps.class, converter = DecoderSteps.class,
            description = "coordinator: decoder step: exact (m x m statistics), cg (iterative, no m x m matrix) or auto (exact up to"
                    + " 8192 latents; default: ${DEFAULT-VALUE})")
    String decoder;

    @Cli.ConfigKey("results")
    @Option(names = "--ship", paramLabel = "WHAT", completionCandidates = Shipped.class, converter = Shipped.class,
            description = "coordinator: what workers send for the decoder step: statistics (m x m, exact step only), codes (rows and"
                    + " sparse codes) or auto (the smaller; default: ${DEFAULT-VALUE})")
    String ship;

    @Cli.ConfigKey("solveEvery")
    @Option(names = "--solve-every", paramLabel = "R", description = "coordinator: rounds between decoder solves (default: ${DEFAULT-VALUE})")
    Integer solveEvery;

    @Cli.ConfigKey("data")
    @Option(names = "--data", paramLabel = "PATH", description = "coordinator: train on the .npy/.safetensors files of this directory"
            + " (or this one file), one shard each, on a path every worker can read; live: the rows pushed to the workers' --ingest-port;"
            + " empty: the synthetic planted-dictionary stream (default: synthetic)")
    String data;

    @Cli.ConfigKey("seed")
    @Option(names = "--random-seed", paramLabel = "S", description = "coordinator: seed of data and initialisation (default: ${DEFAULT-VALUE})")
    Long randomSeed;

    NodeCommand(PrintStream out) {
        this.out = out;
    }

    static CommandLine.IDefaultValueProvider defaults() {
        return new Cli.RecordDefaults(DataParallelPam.Config.defaults());
    }

    @Override
    public Integer call() throws Exception {
        List<String> roles = cluster.roles(List.of("worker"));
        List<String> seedNodes = cluster.seedNodes(spec.commandLine(), host + ":" + port);
        DataParallelPam.Config training = ConfigLoader.load(DataParallelPam.Config.class, DataParallelPam.Config.defaults(), List.of(),
                Cli.overrides(spec, List.of()));
        boolean sharded = design.equals("sharded");
        if (sharded) {
            if (!training.algorithm().equals("pam")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--design sharded trains PAM-SGD (--algo pam), got " + training.algorithm());
            }
            if (training.decoder().equals("auto")) {
                training = training.withDecoder("cg", training.results(), training.solveEvery());
            } else if (!training.decoder().equals("cg")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--design sharded runs the cg decoder step (--decoder cg), got "
                        + training.decoder());
            }
        }
        ClusterNode.Tls tls = tls();
        Files.createDirectories(dir);
        Meters meters = new Meters();
        ClusterMeters cm = new ClusterMeters(meters.registry(), host + ":" + port);
        LiveRows live = null;
        io.proxstream.actors.serve.ServeAuth auth = null;
        javax.net.ssl.SSLContext https = null;
        if (ingestPort != null) {
            if (!roles.contains("worker")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--ingest-port needs role worker: the rows a node"
                        + " receives are trained by its own worker");
            }
            long queueBytes = cluster.queueBytes(spec.commandLine());
            io.proxstream.protocol.config.ServeConfig sc = new io.proxstream.protocol.config.ServeConfig(host, ingestPort, 0, dir.toString(),
                    "", 64L << 20, 2000, 2000, tokenFile == null ? "" : tokenFile.toString(), insecure,
                    tlsKeyStore == null ? "" : tlsKeyStore.toString(), tlsPasswordFile == null ? "" : tlsPasswordFile.toString());
            try {
                auth = io.proxstream.actors.serve.ServeAuth.resolve(sc, System.getenv(), meters.registry());
                https = io.proxstream.actors.serve.ServeTls.resolve(sc, System.getenv());
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage().replace("serve binds", "node ingest binds"));
            }
            live = new LiveRows(training.dim(), new io.proxstream.actors.serve.ByteBudget(queueBytes,
                    io.proxstream.actors.serve.Scheduler.SHARED));
        }
        ActorSystem<Void> system = ClusterNode.start(ClusterNode.config(host, port, seedNodes, roles,
                Duration.ofMillis(cluster.downAfter), tls), roles, training, dir, cm, live, sharded);
        if (metricsPort != null) {
            var binding = MetricsServer.bind(system, host, metricsPort,
                    new MetricsServer(meters, Map::of).routes()).toCompletableFuture().get(30, TimeUnit.SECONDS);
            out.println("proxstream node: metrics http://" + host + ":" + binding.localAddress().getPort() + "/metrics");
        }
        if (live != null) {
            LiveRows rows = live;
            NodeIngest ingest = new NodeIngest(live, auth, org.apache.pekko.stream.Materializer.createMaterializer(system), 64L << 20,
                    2000, cluster.ackTimeout, 1e5, meters.registry());
            var server = org.apache.pekko.http.javadsl.Http.get(system).newServerAt(host, ingestPort).adaptSettings(ingest::outlastAcks);
            if (https != null) {
                server = server.enableHttps(org.apache.pekko.http.javadsl.ConnectionContext.httpsServer(https));
            }
            var binding = server.bind(ingest.routes()).toCompletableFuture().get(30, TimeUnit.SECONDS);
            system.getWhenTerminated().thenRun(rows::close);
            out.println("proxstream node: ingest " + (https != null ? "https" : "http") + "://" + host + ":"
                    + binding.localAddress().getPort() + "/runs/" + NodeIngest.RUN + "/batches" + (auth.required() ? " (bearer token)" : ""));
        }
        out.println("proxstream node: " + String.join(",", roles) + " at " + host + ":" + port + ", " + design + " design, seeds " + seedNodes
                + (tls != null ? ", TLS (mutual)" : ", no TLS"));
        out.flush();
        system.getWhenTerminated().toCompletableFuture().get();
        return 0;
    }

    /** The TLS settings from the options, checked; null without a key store (refused off loopback unless --insecure). */
    private ClusterNode.Tls tls() {
        if (tlsKeyStore == null) {
            if (cluster.tlsTrustStore != null || tlsPasswordFile != null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--tls-truststore and --tls-password-file need --tls-keystore");
            }
            if (!insecure && !ClusterNode.loopback(host)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "node binds " + host + ", which other machines can reach,"
                        + " without TLS: give --tls-keystore (and the password in --tls-password-file or " + io.proxstream.actors.serve.ServeTls.ENV
                        + "), or pass --insecure to let anyone who reaches the port join the cluster");
            }
            return null;
        }
        try {
            return ClusterNode.Tls.open(tlsKeyStore, cluster.tlsTrustStore, tlsPasswordFile == null ? null : tlsPasswordFile.toString(),
                    System.getenv());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
