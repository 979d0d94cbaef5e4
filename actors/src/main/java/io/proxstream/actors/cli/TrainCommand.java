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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;

/** {@code proxstream train}: trains one SAE on a stream and writes its run directory. */
public final class TrainCommand {
    /** Flags that map one-to-one onto config keys. */
    static final Map<String, String> KEYS = new LinkedHashMap<>();

    static {
        KEYS.put("run", "run");
        KEYS.put("algo", "trainer.algo");
        KEYS.put("sparsifier", "sae.sparsifier");
        KEYS.put("k", "sae.k");
        KEYS.put("latents", "sae.latents");
        KEYS.put("l1", "sae.l1");
        KEYS.put("init", "sae.init");
        KEYS.put("batch", "batchSize");
        KEYS.put("max-samples", "maxSamples");
        KEYS.put("max-seconds", "maxSeconds");
        KEYS.put("report-every", "reportEvery");
        KEYS.put("dead-window", "deadWindow");
        KEYS.put("eval-rows", "evalRows");
        KEYS.put("seed", "seed");
        KEYS.put("host", "host");
        KEYS.put("port", "port");
        KEYS.put("out", "out");
        KEYS.put("lr", "trainer.lr");
        KEYS.put("weight-decay", "trainer.weightDecay");
        KEYS.put("sgd-repeats", "trainer.sgdRepeats");
        KEYS.put("mu-enc", "trainer.muEnc");
        KEYS.put("nu-enc", "trainer.nuEnc");
        KEYS.put("clip", "trainer.clipNorm");
        KEYS.put("rho", "trainer.rho");
        KEYS.put("mu-dec", "trainer.muDec");
        KEYS.put("order", "trainer.order");
        KEYS.put("solve-every", "trainer.solveEvery");
        KEYS.put("forgetting", "trainer.forgetting");
        KEYS.put("hold-unfired", "trainer.holdUnfired");
        KEYS.put("dim", "source.dim");
        KEYS.put("features", "source.features");
        KEYS.put("noise", "source.noise");
        KEYS.put("epochs", "source.epochs");
        KEYS.put("tensor", "source.tensor");
    }

    private TrainCommand() {
    }

    static Flags flags() {
        Flags f = new Flags("train");
        f.value("config", "FILE", "JSON config (e.g. a run's config.json); flags override it");
        f.value("source", "SRC", "synthetic | mnist[:DIR] | npy:PATH | safetensors:PATH | minilm[:BLOCK] (default synthetic)");
        f.value("set", "KEY=VALUE", "set any config key, e.g. --set trainer.beta2=0.99 (repeatable)");
        String[][] help = {
            {"run", "NAME", "run name, the meters' run tag (default train)"},
            {"algo", "ALGO", "pam (PAM-SGD, default) | adam-tied (faithful baseline) | adam (untied) | adam-strong (unit-norm atoms, AuxK)"},
            {"sparsifier", "S", "topk (default) | topk-abs | relu"},
            {"k", "K", "active latents per vector for TopK (default 8)"},
            {"latents", "M", "number of latents (default 1024)"},
            {"l1", "L", "L1 penalty on codes (ReLU; default 0)"},
            {"init", "I", "unit (default) | paper"},
            {"batch", "B", "minibatch rows (default 256)"},
            {"max-samples", "N", "stop after N training vectors (0 = no limit; default 0)"},
            {"max-seconds", "S", "stop after S seconds (0 = no limit; default 60)"},
            {"report-every", "N", "vectors between reports: CSV row, meters, progress (default: about 20 reports over --max-samples, at most 10000)"},
            {"dead-window", "N", "a latent is dead if silent for N vectors (default 1000000)"},
            {"eval-rows", "N", "held-out rows evaluated at the end (default 8192)"},
            {"seed", "S", "seed of initialisation and synthetic data (default 42)"},
            {"host", "H", "interface of the metrics server (default 127.0.0.1)"},
            {"port", "P", "metrics server port; 0 = any free port, printed; -1 = none (default 0)"},
            {"out", "DIR", "run directory (default runs/train-TIMESTAMP)"},
            {"lr", "LR", "Adam step size (default 1e-3)"},
            {"weight-decay", "W", "L2 weight decay (default 0)"},
            {"sgd-repeats", "S", "PAM: encoder steps per batch (default 1)"},
            {"mu-enc", "MU", "PAM: encoder weight anchor mu_E (default 0)"},
            {"nu-enc", "NU", "PAM: encoder bias anchor nu_E (default 0)"},
            {"clip", "C", "PAM: gradient-norm clip, 0 = off (default 0)"},
            {"rho", "RHO", "PAM: ridge of the decoder solve (default 1e-6)"},
            {"mu-dec", "MU", "PAM: proximal weight of the decoder solve (default 0)"},
            {"order", "O", "PAM: decoder-first (default) | encoder-first"},
            {"solve-every", "N", "PAM: batches between decoder solves (default 16)"},
            {"forgetting", "G", "PAM: forgetting factor of the decoder statistics per batch (default 0.995)"},
            {"hold-unfired", "BOOL", "PAM: latents absent from the statistics keep their atom (default true)"},
            {"dim", "D", "synthetic: input width (default 256)"},
            {"features", "F", "synthetic: planted features (default 512)"},
            {"noise", "S", "synthetic: Gaussian noise std (default 0)"},
            {"epochs", "E", "file/MNIST sources: passes, 0 = repeat until the budget (default 0)"},
            {"tensor", "NAME", "safetensors: tensor to read (default: the file's only tensor)"},
        };
        for (String[] h : help) {
            f.value(h[0], h[1], h[2]);
        }
        return f;
    }

    static final String USAGE = "proxstream train [options]";
    static final String DESCRIPTION = """
            Trains a sparse autoencoder on a stream of vectors as a back-pressured Pekko stream
            (source -> validate -> minibatch -> encoder stage -> decoder-statistics stage -> metrics).
            With no options: a TopK SAE (m=1024, k=8) trained by PAM-SGD for about a minute on the
            synthetic planted-dictionary stream (512 features in 256 dimensions).
            Serves /metrics (Prometheus) and /health while it runs; writes config.json, metrics.csv,
            model.safetensors, loss.png, fvu.png, summary.json and report.md into the run directory.""";

    /** Builds the config from defaults, {@code --config}, flags and {@code --set}. */
    static TrainConfig config(Flags.Parsed p) {
        Map<String, String> overrides = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : p.flags()) {
            String key = KEYS.get(e.getKey());
            if (key != null) {
                overrides.put(key, e.getValue());
            } else if (e.getKey().equals("source")) {
                source(e.getValue(), overrides);
            } else if (e.getKey().equals("set")) {
                int eq = e.getValue().indexOf('=');
                if (eq <= 0) {
                    throw new Flags.UsageException("--set needs KEY=VALUE, got '" + e.getValue() + "'");
                }
                overrides.put(e.getValue().substring(0, eq), e.getValue().substring(eq + 1));
            }
        }
        List<Path> files = new ArrayList<>();
        for (String c : p.all("config")) {
            files.add(Path.of(c));
        }
        return ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), files, overrides);
    }

    private static void source(String v, Map<String, String> overrides) {
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
            default -> throw new Flags.UsageException("unknown source '" + v
                    + "'; use synthetic, mnist[:DIR], npy:PATH, safetensors:PATH or minilm[:BLOCK]");
        }
    }

    static int run(List<String> args, PrintStream out) throws Exception {
        Flags flags = flags();
        Flags.Parsed p = flags.parse(args);
        if (p.has("help")) {
            out.print(flags.help(USAGE, DESCRIPTION));
            return 0;
        }
        if (!p.positionals().isEmpty()) {
            throw new Flags.UsageException("unexpected argument '" + p.positionals().get(0) + "'");
        }
        TrainConfig config = config(p);
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
