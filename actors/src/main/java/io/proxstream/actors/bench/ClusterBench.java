package io.proxstream.actors.bench;

import io.proxstream.monitoring.TaskProgress;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.proxstream.actors.cluster.Chunks;
import io.proxstream.actors.cluster.ClusterNode;
import io.proxstream.actors.cluster.DataParallelPam;
import io.proxstream.actors.cluster.Protocol;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.actors.cluster.RingAllReduce;
import io.proxstream.actors.cluster.RingCollective;
import io.proxstream.actors.cluster.ShardWorker;
import io.proxstream.actors.cluster.ShardedDriver;
import io.proxstream.actors.cluster.ShardedPam;
import io.proxstream.solvers.sae.IterativeDecoder;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.TrainerState;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * {@code proxstream bench cluster}: data-parallel PAM-SGD with 1, 2 and 3 worker JVMs (plus a
 * coordinator JVM) on this machine against the same rounds in one process, bytes per round, and a
 * model of the speed-up on N machines at the transformer shape built from times measured here
 * (worker compute per row, the coordinator's merge and decoder solve, payload sizes) and a stated
 * network bandwidth.
 */
public final class ClusterBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final boolean quick;
    private final PrintStream out;

    private boolean modelOnly;
    private double givenTransport;

    public ClusterBench(boolean quick, PrintStream out) {
        this.quick = quick;
        this.out = out;
    }

    /**
     * Only the scaling models (no cluster or namespace runs, which take minutes), with the transport's cost per byte given
     * (as a namespace run measured it) instead of measured.
     */
    public ClusterBench modelOnly(double transportMsPerMb) {
        if (!(transportMsPerMb >= 0 && transportMsPerMb < 1000)) {
            throw new IllegalArgumentException("--model-only " + transportMsPerMb + ": the transport's cost must be in [0, 1000) ms per MB");
        }
        this.modelOnly = true;
        this.givenTransport = transportMsPerMb / 1e9;
        return this;
    }

    /** Only the column-sharded round's run in network namespaces (minutes instead of the whole bench's quarter hour). */
    public ClusterBench shardedNamespacesOnly() {
        this.shardedOnly = true;
        return this;
    }

    private boolean shardedOnly;

    public void run() throws Exception {
        out.println("== proxstream bench cluster ==");
        int cores = Runtime.getRuntime().availableProcessors();
        out.printf(Locale.ROOT, "machine: %d cores; Java %s; %s; Java float kernels: %s (node JVMs"
                + " are started with the same module)%n", cores, System.getProperty("java.version"), BlasInfo.current().describe(),
                io.proxstream.solvers.linalg.Vec.describeKernels());
        if (shardedOnly) {
            shardedNamespaces();
            return;
        }
        if (modelOnly) {
            out.printf(Locale.ROOT, "model only: no cluster or namespace runs; the transport's cost per byte is given: %.1f ms per MB%n",
                    givenTransport * 1e9);
            model(givenTransport);
            return;
        }
        long rows = quick ? 6 * 512 * 20 : 6 * 512 * 120;
        DataParallelPam.Config c = new DataParallelPam.Config(64, 128, 256, 8, 6, 256, 2, rows, 10, 30_000, 1, 42, "pam");
        out.println("setting: " + c.describe() + "; synchronous rounds; all JVMs on 127.0.0.1 share the " + cores + " cores");
        out.println();
        long t0 = System.nanoTime();
        DataParallelPam.reference(c, 1);
        double inProcess = rows / ((System.nanoTime() - t0) / 1e9);
        out.println("| workers | JVMs | rows/s | vs one process | s / round | worker compute s / round | bytes / round | MMCS |");
        out.println("|---|---|---|---|---|---|---|---|");
        out.printf(Locale.ROOT, "| 1 (same rounds in one process, no messages) | 1 | %.0f | 1.00 | | | 0 | |%n", inProcess);
        Path dir = Files.createTempDirectory("proxstream-bench-cluster");
        TaskProgress progress = TaskProgress.start("bench cluster", 3, "clusters");
        for (int workers = 1; workers <= 3; workers++) {
            JsonNode s = clusterRun(dir.resolve("w" + workers), workers, rows);
            progress.step();
            double perRound = (s.get("bytesSent").asDouble() + s.get("bytesReceived").asDouble()) / s.get("rounds").asDouble();
            out.printf(Locale.ROOT, "| %d | %d | %.0f | %.2f | %.3f | %.3f | %.2f MB | %.4f |%n", workers, workers + 1,
                    s.get("rowsPerSecond").asDouble(), s.get("rowsPerSecond").asDouble() / inProcess, s.get("secondsPerRound").asDouble(),
                    s.get("workerComputeSecondsPerRound").asDouble(), perRound / 1e6, s.get("mmcs").asDouble());
        }
        progress.close();
        out.println();
        out.println("On one 2-core machine more worker JVMs only share the same cores: the table measures the protocol's overhead, "
                + "not a speed-up.");
        double perByte = namespaces(dir);
        model(perByte);
        shardedNamespaces();
    }

    /**
     * The column-sharded round ({@link ShardWorker}, with replicas) between three processes in network namespaces, each on
     * its own shaped link, at 10, 1 and 0.2 Gbit/s, at the star's namespace shape; the driver (control messages only) is
     * this JVM on the bridge. The 10 Gbit/s run calibrates the transport's cost per byte beyond the link; the model built
     * from it and each slower run's own compute times predicts that run's round, compared with the measured one.
     */
    private void shardedNamespaces() throws Exception {
        int n = 3;
        int rounds = quick ? 6 : 12;
        int perWorker = 2 * NS_BATCH;
        DataParallelPam.Config c = new DataParallelPam.Config(NS_DIM, 2 * NS_DIM, NS_LATENTS, 32, n, NS_BATCH, 2,
                (long) rounds * n * perWorker, 1_000_000, 300_000, 1, 42, "pam").withDecoder("cg", "codes", 4);
        long ringBytes = 4 * new RingAllReduce(n, 0, new float[NS_LATENTS * NS_DIM + NS_LATENTS], RingCollective.PIECE_FLOATS).floatsSent();
        out.println();
        out.printf(Locale.ROOT, "The column-sharded round (ShardWorker, replicas on) between three processes in network namespaces, each"
                + " on its own veth link to a bridge shaped both ways, the driver (control only) in this JVM on the bridge: PAM-SGD %d -> %d"
                + " (k = 32), %d rows per worker per round, decoder step cg every 4 rounds, %d rounds (the first is a warm-up and not"
                + " counted); plain Artery TCP; the processes share the %d cores, so compute is as measured per round and the network is what"
                + " the links add. Per round: measured = the slowest worker's round; compute = the slowest encoder step + the slowest"
                + " feeding + the slowest solve; bytes = what one worker sends (its parts, its corrections, its ring share of %d bytes).%n%n",
                NS_DIM, NS_LATENTS, perWorker, rounds, Runtime.getRuntime().availableProcessors(), ringBytes);
        List<String> rowsOut = new ArrayList<>();
        double perByte = Double.NaN;
        List<String> checks = new ArrayList<>();
        String note = "";
        // 200 Mbit/s: a link term of the transport's size, so that the check tests the rate term too
        for (long megabits : new long[] {10_000, 1000, 200}) {
            NetNamespaces ns;
            try {
                ns = NetNamespaces.create(n, megabits, 100);
            } catch (java.io.IOException e) {
                out.println("skipped: cannot make network namespaces here (" + e.getMessage() + "); they need root and iproute2");
                return;
            }
            try (ns) {
                note = ns.delayNote();
                double[] m = shardedNamespaceRun(ns, c, rounds, ringBytes);
                double measured = m[0];
                double compute = m[1];
                double bytes = m[2];
                double rate = megabits * 1e6 / 8;
                boolean calibration = Double.isNaN(perByte);
                if (calibration) {
                    perByte = Math.max(0, (measured - compute - bytes / rate) / bytes);
                }
                double modelled = compute + bytes * (1 / rate + perByte);
                double check = modelled / measured - 1;
                if (!calibration) {
                    checks.add(String.format(Locale.ROOT, "%+.0f %% at %.1f Gbit/s", 100 * check, megabits / 1000.0));
                }
                rowsOut.add(String.format(Locale.ROOT, "| %.1f Gbit/s%s | %.3f | %.3f | %.3f | %.1f MB | %.3f + %.3f | %.3f | %s |",
                        megabits / 1000.0, calibration ? " (calibrates the transport)" : "", measured, compute, measured - compute,
                        bytes / 1e6, bytes / rate, bytes * perByte, modelled, calibration ? "(calibration)"
                                : String.format(Locale.ROOT, "%+.0f %%", 100 * check)));
            }
        }
        out.println("| link | s / round measured | compute (slowest encoder + feeding + solve) | communication measured (the rest) | bytes"
                + " a worker sends per round | communication modelled: bytes / rate + transport | round modelled | model vs measured |");
        out.println("|---|---|---|---|---|---|---|---|");
        rowsOut.forEach(out::println);
        out.printf(Locale.ROOT, "%nLinks: %s. The transport's cost beyond the link, %.1f ms per MB (%.0f MB/s per worker: Artery,"
                + " serialisation, chunks and the ring's sums on these shared cores), is what the 10 Gbit/s run's communication has beyond"
                + " its link; the slower links' rows are predicted from it and each run's own compute: %s of the measured round (the"
                + " issue asks for +-20 %%). The cost beyond the link includes the waits of three processes on %d shared cores.%n", note,
                perByte * 1e9, 1e-6 / perByte, checks.isEmpty() ? "n/a" : String.join(", ", checks),
                Runtime.getRuntime().availableProcessors());
    }

    /** One namespace run of the sharded round: {seconds per round, compute seconds per round, bytes a worker sends per round}. */
    private double[] shardedNamespaceRun(NetNamespaces ns, DataParallelPam.Config c, int rounds, long ringBytes) throws Exception {
        int n = 3;
        int perWorker = 2 * NS_BATCH;
        Path logs = Files.createTempDirectory("proxstream-bench-sharded");
        List<Process> ps = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules",
                        "jdk.incubator.vector", "-Xmx2g", "-cp", System.getProperty("java.class.path"),
                        "io.proxstream.actors.cluster.ShardWorkerNode", ns.address(i), "2551");
                ps.add(new ProcessBuilder(ns.on(i, cmd)).redirectErrorStream(true).redirectOutput(logs.resolve("worker" + i + ".log").toFile())
                        .start());
                addresses.add(ns.address(i) + ":2551");
            }
            // the workers listen once their log says so
            long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            for (int i = 0; i < n; i++) {
                Path log = logs.resolve("worker" + i + ".log");
                while (!Files.readString(log).contains("shard worker at")) {
                    if (System.nanoTime() > end || !ps.get(i).isAlive()) {
                        throw new IllegalStateException("shard worker " + i + " did not start; see " + log);
                    }
                    Thread.sleep(100);
                }
            }
            double measured = 0;
            double compute = 0;
            double bytes = 0;
            try (ShardedDriver cluster = new ShardedDriver(addresses, ns.hostAddress(), java.time.Duration.ofMinutes(5))) {
                cluster.configure(c, true);
                for (long r = 0; r < rounds; r++) {
                    List<List<Protocol.Assignment>> slices = new ArrayList<>();
                    for (int w = 0; w < n; w++) {
                        slices.add(List.of(new Protocol.Assignment(w, r * perWorker, perWorker)));
                    }
                    double round = 0;
                    double enc = 0;
                    double feed = 0;
                    double solve = 0;
                    double sent = 0;
                    for (ShardWorker.Reply reply : cluster.round(r, slices, n)) {
                        if (!(reply instanceof ShardWorker.Done d)) {
                            throw new IllegalStateException("sharded round " + r + " failed in the namespaces: " + reply);
                        }
                        round = Math.max(round, d.seconds());
                        enc = Math.max(enc, d.encoderSeconds());
                        feed = Math.max(feed, d.accumulateSeconds());
                        solve = Math.max(solve, d.solveSeconds());
                        sent += (d.bytesSent() + ringBytes) / (double) n;
                    }
                    if (r > 0) {
                        measured += round;
                        compute += enc + feed + solve;
                        bytes += sent;
                    }
                }
            }
            return new double[] {measured / (rounds - 1), compute / (rounds - 1), bytes / (rounds - 1)};
        } finally {
            for (Process p : ps) {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    /** The 3-host case over network namespaces: one coordinator and two workers, each on its own shaped link. */
    static final int NS_DIM = 384;
    static final int NS_LATENTS = 4096;
    static final int NS_BATCH = 1024;

    /**
     * Runs a coordinator and two workers in three network namespaces whose links are shaped (tbf, and netem when the
     * kernel has it) at 1 and 10 Gbit/s, and compares the measured round time with the model built from what the same
     * run measured: worker compute and coordinator merge per round, bytes per round over the coordinator's link at the
     * link's rate. Skipped, with the reason, where namespaces cannot be made (not root, no iproute2).
     */
    private double namespaces(Path dir) throws Exception {
        out.println();
        int rounds = quick ? 12 : 30;
        long rows = 2L * 2 * NS_BATCH * rounds;
        out.printf(Locale.ROOT, "Three hosts in network namespaces (coordinator + 2 workers, each on its own veth link to a bridge, "
                + "shaped both ways): PAM-SGD %d -> %d (k = 32), 2 x %d rows per worker per round, decoder step cg every 4 rounds, "
                + "workers ship codes, %d rounds; nodes talk plain Artery TCP (--insecure), all JVMs still share the %d cores, so "
                + "compute is per node as measured and the network is what the links add.%n%n", NS_DIM, NS_LATENTS, NS_BATCH, rounds,
                Runtime.getRuntime().availableProcessors());
        List<String> rowsOut = new ArrayList<>();
        String note = "";
        // the 10 Gbit/s run calibrates the transport's own cost per byte (Artery, serialisation, chunks: CPU, not the link);
        // the 1 Gbit/s run checks the model built from it
        double perByte = Double.NaN;
        double check = Double.NaN;
        for (long megabits : new long[] {10_000, 1000}) {
            NetNamespaces ns;
            try {
                ns = NetNamespaces.create(3, megabits, 100);
            } catch (java.io.IOException e) {
                out.println("skipped: cannot make network namespaces here (" + e.getMessage() + "); they need root and iproute2");
                return Double.NaN;
            }
            try (ns) {
                note = ns.delayNote();
                JsonNode s = namespaceRun(ns, dir.resolve("ns" + megabits), rows);
                double r = s.get("rounds").asDouble();
                double bytes = (s.get("bytesSent").asDouble() + s.get("bytesReceived").asDouble()) / r;
                double rate = megabits * 1e6 / 8;
                double send = s.get("coordinatorSendSecondsPerRound").asDouble();
                double model = s.get("workerModelSecondsPerRound").asDouble();
                double codec = s.get("workerCodecSecondsPerRound").asDouble();
                double compute = s.get("workerComputeSecondsPerRound").asDouble();
                double upload = s.get("resultUploadSecondsPerRound").asDouble();
                double coordinator = s.get("coordinatorSecondsPerRound").asDouble();
                double measured = s.get("secondsPerRound").asDouble();
                boolean calibration = Double.isNaN(perByte);
                if (calibration) {
                    perByte = Math.max(0, (model + upload - bytes / rate) / bytes);
                }
                double network = bytes * (1 / rate + perByte);
                double modelled = send + codec + compute + coordinator + network;
                if (!calibration) {
                    check = modelled / measured - 1;
                }
                rowsOut.add(String.format(Locale.ROOT, "| %.0f Gbit/s%s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f + %.3f | %.1f MB | %.3f + %.3f | %.3f | %s |",
                        megabits / 1000.0, calibration ? " (calibrates the transport)" : "", measured, send, codec, compute, coordinator,
                        model, upload, bytes / 1e6, bytes / rate, bytes * perByte, modelled, calibration ? "(calibration)"
                                : String.format(Locale.ROOT, "%+.0f %%", 100 * check)));
            }
        }
        out.println("| link | s / round measured | coordinator encode + send | worker decode + encode | worker compute | coordinator "
                + "merge + solve | network measured: model arrival + result upload (per worker) | bytes over the coordinator's link "
                + "per round | network modelled: bytes / rate + transport | round modelled | model vs measured |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|");
        rowsOut.forEach(out::println);
        out.println();
        out.printf(Locale.ROOT, "Links: %s. Round modelled = coordinator encode and send + worker decode and encode + worker compute"
                + " + coordinator merge and solve (all measured in the run) + the bytes the coordinator's link carries (the model to"
                + " each worker, each result back, one after the other) x (1 / link rate + transport cost per byte). The transport"
                + " cost, %.1f ms per MB (%.0f MB/s: Artery, serialisation and chunks on these shared cores), is what the 10 Gbit/s"
                + " run's network time has beyond its link; the 1 Gbit/s row is predicted from it: %s of the measured round time"
                + " (the issue asks for +-20 %%).%n", note, perByte * 1e9, 1e-6 / perByte, Double.isNaN(check) ? "n/a"
                : String.format(Locale.ROOT, "%+.0f %%", 100 * check));
        return perByte;
    }

    /** The coordinator's summary.json once written; fails naming {@code what} if the coordinator dies or time runs out. */
    private static JsonNode awaitSummary(Process coordinator, Path out, long minutes, String what) throws Exception {
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(minutes);
        Path summary = out.resolve("summary.json");
        while (!Files.isRegularFile(summary)) {
            if (System.nanoTime() > end || !coordinator.isAlive()) {
                throw new IllegalStateException(what + " did not finish; see " + out);
            }
            Thread.sleep(200);
        }
        return JSON.readTree(summary.toFile());
    }

    private JsonNode namespaceRun(NetNamespaces ns, Path out, long rows) throws Exception {
        Files.createDirectories(out);
        List<Process> ps = new ArrayList<>();
        try {
            String seed = ns.address(0) + ":2551";
            for (int i = 0; i < 3; i++) {
                List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector", "-Xmx1g",
                        "-cp", System.getProperty("java.class.path"), "io.proxstream.actors.cli.Main", "node", "--role",
                        i == 0 ? "coordinator" : "worker", "--host", ns.address(i), "--port", "2551", "--seed", seed, "--insecure",
                        "--out", out.toString(), "--rows", Long.toString(rows), "--dim", Integer.toString(NS_DIM), "--features",
                        Integer.toString(2 * NS_DIM), "--latents", Integer.toString(NS_LATENTS), "--k", "32", "--shards", "2", "--batch",
                        Integer.toString(NS_BATCH), "--batches-per-shard", "2", "--min-workers", "2", "--checkpoint-every", "1000000",
                        "--round-timeout", "300000", "--decoder", "cg", "--ship", "codes", "--solve-every", "4"));
                ps.add(new ProcessBuilder(ns.on(i, cmd)).redirectErrorStream(true).redirectOutput(out.resolve("node" + i + ".log").toFile())
                        .start());
            }
            return awaitSummary(ps.get(0), out, 15, "the cluster in network namespaces");
        } finally {
            for (Process p : ps) {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    private JsonNode clusterRun(Path out, int workers, long rows) throws Exception {
        Files.createDirectories(out);
        int[] ports = ClusterNode.freePorts(workers + 1);
        List<Process> ps = new ArrayList<>();
        try {
            String seed = "127.0.0.1:" + ports[0];
            for (int i = 0; i <= workers; i++) {
                List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector", "-Xmx768m",
                        "-cp", System.getProperty("java.class.path"), "io.proxstream.actors.cli.Main", "node", "--role",
                        i == 0 ? "coordinator" : "worker", "--port", Integer.toString(ports[i]), "--seed", seed, "--out", out.toString(),
                        "--rows", Long.toString(rows), "--min-workers", Integer.toString(workers), "--checkpoint-every", "1000",
                        "--round-timeout", "30000"));
                ps.add(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.resolve("node" + i + ".log").toFile()).start());
            }
            return awaitSummary(ps.get(0), out, 10, "cluster run with " + workers + " workers");
        } finally {
            for (Process p : ps) {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * The speed-up model at the residual-stream shape of the issue (768 → 16 384, k 32, 4 096 rows per worker per round)
     * from times measured in this process: a worker's round, the payloads, the coordinator's read-and-accumulate of one
     * result and its iterative decoder solve on a full window.
     */
    private void model(double transportPerByte) throws Exception {
        int d = quick ? 384 : 768;
        int m = quick ? 4096 : 16_384;
        int k = 32;
        int perWorker = 4096;
        int rowsPerSolve = 8 * perWorker; // the streaming trainer's default: a solve every 8 minibatches of 4 096
        DataParallelPam.Config t = new DataParallelPam.Config(d, 2 * m, m, k, 1, perWorker, 1, perWorker, 1000, 30_000, 1, 42, "pam")
                .withDecoder("cg", "codes", 1);
        DataParallelPam.WorkerState w = new DataParallelPam.WorkerState(t);
        DataParallelPam.CoordinatorState coord = new DataParallelPam.CoordinatorState(t);
        TrainerState model = coord.modelState();
        List<Protocol.Assignment> slice = List.of(new Protocol.Assignment(0, 0, perWorker));
        w.round(model, slice);
        long t0 = System.nanoTime();
        TrainerState r = w.round(model, slice);
        double compute = (System.nanoTime() - t0) / 1e9;
        w.close();
        byte[] modelBytes = Chunks.encode(model);
        byte[] encoderBytes = Chunks.encode(coord.encoderState());
        byte[] resultBytes = Chunks.encode(r);
        // fill the window (and pass the first, longer solve) before timing: merge with and without a solve
        DataParallelPam.Config noSolve = t.withDecoder("cg", "codes", 1_000_000);
        DataParallelPam.CoordinatorState fill = new DataParallelPam.CoordinatorState(noSolve);
        int window = io.proxstream.solvers.sae.IterativeDecoder.Options.defaults().windowRows();
        for (int i = 0; i < window / perWorker; i++) {
            fill.complete(List.of(Chunks.decode(resultBytes)), List.of(slice));
        }
        long t1 = System.nanoTime();
        for (int i = 0; i < 4; i++) {
            fill.complete(List.of(Chunks.decode(resultBytes)), List.of(slice));
        }
        double merge = (System.nanoTime() - t1) / 1e9 / 4;
        coord.restore(fill.snapshot());
        coord.complete(List.of(Chunks.decode(resultBytes)), List.of(slice));
        // the median of three solves: one solve's time on this shared host ranged from 2.7 to 7 s between runs
        double[] solves = new double[3];
        for (int i = 0; i < solves.length; i++) {
            long t2 = System.nanoTime();
            coord.complete(List.of(Chunks.decode(resultBytes)), List.of(slice));
            solves[i] = Math.max(0, (System.nanoTime() - t2) / 1e9 - merge);
        }
        java.util.Arrays.sort(solves);
        double solve = solves[1];
        double bandwidth = 1.25e9; // 10 Gbit/s
        // the transport's own cost per byte as the namespace run measured it (0 when it could not run)
        double transport = Double.isNaN(transportPerByte) ? 0 : transportPerByte;
        double latency = 2e-4;
        long statistics = t.statisticsBytes() + 4L * m * (d + 1);
        out.println();
        out.printf(Locale.ROOT, "Scaling model at %d -> %d (k = %d; %d rows per worker per round; decoder step cg on a %d-row window, "
                + "a solve per %d rows), measured here: worker compute %.2f s per round (%.0f rows/s), model broadcast %.1f MB (encoder and "
                + "decoder; %.1f MB of encoder alone to a worker that holds the current decoder), worker "
                + "result (encoder + rows + codes) %.1f MB (with m x m statistics instead: %.0f MB), coordinator read + accumulate "
                + "%.3f s per result, decoder solve %.2f s (median of 3), transport %.1f ms per MB (%s). Assumed: 10 Gbit/s links, %.1f ms latency, the"
                + " coordinator sends and receives one node at a time (star), compute on every machine as here; a round's solve is"
                + " not overlapped with the workers' next round; the decoder goes to each worker once per solve.%n%n", d, m, k, perWorker,
                window, rowsPerSolve, compute, perWorker / compute, modelBytes.length / 1e6, encoderBytes.length / 1e6, resultBytes.length / 1e6, statistics / 1e6, merge, solve, transport * 1e9,
                Double.isNaN(transportPerByte) ? "not measured: the namespace run could not run" : "from the namespace run above",
                latency * 1e3);
        out.println("| machines N | rounds per solve | compute | network (link + transport) | coordinator | s per solve interval | rows/s "
                + "| speed-up vs 1 machine | network and speed-up with the link alone (a transport without cost) |");
        out.println("|---|---|---|---|---|---|---|---|---|");
        double rounds1 = (double) rowsPerSolve / perWorker;
        double single = rowsPerSolve / (rounds1 * (compute + merge) + solve);
        double payload = modelBytes.length + resultBytes.length;
        double decoderBytes = modelBytes.length - encoderBytes.length;
        for (int n : new int[] {1, 2, 4, 8, 16}) {
            double rounds = rounds1 / n;
            // per worker and solve interval: encoder down and result up every round, the decoder down once after the solve
            // (every round when a round holds more rows than a solve interval)
            double bytes = rounds * (encoderBytes.length + resultBytes.length) + Math.min(rounds, 1) * decoderBytes;
            double net = n == 1 ? 0 : n * bytes * (1 / bandwidth + transport) + rounds * 2 * latency;
            double linkOnly = n == 1 ? 0 : n * bytes / bandwidth + rounds * 2 * latency;
            double coordinator = rounds * n * merge + solve;
            double interval = rounds * compute + net + coordinator;
            double rate = rowsPerSolve / interval;
            double ideal = rowsPerSolve / (rounds * compute + linkOnly + coordinator);
            out.printf(Locale.ROOT, "| %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.2fx | %.2f s, %.2fx |%n", n, rounds, rounds * compute, net,
                    coordinator, interval, rate, rate / single, linkOnly, ideal / single);
        }
        out.printf(Locale.ROOT, "%nPer round and worker the wire carries at most %.1f MB (model down, encoder + rows + codes up; %.1f MB"
                + " in a round after which no solve came, when the worker holds the decoder) instead of %.0f MB with statistics. What bounds the speed-up: the transport's cost per byte as measured (%.1f ms per MB), "
                + "then the coordinator's decoder solve (%.2f s per %d rows), which runs while the workers wait.%n", payload / 1e6,
                (encoderBytes.length + resultBytes.length) / 1e6,
                (modelBytes.length + t.statisticsBytes() + 4.0 * m * (d + 1)) / 1e6, transport * 1e9, solve, rowsPerSolve);
        shardedModel(t, resultBytes, encoderBytes.length, decoderBytes, compute, rowsPerSolve, bandwidth, transport, latency);
    }

    /**
     * A ring all-reduce of {@code floats} floats among {@code n} actor systems on loopback in this JVM (Artery TCP, the
     * cluster's serializers): {seconds (median of 3 after one warm-up), seconds per byte a participant sends, bytes a
     * participant sends}.
     */
    private static double[] measureRing(int n, int floats) throws Exception {
        int piece = RingCollective.PIECE_FLOATS;
        com.typesafe.config.Config base = io.proxstream.actors.cluster.ClusterNode.config("127.0.0.1", 0, List.of("127.0.0.1:0"),
                List.of("worker"), java.time.Duration.ofSeconds(5));
        com.typesafe.config.Config remote = com.typesafe.config.ConfigFactory.parseString(
                "pekko.actor.provider = remote\npekko.remote.warn-about-direct-use = off").withFallback(base);
        List<org.apache.pekko.actor.typed.ActorSystem<RingCollective.Command>> systems = new ArrayList<>();
        java.util.concurrent.LinkedBlockingQueue<RingCollective.Outcome> outcomes = new java.util.concurrent.LinkedBlockingQueue<>();
        // the answers come to a plain local system's guardian that hands them to this thread
        org.apache.pekko.actor.typed.ActorSystem<RingCollective.Outcome> sink = org.apache.pekko.actor.typed.ActorSystem.create(
                org.apache.pekko.actor.typed.javadsl.Behaviors.receiveMessage(o -> {
                    outcomes.add(o);
                    return org.apache.pekko.actor.typed.javadsl.Behaviors.same();
                }), "ring-sink", com.typesafe.config.ConfigFactory.parseString("pekko.actor.provider = local"));
        try {
            List<String> paths = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                var sys = org.apache.pekko.actor.typed.ActorSystem.create(RingCollective.create(4L * floats), "ring", remote);
                systems.add(sys);
                paths.add(org.apache.pekko.actor.typed.ActorRefResolver.get(sys).toSerializationFormat(sys));
            }
            double[] times = new double[4];
            long sent = new RingAllReduce(n, 0, new float[floats], piece).floatsSent() * 4;
            for (int rep = 0; rep < times.length; rep++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    List<org.apache.pekko.actor.typed.ActorRef<RingCollective.Command>> view = new ArrayList<>();
                    for (String p : paths) {
                        view.add(org.apache.pekko.actor.typed.ActorRefResolver.get(systems.get(i)).resolveActorRef(p));
                    }
                    float[] data = new float[floats];
                    java.util.Arrays.fill(data, i + 1);
                    systems.get(i).tell(new RingCollective.Run(rep, view, i, data, piece,
                            java.time.Duration.ofMinutes(5), sink));
                }
                for (int i = 0; i < n; i++) {
                    RingCollective.Outcome o = outcomes.poll(10, java.util.concurrent.TimeUnit.MINUTES);
                    if (o == null || !o.ok()) {
                        throw new IllegalStateException("ring all-reduce failed: " + (o == null ? "no answer in 10 minutes" : o.error()));
                    }
                    float expect = n * (n + 1) / 2f;
                    if (o.data()[0] != expect || o.data()[floats - 1] != expect) {
                        throw new IllegalStateException("ring all-reduce gave " + o.data()[0] + ", expected " + expect);
                    }
                }
                times[rep] = (System.nanoTime() - t0) / 1e9;
            }
            double[] timed = java.util.Arrays.copyOfRange(times, 1, times.length);
            java.util.Arrays.sort(timed);
            return new double[] {timed[1], timed[1] / sent, sent};
        } finally {
            sink.terminate();
            for (var sys : systems) {
                sys.terminate();
            }
            for (var sys : systems) {
                sys.getWhenTerminated().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
            }
        }
    }

    /**
     * The design without a model at the coordinator, from parts measured here: each of N workers owns d/N of the decoder
     * step's columns (an {@link IterativeDecoder} column shard: the same bits as the whole step), every worker's rows and
     * codes of a round go to every column owner (codes whole, rows cut by columns), the encoder is averaged by a ring
     * all-reduce among the workers, and after a solve the decoder's columns are gathered by all (ring all-gather). The
     * shard's accumulate and solve are timed on a full window at d/N columns; the transfers are costed as the star's are
     * (link rate + the transport's measured cost per byte), each worker on its own full-duplex link.
     */
    private void shardedModel(DataParallelPam.Config t, byte[] resultBytes, long encoderBytes, double decoderBytes, double compute,
                              int rowsPerSolve, double bandwidth, double transport, double latency) throws Exception {
        int d = t.dim();
        int m = t.latents();
        int perWorker = t.batch();
        int window = IterativeDecoder.Options.defaults().windowRows();
        double rowBytes = 4.0 * perWorker * d;
        double codeBytes = resultBytes.length - encoderBytes - rowBytes;
        double perByte = 1 / bandwidth + transport;
        int encoderFloats = t.latents() * t.dim() + t.latents();
        double[] ring = measureRing(3, encoderFloats);
        double ringPerByte = ring[1];
        int[] machines = {1, 2, 4, 8};
        double[] acc = new double[machines.length];
        double[] solve = new double[machines.length];
        int[] widths = new int[machines.length];
        for (int i = 0; i < machines.length; i++) {
            // the widest shard of the split the sharded round uses (ShardedPam.columnCuts): the one the others wait for
            int[] cuts = ShardedPam.columnCuts(d, machines[i]);
            for (int w = 0; w < machines[i]; w++) {
                widths[i] = Math.max(widths[i], cuts[w + 1] - cuts[w]);
            }
            int cols = widths[i];
            SaeModel model = DataParallelPam.initialModel(t);
            IterativeDecoder shard = new IterativeDecoder(model, IterativeDecoder.Options.defaults(), 0, cols);
            PamSgdTrainer.Options o = t.pam();
            for (int r = 0; r < window / perWorker; r++) {
                DataParallelPam.feedShard(Chunks.decode(resultBytes), t, shard);
            }
            shard.solveInto(model, o.rho(), o.muDec(), o.holdUnfired()); // the first solve, with its longer budget
            double[] a = new double[3];
            double[] s = new double[3];
            for (int r = 0; r < 3; r++) {
                TrainerState res = Chunks.decode(resultBytes);
                long t0 = System.nanoTime();
                DataParallelPam.feedShard(res, t, shard);
                long t1 = System.nanoTime();
                shard.solveInto(model, o.rho(), o.muDec(), o.holdUnfired());
                a[r] = (t1 - t0) / 1e9;
                s[r] = (System.nanoTime() - t1) / 1e9;
            }
            java.util.Arrays.sort(a);
            java.util.Arrays.sort(s);
            acc[i] = a[1];
            solve[i] = s[1];
        }
        out.printf(Locale.ROOT, "%nThe column-sharded design (no model at the coordinator; its round is built as ShardWorker and measured"
                + " below, not yet driven by `node` / `serve --cluster`), from parts measured"
                + " here: a shard's accumulate of one worker's round (%d rows; parse + its columns; full window, rows leaving it) and its"
                + " solve (median of 3, full window of %d rows) at d/N columns, the worker's round (%.2f s), payloads: encoder %.1f MB,"
                + " a round's rows %.1f MB and codes %.1f MB, decoder %.1f MB. Per round each worker sends every other worker its codes"
                + " and that worker's columns of its rows, and the encoders are averaged by a ring all-reduce (2 (N-1)/N encoders in"
                + " and out per worker); after each solve the decoder's columns are all-gathered ((N-1)/N decoders per worker). Each"
                + " worker's link is costed as the star's (10 Gbit/s + the transport's %.1f ms per MB, %.1f ms latency per step), all"
                + " links at once (full-duplex, a non-blocking switch). Not overlapped: the solve runs between rounds. The ring itself"
                + " (RingCollective over Artery, pieces of 128 KiB) measured here: the encoder (%d floats) all-reduced among 3 actor systems"
                + " on loopback in this JVM in %.2f s (median of 3), %.1f MB sent per participant (%.0f MB/s through Artery in all), so"
                + " %.1f ms per MB of a participant's share with the 3 participants' serialisation and sums on these %d shared cores —"
                + " pessimistic for machines that each have their own cores, which were not available here; the last column costs"
                + " every transfer between workers at it instead of the star's transport.%n%n",
                perWorker, window, compute, encoderBytes / 1e6, rowBytes / 1e6, codeBytes / 1e6, decoderBytes / 1e6, transport * 1e9,
                latency * 1e3, encoderFloats, ring[0], ring[2] / 1e6, 3 * ring[2] / ring[0] / 1e6, ringPerByte * 1e9,
                Runtime.getRuntime().availableProcessors());
        out.println("| machines N | columns per worker | rounds per solve | compute | accumulate (N results) | shard solve "
                + "| encoder all-reduce | codes + rows all-to-all | decoder all-gather | s per solve interval | rows/s | speed-up vs 1 "
                + "machine | worker memory for its shard | speed-up with the ring's cost per byte (shared cores: pessimistic) "
                + "| with replicas: speed-up, worker memory for its shard and replica |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        double single = 0;
        for (int i = 0; i < machines.length; i++) {
            int n = machines[i];
            int cols = widths[i];
            double rounds = (double) rowsPerSolve / (n * perWorker);
            double accumulate = rounds * n * acc[i];
            double allReduce = n == 1 ? 0 : rounds * (2.0 * (n - 1) / n * encoderBytes * perByte + 2 * (n - 1) * latency);
            double allToAll = n == 1 ? 0 : rounds * ((n - 1) * (codeBytes + rowBytes / n) * perByte + latency);
            double allGather = n == 1 ? 0 : (double) (n - 1) / n * decoderBytes * perByte + (n - 1) * latency;
            double interval = rounds * compute + accumulate + solve[i] + allReduce + allToAll + allGather;
            double rate = rowsPerSolve / interval;
            if (n == 1) {
                single = rate;
            }
            // the same with every transfer between workers at the ring's measured cost per byte (+ the link)
            double peer = 1 / bandwidth + ringPerByte;
            double ringed = rounds * compute + accumulate + solve[i] + (perByte > 0 ? (allReduce + allToAll + allGather) * peer / perByte : 0);
            // the shard's window: every kept row's codes, its columns of the rows; the old rows' gradient at its columns
            double memory = window * (codeBytes / perWorker + 4.0 * cols) + 8.0 * (m + 1) * cols;
            // with replicas (ShardWorker's default from 2 workers): every worker also feeds its predecessor's range, so it gets
            // twice the columns of every worker's rows and keeps a second range's window and gradient
            double replicated = n == 1 ? interval : interval + accumulate + rounds * (n - 1) * rowBytes / n * perByte;
            double replicaMemory = n == 1 ? memory : memory + window * 4.0 * cols + 8.0 * (m + 1) * cols;
            out.printf(Locale.ROOT, "| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.2fx | %.0f MB | %.2fx | %.2fx, %.0f MB |%n",
                    n, cols, rounds, rounds * compute, accumulate, solve[i], allReduce, allToAll, allGather, interval, rate, rate / single,
                    memory / 1e6, rowsPerSolve / ringed / single, rowsPerSolve / replicated / single, replicaMemory / 1e6);
        }
        out.printf(Locale.ROOT, "%nWhat a dead worker costs in this design: its columns' window and old-rows gradient live only there"
                + " and on the replica its successor keeps (ShardWorker, from 2 workers: fed the same rows — the column slices sent twice,"
                + " 1/N of a round's rows more per worker — and the owner's correction after each solve, which every worker gets anyway);"
                + " the replica holds the owner's bits (IterativeDecoder.apply) and takes its place (ShardWorker.Promote), so a death"
                + " costs the round in flight. The last column is the design with replicas.%n");
        shardedRounds(t, codeBytes, rowBytes, encoderBytes, decoderBytes, ringPerByte);
    }

    /**
     * The column-sharded round itself ({@link ShardWorker}: encoder step, parts exchanged worker to worker, ring all-reduce
     * of the encoder, shard fed, solve, corrections to every peer) run by three workers in three actor systems on loopback
     * in this JVM at the model's shape: each round's phases as the workers timed them, and the bytes each worker sent to
     * its peers against the model's count.
     */
    private void shardedRounds(DataParallelPam.Config t, double codeBytes, double rowBytes, long encoderBytes, double decoderBytes,
                               double ringPerByte) throws Exception {
        int n = 3;
        int rounds = quick ? 2 : 4;
        int perWorker = t.batch();
        DataParallelPam.Config c = new DataParallelPam.Config(t.dim(), t.features(), t.latents(), t.k(), n, perWorker, 1,
                (long) rounds * n * perWorker, 1000, 600_000, 1, 42, "pam").withDecoder("cg", "codes", 2);
        int[] cuts = ShardedPam.columnCuts(t.dim(), n);
        long ringBytes = 4 * new RingAllReduce(n, 0, new float[t.latents() * t.dim() + t.latents()], RingCollective.PIECE_FLOATS).floatsSent();
        // each worker sends every other worker its codes and its rows' columns of the ranges that worker owns or replicates
        int[][] placement = ShardWorker.initialPlacement(n, true);
        double partsModel = 0;
        for (int j = 1; j < n; j++) {
            int cols = 0;
            for (int r = 0; r < n; r++) {
                if (placement[0][r] == j || placement[1][r] == j) {
                    cols += cuts[r + 1] - cuts[r];
                }
            }
            partsModel += codeBytes + rowBytes * cols / t.dim();
        }
        double correctionsModel = (double) (n - 1) / n * decoderBytes;
        out.printf(Locale.ROOT, "%nThe column-sharded round as built (ShardWorker), run by %d workers in %d actor systems on loopback in this"
                + " JVM (Artery TCP, the cluster's serializers; every message between workers serialised and sent): %d rounds of %d rows"
                + " per worker at this shape, a solve every 2 rounds (the first solve has the longer first budget), column ranges %s, each"
                + " with a replica on the next worker (so each worker feeds two ranges); the %d workers"
                + " share these %d cores, so compute phases are slower than on %d machines and a worker's wait for its peers' parts includes"
                + " their slower encoder steps. Times are the slowest worker's (s). Bytes: what each worker sent its peers (parts and"
                + " corrections, measured payloads; the ring's %d bytes per round by its schedule are apart) against the model's: to each"
                + " other worker the codes and the columns of the ranges it holds (with replicas 2/N of the rows) per round, and (N-1)/N"
                + " decoders per solve.%n%n", n, n, rounds, perWorker, java.util.Arrays.toString(cuts),
                n, Runtime.getRuntime().availableProcessors(), n, ringBytes);
        out.println("| round | solve | round s | encoder step | waiting for parts | ring all-reduce | feeding its two ranges | shard solve | waiting for"
                + " corrections | sent per worker (parts + corrections) | model | measured / model |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|---|");
        double ringTotal = 0;
        try (ShardedDriver cluster = new ShardedDriver(n, java.time.Duration.ofMinutes(15))) {
            cluster.configure(c, true);
            for (long r = 0; r < rounds; r++) {
                List<List<Protocol.Assignment>> slices = new ArrayList<>();
                for (int w = 0; w < n; w++) {
                    slices.add(List.of(new Protocol.Assignment(w, r * perWorker, perWorker)));
                }
                double[] worst = new double[7];
                double sent = 0;
                boolean solved = false;
                for (ShardWorker.Reply reply : cluster.round(r, slices, n)) {
                    if (!(reply instanceof ShardWorker.Done d)) {
                        throw new IllegalStateException("sharded round " + r + " failed: " + reply);
                    }
                    double[] v = {d.seconds(), d.encoderSeconds(), d.exchangeSeconds(), d.ringSeconds(), d.accumulateSeconds(),
                        d.solveSeconds(), d.correctionSeconds()};
                    for (int i = 0; i < v.length; i++) {
                        worst[i] = Math.max(worst[i], v[i]);
                    }
                    sent += d.bytesSent() / (double) n;
                    solved = d.solved();
                }
                double model = partsModel + (solved ? correctionsModel : 0);
                out.printf(Locale.ROOT, "| %d | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f MB | %.1f MB | %.3f |%n", r,
                        solved ? "yes" : "no", worst[0], worst[1], worst[2], worst[3], worst[4], worst[5], worst[6], sent / 1e6, model / 1e6,
                        sent / model);
                ringTotal += worst[3];
            }
        }
        out.printf(Locale.ROOT, "%nThe ring in these rounds: %.2f s per round on average (%.1f ms per MB of a participant's share), against"
                + " %.1f ms per MB when measured alone above.%n",
                ringTotal / rounds, ringTotal / rounds / ringBytes * 1e9, ringPerByte * 1e9);
    }
}
