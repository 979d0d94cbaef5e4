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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code proxstream serve}: the long-running online trainer. */
final class ServeCommand {
    private static final Map<String, String> KEYS = new LinkedHashMap<>();

    static {
        KEYS.put("host", "host");
        KEYS.put("port", "port");
        KEYS.put("tcp-port", "tcpPort");
        KEYS.put("runs-dir", "runsDir");
        KEYS.put("watch", "watchDir");
        KEYS.put("max-batch-bytes", "maxBatchBytes");
        KEYS.put("ingest-wait-ms", "ingestWaitMillis");
        KEYS.put("history", "historyPoints");
    }

    private ServeCommand() {
    }

    static Flags flags() {
        Flags f = new Flags("serve");
        f.value("config", "FILE", "JSON ServeConfig; flags override it");
        f.value("host", "H", "interface of the HTTP and TCP servers (default 127.0.0.1)");
        f.value("port", "P", "HTTP port: API, dashboard, /metrics; 0 = any free port, printed (default 8080)");
        f.value("tcp-port", "P", "TCP ingest port; 0 = any, -1 = off (default 9090)");
        f.value("runs-dir", "DIR", "where runs live; runs found there resume at start (default runs/serve)");
        f.value("watch", "DIR", "feed shards dropped into DIR/RUN/*.npy|*.safetensors (default: off)");
        f.value("max-batch-bytes", "N", "largest accepted batch body or frame (default 67108864)");
        f.value("ingest-wait-ms", "MS", "how long an HTTP push waits for room before 503 (default 2000)");
        f.value("history", "N", "report windows kept per run for the dashboard (default 2000)");
        f.value("create", "NAME:DIM", "create run NAME of width DIM with the train defaults, unless it exists (repeatable)");
        f.value("run-config", "FILE", "create the run described by a JSON RunConfig, unless it exists (repeatable)");
        f.value("set", "KEY=VALUE", "set any ServeConfig key (repeatable)");
        return f;
    }

    static final String DESCRIPTION = """
            Trains SAEs continuously on activations pushed to it: HTTP (POST /runs/NAME/batches with raw
            float32 + X-Shape, .npy or .safetensors bodies), TCP (length-prefixed frames, see README), or
            shard files dropped into a watched directory. Each run checkpoints atomically every N samples
            and on shutdown and resumes from its newest intact checkpoint when the server restarts.
            Dashboard at /, API at /runs, Prometheus at /metrics. SIGTERM or Ctrl-C stops gracefully.""";

    static int run(List<String> args, PrintStream out) throws Exception {
        Flags flags = flags();
        Flags.Parsed p = flags.parse(args);
        if (p.has("help")) {
            out.print(flags.help("proxstream serve [options]", DESCRIPTION));
            return 0;
        }
        Map<String, String> overrides = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : p.flags()) {
            String key = KEYS.get(e.getKey());
            if (key != null) {
                overrides.put(key, e.getValue());
            } else if (e.getKey().equals("set")) {
                int eq = e.getValue().indexOf('=');
                if (eq <= 0) {
                    throw new Flags.UsageException("--set needs KEY=VALUE, got '" + e.getValue() + "'");
                }
                overrides.put(e.getValue().substring(0, eq), e.getValue().substring(eq + 1));
            }
        }
        List<Path> files = new ArrayList<>();
        p.all("config").forEach(c -> files.add(Path.of(c)));
        ServeConfig config = ConfigLoader.load(ServeConfig.class, ServeConfig.defaults(), files, overrides);
        List<RunConfig> toCreate = new ArrayList<>();
        for (String c : p.all("create")) {
            int colon = c.lastIndexOf(':');
            if (colon <= 0) {
                throw new Flags.UsageException("--create needs NAME:DIM, got '" + c + "'");
            }
            try {
                toCreate.add(RunConfig.defaults(c.substring(0, colon), Integer.parseInt(c.substring(colon + 1))));
            } catch (NumberFormatException e) {
                throw new Flags.UsageException("--create needs NAME:DIM with an integer DIM, got '" + c + "'");
            }
        }
        for (String f : p.all("run-config")) {
            String json = Files.readString(Path.of(f));
            var doc = ConfigLoader.mapper().readTree(json);
            if (doc == null || !doc.hasNonNull("name") || !doc.hasNonNull("inputDim")) {
                throw new IllegalArgumentException(f + ": a run config needs at least name and inputDim");
            }
            toCreate.add(ConfigLoader.loadJson(RunConfig.class, RunConfig.defaults(doc.get("name").asText(),
                    doc.get("inputDim").asInt()), json, f));
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

    private static List<String> listExisting(Path runsDir) throws java.io.IOException {
        if (!Files.isDirectory(runsDir)) {
            return List.of();
        }
        try (var s = Files.list(runsDir)) {
            return s.filter(d -> Files.isRegularFile(d.resolve("run.json"))).map(d -> d.getFileName().toString()).toList();
        }
    }
}
