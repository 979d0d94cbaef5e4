package io.proxstream.actors.cli;

import io.proxstream.actors.train.RunSummary;
import io.proxstream.actors.train.TrainingRun;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.MetricsServer;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.TrainConfig;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;

/** {@code proxstream train}: trains one SAE on a stream and writes its run directory. */
@Command(name = "train", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        header = "train a sparse autoencoder on a stream (the main job)", sortOptions = false, usageHelpAutoWidth = true,
        description = {
            "Trains a sparse autoencoder on a stream of vectors as a back-pressured Pekko stream"
                + " (source -> validate -> minibatch -> encoder stage -> decoder-statistics stage -> metrics).",
            "With no options: a TopK SAE (m=1024, k=8) trained by PAM-SGD for about a minute on the synthetic"
                + " planted-dictionary stream (512 features in 256 dimensions).",
            "Serves /metrics (Prometheus) and /health while it runs; writes config.json, metrics.csv, model.safetensors,"
                + " loss.png, fvu.png, summary.json and report.md into the run directory.",
            "Defaults come from the run configuration (TrainConfig); --config FILE and --set KEY=VALUE set any key.",
            ""})
final class TrainCommand implements Callable<Integer> {
    private final PrintStream out;

    @Spec
    CommandSpec spec;

    @Mixin
    Cli.ConfigOptions configOptions = new Cli.ConfigOptions();

    @Cli.ConfigKey(value = "source.kind", direct = false)
    @Option(names = "--source", paramLabel = "SRC",
            description = "synthetic | mnist[:DIR] | npy:PATH | safetensors:PATH | minilm[:BLOCK] (default: ${DEFAULT-VALUE})")
    String source;

    @Cli.ConfigKey("run")
    @Option(names = "--run", paramLabel = "NAME", description = "run name, the meters' run tag (default: ${DEFAULT-VALUE})")
    String run;

    @Cli.ConfigKey("trainer.algo")
    @Option(names = "--algo", paramLabel = "ALGO", completionCandidates = Cli.Algorithms.class, converter = Cli.Algorithms.class,
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}): pam = PAM-SGD; adam-tied = faithful baseline;"
                    + " adam = untied; adam-strong = unit-norm atoms, AuxK; discard = count and drop")
    String algo;

    @Cli.ConfigKey("sae.sparsifier")
    @Option(names = "--sparsifier", paramLabel = "S", completionCandidates = Cli.Sparsifiers.class, converter = Cli.Sparsifiers.class,
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    String sparsifier;

    @Cli.ConfigKey("sae.k")
    @Option(names = "--k", paramLabel = "K", description = "active latents per vector for TopK (default: ${DEFAULT-VALUE})")
    Integer k;

    @Cli.ConfigKey("sae.latents")
    @Option(names = "--latents", paramLabel = "M", description = "number of latents (default: ${DEFAULT-VALUE})")
    Integer latents;

    @Cli.ConfigKey("sae.l1")
    @Option(names = "--l1", paramLabel = "L", description = "L1 penalty on codes (ReLU; default: ${DEFAULT-VALUE})")
    Double l1;

    @Cli.ConfigKey("sae.init")
    @Option(names = "--init", paramLabel = "I", completionCandidates = Cli.Inits.class, converter = Cli.Inits.class,
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    String init;

    @Cli.ConfigKey("batchSize")
    @Option(names = "--batch", paramLabel = "B", description = "minibatch rows (default: ${DEFAULT-VALUE})")
    Integer batch;

    @Cli.ConfigKey("maxSamples")
    @Option(names = "--max-samples", paramLabel = "N", description = "stop after N training vectors (0 = no limit; default: ${DEFAULT-VALUE})")
    Long maxSamples;

    @Cli.ConfigKey("maxSeconds")
    @Option(names = "--max-seconds", paramLabel = "S", description = "stop after S seconds (0 = no limit; default: ${DEFAULT-VALUE})")
    Double maxSeconds;

    @Cli.ConfigKey("reportEvery")
    @Option(names = "--report-every", paramLabel = "N", description = "vectors between reports: CSV row, meters, progress"
            + " (default: ${DEFAULT-VALUE} = about 20 reports over --max-samples, at most 10000)")
    Long reportEvery;

    @Cli.ConfigKey("deadWindow")
    @Option(names = "--dead-window", paramLabel = "N", description = "a latent is dead if silent for N vectors (default: ${DEFAULT-VALUE})")
    Long deadWindow;

    @Cli.ConfigKey("evalRows")
    @Option(names = "--eval-rows", paramLabel = "N", description = "held-out rows evaluated at the end (default: ${DEFAULT-VALUE})")
    Integer evalRows;

    @Cli.ConfigKey("maxAbs")
    @Option(names = "--max-abs", paramLabel = "V", description = "validation drops a row holding a value beyond V in magnitude,"
            + " counted as too_large_value (default: ${DEFAULT-VALUE})")
    Double maxAbs;

    @Cli.ConfigKey("seed")
    @Option(names = "--seed", paramLabel = "S", description = "seed of initialisation and synthetic data (default: ${DEFAULT-VALUE})")
    Long seed;

    @Cli.ConfigKey("host")
    @Option(names = "--host", paramLabel = "H", description = "interface of the metrics server (default: ${DEFAULT-VALUE})")
    String host;

    @Cli.ConfigKey("port")
    @Option(names = "--port", paramLabel = "P", description = "metrics server port; 0 = any free port, printed; -1 = none"
            + " (default: ${DEFAULT-VALUE})")
    Integer port;

    @Cli.ConfigKey("out")
    @Option(names = "--out", paramLabel = "DIR", description = "run directory (default: runs/train-TIMESTAMP)")
    String outDir;

    @Cli.ConfigKey("trainer.lr")
    @Option(names = "--lr", paramLabel = "LR", description = "Adam step size (default: ${DEFAULT-VALUE})")
    Double lr;

    @Cli.ConfigKey("trainer.weightDecay")
    @Option(names = "--weight-decay", paramLabel = "W", description = "L2 weight decay (default: ${DEFAULT-VALUE})")
    Double weightDecay;

    @Cli.ConfigKey("trainer.sgdRepeats")
    @Option(names = "--sgd-repeats", paramLabel = "S", description = "PAM: encoder steps per batch (default: ${DEFAULT-VALUE})")
    Integer sgdRepeats;

    @Cli.ConfigKey("trainer.muEnc")
    @Option(names = "--mu-enc", paramLabel = "MU", description = "PAM: encoder weight anchor mu_E (default: ${DEFAULT-VALUE})")
    Double muEnc;

    @Cli.ConfigKey("trainer.nuEnc")
    @Option(names = "--nu-enc", paramLabel = "NU", description = "PAM: encoder bias anchor nu_E (default: ${DEFAULT-VALUE})")
    Double nuEnc;

    @Cli.ConfigKey("trainer.clipNorm")
    @Option(names = "--clip", paramLabel = "C", description = "PAM: gradient-norm clip, 0 = off (default: ${DEFAULT-VALUE})")
    Double clip;

    @Cli.ConfigKey("trainer.rho")
    @Option(names = "--rho", paramLabel = "RHO", description = "PAM: ridge of the decoder solve (default: ${DEFAULT-VALUE})")
    Double rho;

    @Cli.ConfigKey("trainer.muDec")
    @Option(names = "--mu-dec", paramLabel = "MU", description = "PAM: proximal weight of the decoder solve (default: ${DEFAULT-VALUE})")
    Double muDec;

    @Cli.ConfigKey("trainer.order")
    @Option(names = "--order", paramLabel = "O", completionCandidates = Cli.Orders.class, converter = Cli.Orders.class,
            description = "PAM: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    String order;

    @Cli.ConfigKey("trainer.solveEvery")
    @Option(names = "--solve-every", paramLabel = "N", description = "PAM: batches between decoder solves (default: ${DEFAULT-VALUE})")
    Integer solveEvery;

    @Cli.ConfigKey("trainer.forgetting")
    @Option(names = "--forgetting", paramLabel = "G", description = "PAM: forgetting factor of the decoder statistics per batch"
            + " (default: ${DEFAULT-VALUE})")
    Double forgetting;

    @Cli.ConfigKey("trainer.holdUnfired")
    @Option(names = "--hold-unfired", paramLabel = "BOOL", arity = "1", description = "PAM: latents absent from the statistics keep"
            + " their atom (default: ${DEFAULT-VALUE})")
    Boolean holdUnfired;

    @Cli.ConfigKey("source.dim")
    @Option(names = "--dim", paramLabel = "D", description = "synthetic: input width (default: ${DEFAULT-VALUE})")
    Integer dim;

    @Cli.ConfigKey("source.features")
    @Option(names = "--features", paramLabel = "F", description = "synthetic: planted features (default: ${DEFAULT-VALUE})")
    Integer features;

    @Cli.ConfigKey("source.noise")
    @Option(names = "--noise", paramLabel = "S", description = "synthetic: Gaussian noise std (default: ${DEFAULT-VALUE})")
    Double noise;

    @Cli.ConfigKey("source.epochs")
    @Option(names = "--epochs", paramLabel = "E", description = "file/MNIST sources: passes, 0 = repeat until the budget"
            + " (default: ${DEFAULT-VALUE})")
    Integer epochs;

    @Cli.ConfigKey("source.tensor")
    @Option(names = "--tensor", paramLabel = "NAME", description = "safetensors: tensor to read (default: the file's only tensor)")
    String tensor;

    TrainCommand(PrintStream out) {
        this.out = out;
    }

    /** The defaults shown in the help and used when an option is absent: the run configuration's own. */
    static CommandLine.IDefaultValueProvider defaults() {
        return new Cli.RecordDefaults(TrainConfig.defaults());
    }

    /** Builds the config from defaults, {@code --config}, {@code --source}, the options given and {@code --set}. */
    TrainConfig config() {
        Map<String, String> overrides = new LinkedHashMap<>();
        if (spec.commandLine().getParseResult().hasMatchedOption("--source")) {
            source(source, overrides);
        }
        overrides.putAll(Cli.overrides(spec, configOptions.sets));
        return ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), configOptions.files, overrides);
    }

    private void source(String v, Map<String, String> overrides) {
        int colon = v.indexOf(':');
        String kind = colon < 0 ? v : v.substring(0, colon);
        String path = colon < 0 ? "" : v.substring(colon + 1);
        switch (kind) {
            case "synthetic", "mnist", "npy", "safetensors" -> {
                overrides.put("source.kind", kind);
                overrides.put("source.path", path);
            }
            case "minilm" -> {
                overrides.put("source.kind", kind);
                if (!path.isEmpty()) {
                    overrides.put("source.block", path);
                }
            }
            default -> throw new CommandLine.ParameterException(spec.commandLine(), "Invalid value for option '--source': unknown source '" + v
                    + "'; use synthetic, mnist[:DIR], npy:PATH, safetensors:PATH or minilm[:BLOCK]");
        }
    }

    @Override
    public Integer call() throws Exception {
        TrainConfig config = config();
        Path dir = Path.of(config.out().isBlank()
                ? "runs/train-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT))
                : config.out());
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "proxstream");
        try {
            Meters meters = new Meters();
            ServerBinding binding = null;
            TrainingRun[] current = new TrainingRun[1];
            if (config.port() >= 0) {
                MetricsServer server = new MetricsServer(meters, () -> Map.of("run", config.run(),
                        "state", current[0] == null ? "starting" : current[0].result().toCompletableFuture().isDone() ? "done" : "training"));
                binding = MetricsServer.bind(system, config.host(), config.port(), server.routes())
                        .toCompletableFuture().get(30, TimeUnit.SECONDS);
                out.printf("metrics: http://%s:%d/metrics  health: http://%s:%d/health%n", config.host(),
                        binding.localAddress().getPort(), config.host(), binding.localAddress().getPort());
            }
            out.println("run directory: " + dir.toAbsolutePath());
            TrainingRun run = TrainingRun.start(system, config, meters, dir, out);
            current[0] = run;
            // SIGTERM/SIGINT run Pekko's CoordinatedShutdown (its JVM hook): stop the stream and wait for the outputs
            CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "proxstream-train-stop", () -> {
                run.stop();
                return run.result().handle((r, e) -> Done.getInstance());
            });
            RunSummary s = run.result().toCompletableFuture().get();
            out.printf(Locale.ROOT, "done: %,d vectors in %.1f s (%.0f vectors/s); training FVU %.4f, L0 %.2f, dead %d%n",
                    s.samples(), s.seconds(), s.vectorsPerSecond(), s.trainFvu(), s.trainL0(), s.deadLatents());
            if (!Double.isNaN(s.evalFvu())) {
                out.printf(Locale.ROOT, "held-out: MSE %.4e, FVU %.4f, L0 %.2f%n", s.evalMse(), s.evalFvu(), s.evalL0());
            }
            if (!Double.isNaN(s.mmcs())) {
                out.printf(Locale.ROOT, "feature recovery: MMCS %.4f%n", s.mmcs());
            }
            out.println("report: " + dir.resolve("report.md").toAbsolutePath());
            if (binding != null) {
                binding.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
            }
            return 0;
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
