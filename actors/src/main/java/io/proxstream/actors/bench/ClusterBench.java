package io.proxstream.actors.bench;

import io.proxstream.monitoring.TaskProgress;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.proxstream.actors.cluster.Chunks;
import io.proxstream.actors.cluster.ClusterNode;
import io.proxstream.actors.cluster.DataParallelPam;
import io.proxstream.actors.cluster.Protocol;
import io.proxstream.solvers.blas.BlasInfo;
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

    public ClusterBench(boolean quick, PrintStream out) {
        this.quick = quick;
        this.out = out;
    }

    public void run() throws Exception {
        out.println("== proxstream bench cluster ==");
        int cores = Runtime.getRuntime().availableProcessors();
        out.printf(Locale.ROOT, "machine: %d cores; Java %s; %s%n", cores, System.getProperty("java.version"), BlasInfo.current().describe());
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
        model();
    }

    private JsonNode clusterRun(Path out, int workers, long rows) throws Exception {
        Files.createDirectories(out);
        int[] ports = ClusterNode.freePorts(workers + 1);
        List<Process> ps = new ArrayList<>();
        try {
            String seed = "127.0.0.1:" + ports[0];
            for (int i = 0; i <= workers; i++) {
                List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx768m",
                        "-cp", System.getProperty("java.class.path"), "io.proxstream.actors.cli.Main", "node", "--role",
                        i == 0 ? "coordinator" : "worker", "--port", Integer.toString(ports[i]), "--seed", seed, "--out", out.toString(),
                        "--rows", Long.toString(rows), "--min-workers", Integer.toString(workers), "--checkpoint-every", "1000",
                        "--round-timeout", "30000"));
                ps.add(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.resolve("node" + i + ".log").toFile()).start());
            }
            long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
            Path summary = out.resolve("summary.json");
            while (!Files.isRegularFile(summary)) {
                if (System.nanoTime() > end || !ps.get(0).isAlive()) {
                    throw new IllegalStateException("cluster run with " + workers + " workers did not finish; see " + out);
                }
                Thread.sleep(200);
            }
            return JSON.readTree(summary.toFile());
        } finally {
            for (Process p : ps) {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    /** The speed-up model at the transformer shape from times measured in this process. */
    private void model() {
        int d = 384;
        int m = 3072;
        int k = 32;
        int batch = 256;
        int perWorker = 8 * batch;
        DataParallelPam.Config t = new DataParallelPam.Config(d, 2 * m, m, k, 1, batch, perWorker / batch, perWorker, 1000, 30_000, 1, 42, "pam");
        DataParallelPam.WorkerState w = new DataParallelPam.WorkerState(t);
        DataParallelPam.CoordinatorState coord = new DataParallelPam.CoordinatorState(t);
        TrainerState model = coord.modelState();
        List<Protocol.Assignment> slice = List.of(new Protocol.Assignment(0, 0, perWorker));
        w.round(model, slice);
        long t0 = System.nanoTime();
        TrainerState r = w.round(model, slice);
        double compute = (System.nanoTime() - t0) / 1e9;
        byte[] modelBytes = Chunks.encode(model);
        byte[] resultBytes = Chunks.encode(r);
        coord.complete(List.of(r), List.of(slice));
        long t1 = System.nanoTime();
        coord.complete(List.of(Chunks.decode(resultBytes)), List.of(slice));
        double one = (System.nanoTime() - t1) / 1e9;
        long t2 = System.nanoTime();
        List<TrainerState> four = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            four.add(Chunks.decode(resultBytes));
        }
        coord.complete(four, List.of(slice, slice, slice, slice));
        double merge = Math.max(0, ((System.nanoTime() - t2) / 1e9 - one) / 3);
        double solve = Math.max(0, one - merge);
        w.close();
        double bandwidth = 1.25e9; // 10 Gbit/s
        double latency = 2e-4;
        out.println();
        out.printf(Locale.ROOT, "Scaling model at the transformer shape (d = %d, %d latents, k = %d; %d rows per worker per round), "
                + "measured here: worker compute %.3f s per round (%.0f rows/s), model broadcast %.1f MB, worker result (encoder + "
                + "decoder statistics) %.1f MB, coordinator decode + merge %.3f s per worker, the rest of a round (average, decoder solve) %.3f s. Assumed: 10 Gbit/s "
                + "links, %.1f ms latency, the coordinator sends and receives one node at a time (star), compute on every machine as "
                + "here.%n%n", d, m, k, perWorker, compute, perWorker / compute, modelBytes.length / 1e6, resultBytes.length / 1e6, merge,
                solve, latency * 1e3);
        out.println("| machines N | round time (s) | compute | network | coordinator | rows/s | speed-up vs 1 machine |");
        out.println("|---|---|---|---|---|---|---|");
        double single = perWorker / (compute + solve);
        for (int n : new int[] {1, 2, 4, 8, 16}) {
            double net = n == 1 ? 0 : n * (modelBytes.length + resultBytes.length) / bandwidth + 2 * latency;
            double coordinator = n * merge + solve;
            double round = compute + net + coordinator;
            double rate = n * perWorker / round;
            out.printf(Locale.ROOT, "| %d | %.3f | %.3f | %.3f | %.3f | %.0f | %.2fx |%n", n, round, compute, net, coordinator, rate,
                    rate / single);
        }
        double codes = perWorker * (k * 8.0 + d * 4.0);
        out.printf(Locale.ROOT, "%nThe decoder statistics grow with latents² (%.1f MB here) whatever the rows; sending each worker's sparse "
                + "codes and inputs instead (%.1f MB for %d rows) and accumulating at the coordinator moves the break-even to %.0f rows per "
                + "worker per round. Larger rounds amortise both (at the cost of staler encoders).%n", resultBytes.length / 1e6, codes / 1e6,
                perWorker, resultBytes.length / (k * 8.0 + d * 4.0));
    }
}
