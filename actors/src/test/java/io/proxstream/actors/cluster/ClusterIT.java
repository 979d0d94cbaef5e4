package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three JVMs on 127.0.0.1 form a Pekko cluster and train by data-parallel PAM-SGD: the result
 * equals the single-process computation of the same rounds; a worker killed with SIGKILL costs only
 * its in-flight round; stopping the coordinator's JVM moves the singleton, which resumes from the
 * checkpoint.
 */
class ClusterIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final List<Node> nodes = new ArrayList<>();

    /** A node JVM with its output kept in memory and in a log file. */
    static final class Node {
        final Process process;
        final List<String> lines = new CopyOnWriteArrayList<>();
        final Path log;

        Node(Process p, Path log) {
            this.process = p;
            this.log = log;
            Thread pump = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()));
                     var w = Files.newBufferedWriter(log)) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        lines.add(line);
                        w.write(line);
                        w.newLine();
                        w.flush();
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            });
            pump.setDaemon(true);
            pump.start();
        }

        String await(Predicate<String> p, long seconds, String what) throws Exception {
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            while (System.nanoTime() < end) {
                for (String l : lines) {
                    if (p.test(l)) {
                        return l;
                    }
                }
                Thread.sleep(100);
            }
            throw new AssertionError("no '" + what + "' within " + seconds + " s; log " + log + ":\n" + String.join("\n", lines));
        }
    }

    private Node node(Path dir, String name, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx768m",
                "-cp", System.getProperty("java.class.path"), "io.proxstream.actors.cli.Main", "node"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Node n = new Node(p, dir.resolve(name + ".log"));
        nodes.add(n);
        return n;
    }

    @AfterEach
    void stopAll() throws Exception {
        for (Node n : nodes) {
            n.process.destroyForcibly();
            n.process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** Training flags shared by the tests: 64 → 256 TopK-8 on 128 planted features, 6 shards × 2 minibatches of 256. */
    private static List<String> training(long rows, Path out) {
        return List.of("--out", out.toString(), "--rows", Long.toString(rows), "--shards", "6", "--batch", "256",
                "--batches-per-shard", "2", "--min-workers", "2", "--checkpoint-every", "5", "--round-timeout", "20000",
                "--down-after", "3000", "--random-seed", "42");
    }

    private List<Node> cluster(Path dir, Path out, long rows, String firstRole, String secondRole, int[] ports, String... extra)
            throws Exception {
        String seed = "127.0.0.1:" + ports[0];
        List<Node> ns = new ArrayList<>();
        String[] roles = {firstRole, secondRole, "worker"};
        for (int i = 0; i < 3; i++) {
            List<String> args = new ArrayList<>(List.of("--role", roles[i], "--port", Integer.toString(ports[i]), "--seed", seed,
                    "--metrics-port", Integer.toString(ports[3 + i])));
            args.addAll(training(rows, out));
            args.addAll(List.of(extra));
            Node n = node(dir, "node" + i, args.toArray(String[]::new));
            n.await(l -> l.startsWith("proxstream node: ") && l.contains(" at 127.0.0.1:"), 90, "node started");
            ns.add(n);
        }
        return ns;
    }

    private static JsonNode summary(Path out, Node coordinator, long seconds) throws Exception {
        coordinator.await(l -> l.contains("training finished"), seconds, "training finished");
        return JSON.readTree(out.resolve("summary.json").toFile());
    }

    private static String metrics(int port) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString());
        return r.body();
    }

    @Test
    void threeNodesTrainAndMatchTheSingleProcessComputationOfTheSameRounds(@TempDir Path dir) throws Exception {
        int[] ports = ClusterNode.freePorts(6);
        Path out = dir.resolve("out");
        long rows = 6 * 512 * 60;
        // a decoder solve every third round: in the two rounds between, the workers get the encoder alone and train with the
        // decoder they kept, which must give the single-process computation all the same
        List<Node> ns = cluster(dir, out, rows, "coordinator", "worker", ports, "--solve-every", "3");
        JsonNode s = summary(out, ns.get(0), 240);
        DataParallelPam.Config c = new DataParallelPam.Config(64, 128, 256, 8, 6, 256, 2, rows, 5, 20_000, 2, 42, "pam")
                .withDecoder("auto", "auto", 3);
        DataParallelPam.Quality ref = DataParallelPam.reference(c, 2).quality();
        DataParallelPam.CoordinatorState sizes = new DataParallelPam.CoordinatorState(c);
        long whole = Chunks.encode(sizes.modelState()).length;
        long encoder = Chunks.encode(sizes.encoderState()).length;
        // round 0 and the round after each solve (rounds 3, 6, ..., 57) carry the decoder, the other 40 only the encoder
        assertEquals(2 * (20 * whole + 40 * encoder), s.get("bytesSent").asLong(),
                "bytes sent: the whole model (" + whole + " bytes) in 20 rounds, the encoder alone (" + encoder + ") in 40, to 2 workers");
        double mmcs = s.get("mmcs").asDouble();
        double fvu = s.get("fvu").asDouble();
        System.out.printf("[ClusterIT] cluster MMCS %.6f FVU %.6f; single process MMCS %.6f FVU %.6f; bytes sent %d received %d%n", mmcs,
                fvu, ref.mmcs(), ref.fvu(), s.get("bytesSent").asLong(), s.get("bytesReceived").asLong());
        assertEquals(0, s.get("workersLost").asInt());
        assertEquals(60, s.get("rounds").asInt(), "every round had both workers and all six shards");
        // the same synchronous rounds in the same order: equal to six digits, as the README says
        assertEquals(ref.mmcs(), mmcs, 1e-6, "MMCS of the cluster vs the single-process run");
        assertEquals(ref.fvu(), fvu, 1e-6 * Math.max(1, ref.fvu()), "FVU of the cluster vs the single-process run");
        assertEveryRowTrainedOnce(s, rows);
        assertTrue(mmcs > 0.9, "planted features recovered after 60 rounds: " + mmcs);
        String m = metrics(ports[3]);
        assertTrue(m.contains("cluster_members{node=\"127.0.0.1:" + ports[0] + "\"} 3.0"), m);
        assertTrue(m.contains("cluster_rounds_total{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\"} 60.0"), m);
        assertTrue(metrics(ports[4]).contains("cluster_worker_compute_seconds_count{node=\"127.0.0.1:" + ports[1] + "\",run=\"cluster\"}"));
        // per worker at the coordinator: three of the six shards each, so half the rows each
        for (int w = 1; w <= 2; w++) {
            assertTrue(m.contains("cluster_worker_rows_total{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\",worker=\"proxstream@127.0.0.1:" + ports[w] + "\"} "
                    + (rows / 2) + ".0"), m);
            assertTrue(m.contains("cluster_worker_round_seconds{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\",worker=\"proxstream@127.0.0.1:" + ports[w] + "\"}"), m);
        }
    }

    @Test
    void aWorkerKilledMidTrainingCostsItsRoundOnlyAndShowsInTheMetrics(@TempDir Path dir) throws Exception {
        int[] ports = ClusterNode.freePorts(6);
        Path out = dir.resolve("out");
        long rows = 6 * 512 * 150;
        // real files: six .npy shards of planted-dictionary rows that every node reads by position
        Path data = dir.resolve("data");
        DataParallelPam.Config c = new DataParallelPam.Config(64, 128, 256, 8, 6, 256, 2, rows, 5, 20_000, 2, 42, "pam");
        int[] sizes = new int[6];
        java.util.Arrays.fill(sizes, (int) (rows / 6));
        assertEquals(rows, DataParallelPamTest.writeShards(data, c, sizes));
        List<Node> ns = cluster(dir, out, rows, "coordinator", "worker", ports, "--data", data.toString());
        ns.get(0).await(l -> l.contains("round 20:"), 120, "round 20");
        ns.get(2).process.destroyForcibly(); // SIGKILL
        ns.get(0).await(l -> l.contains("lost"), 60, "the coordinator noticed the lost worker");
        JsonNode s = summary(out, ns.get(0), 300);
        assertEquals(1, s.get("workersLost").asInt());
        assertEveryRowTrainedOnce(s, rows);
        // two workers' rows and codes (1 536 rows each) are fewer bytes than the 256 x 256 statistics; one worker's 3 072 are not
        assertTrue(s.get("resultsWithCodes").asLong() >= 40 && s.get("resultsWithStatistics").asLong() >= 1, "results shipped: " + s);
        // every row of every file trained once: the offsets are the files' ends
        for (JsonNode o : s.get("shardOffsets")) {
            assertEquals(rows / 6, o.asLong(), "shard offsets " + s.get("shardOffsets"));
        }
        assertEquals(6, s.get("shardFiles").size());
        assertEquals(0, s.get("rowsRejected").asLong());
        assertTrue(s.get("fvu").asDouble() < 0.15, "trained: " + s);
        String m = metrics(ports[3]);
        assertTrue(m.contains("cluster_workers_lost_total{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\"} 1.0"), m);
        assertTrue(m.contains("cluster_members{node=\"127.0.0.1:" + ports[0] + "\"} 2.0"), m);
        assertTrue(m.contains("cluster_workers{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\"} 1.0"), m);
        // the killed worker's per-worker series are gone; the survivor's remain
        assertTrue(!m.contains("worker=\"proxstream@127.0.0.1:" + ports[2] + "\""), m);
        assertTrue(m.contains("cluster_worker_rows_total{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\",worker=\"proxstream@127.0.0.1:" + ports[1] + "\"}"), m);
    }

    @Test
    void aShardFileNoWorkerCanReadIsReportedAndTheRunFinishesTheOthers(@TempDir Path dir) throws Exception {
        int[] ports = ClusterNode.freePorts(6);
        Path out = dir.resolve("out");
        long rows = 6 * 512 * 10;
        Path data = dir.resolve("data");
        DataParallelPam.Config c = new DataParallelPam.Config(64, 128, 256, 8, 6, 256, 2, rows, 5, 20_000, 2, 42, "pam");
        int[] sizes = new int[6];
        java.util.Arrays.fill(sizes, (int) (rows / 6));
        DataParallelPamTest.writeShards(data, c, sizes);
        String seed = "127.0.0.1:" + ports[0];
        List<String> a = new ArrayList<>(List.of("--role", "coordinator", "--port", Integer.toString(ports[0]), "--seed", seed,
                "--metrics-port", Integer.toString(ports[3])));
        a.addAll(training(rows, out));
        a.addAll(List.of("--data", data.toString()));
        Node coordinator = node(dir, "node0", a.toArray(String[]::new));
        coordinator.await(l -> l.contains("coordinator started"), 90, "the coordinator listed the files");
        // shard 4 is cut short after the listing: no worker can read past its new end
        try (var ch = java.nio.channels.FileChannel.open(data.resolve("shard-04.npy"), java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 3);
        }
        for (int i = 1; i <= 2; i++) {
            node(dir, "node" + i, "--role", "worker", "--port", Integer.toString(ports[i]), "--seed", seed);
        }
        coordinator.await(l -> l.contains("cannot read shard 4"), 120, "a worker reported the shard");
        JsonNode s = summary(out, coordinator, 180);
        JsonNode u = s.get("unreadableShards").get("4");
        assertEquals(2, u.get("refusedBy").size(), "both workers tried it: " + s);
        assertTrue(u.get("reason").asText().contains("shard-04.npy"), u.toString());
        long[] offsets = new long[6];
        for (int i = 0; i < 6; i++) {
            offsets[i] = s.get("shardOffsets").get(i).asLong();
        }
        for (int i = 0; i < 6; i++) {
            if (i != 4) {
                assertEquals(rows / 6, offsets[i], "every other shard trained to its end: " + s.get("shardOffsets"));
            }
        }
        assertEquals(rows / 6 - offsets[4], u.get("rowsLeft").asLong());
        assertTrue(coordinator.lines.stream().anyMatch(l -> l.contains("could be read by no worker")));
    }

    @Test
    void stoppingTheCoordinatorsJvmMovesTheSingletonWhichResumesFromTheCheckpoint(@TempDir Path dir) throws Exception {
        int[] ports = ClusterNode.freePorts(6);
        Path out = dir.resolve("out");
        long rows = 6 * 512 * 100;
        // the iterative decoder step: workers ship rows and codes, the coordinator keeps a window, which the checkpoint holds
        List<Node> ns = cluster(dir, out, rows, "coordinator", "coordinator,worker", ports, "--decoder", "cg");
        ns.get(0).await(l -> l.contains("round 20:"), 120, "round 20");
        ns.get(0).process.destroy(); // SIGTERM: coordinated shutdown, the node leaves the cluster
        assertTrue(ns.get(0).process.waitFor(60, TimeUnit.SECONDS), "the coordinator's JVM exits");
        String resumed = ns.get(1).await(l -> l.contains("coordinator resumed from checkpoint at round"), 120, "hand-over");
        long round = Long.parseLong(resumed.replaceAll(".*at round (\\d+).*", "$1"));
        assertTrue(round >= 20, "resumed at round " + round + ", not from scratch");
        JsonNode s = summary(out, ns.get(1), 300);
        assertEquals("proxstream@127.0.0.1:" + ports[1], s.get("coordinator").asText());
        assertEquals("cg", s.get("decoderStep").asText());
        assertTrue(s.get("resultsWithCodes").asLong() > 0 && s.get("resultsWithStatistics").asLong() == 0, "results shipped: " + s);
        assertEveryRowTrainedOnce(s, rows);
        System.out.println("[ClusterIT] singleton moved: resumed at round " + round + ", MMCS " + s.get("mmcs").asDouble());
        assertTrue(s.get("mmcs").asDouble() > 0.95, "planted features recovered: " + s);
    }

    /** Three worker nodes of a column-sharded run (the first also coordinator-capable), all with {@code --min-workers 3}. */
    private List<Node> shardedCluster(Path dir, Path out, long rows, int[] ports) throws Exception {
        return shardedCluster(dir, out, rows, ports, "coordinator,worker", "worker", 3);
    }

    private List<Node> shardedCluster(Path dir, Path out, long rows, int[] ports, String firstRole, String secondRole, int minWorkers)
            throws Exception {
        return shardedCluster(dir, out, rows, ports, firstRole, secondRole, minWorkers, 20_000);
    }

    private List<Node> shardedCluster(Path dir, Path out, long rows, int[] ports, String firstRole, String secondRole, int minWorkers,
                                      long roundTimeoutMs) throws Exception {
        String seed = "127.0.0.1:" + ports[0];
        List<Node> ns = new ArrayList<>();
        String[] roles = {firstRole, secondRole, "worker"};
        for (int i = 0; i < 3; i++) {
            List<String> args = new ArrayList<>(List.of("--role", roles[i], "--port",
                    Integer.toString(ports[i]), "--seed", seed, "--metrics-port", Integer.toString(ports[3 + i]), "--design", "sharded"));
            args.addAll(training(rows, out));
            args.set(args.indexOf("--min-workers") + 1, Integer.toString(minWorkers));
            args.set(args.indexOf("--round-timeout") + 1, Long.toString(roundTimeoutMs));
            Node n = node(dir, "node" + i, args.toArray(String[]::new));
            n.await(l -> l.startsWith("proxstream node: ") && l.contains(" at 127.0.0.1:"), 90, "node started");
            ns.add(n);
        }
        return ns;
    }

    @Test
    void aShardedRunOfThreeNodesWritesTheSingleProcessModelBitForBit(@TempDir Path dir) throws Exception {
        int[] ports = ClusterNode.freePorts(6);
        Path out = dir.resolve("out");
        long rows = 6 * 512 * 12;
        List<Node> ns = shardedCluster(dir, out, rows, ports);
        JsonNode s = summary(out, ns.get(0), 240);
        assertEquals("column-sharded", s.get("design").asText());
        assertEquals(12, s.get("rounds").asLong(), s.toString());
        assertEquals(12, s.get("operations").asLong(), "no round ran again: " + s);
        assertEveryRowTrainedOnce(s, rows);
        // the same rounds in one process: the participants in address order take the slices the coordinator handed out
        DataParallelPam.Config c = new DataParallelPam.Config(64, 128, 256, 8, 6, 256, 2, rows, 5, 20_000, 3, 42, "pam");
        c = c.withDecoder("cg", c.results(), c.solveEvery());
        long[] offsets = new long[6];
        try (ShardedPam reference = new ShardedPam(c, 3)) {
            for (int r = 0; r < 12; r++) {
                List<List<Protocol.Assignment>> slices = DataParallelPam.assign(c, List.of(), offsets, List.of("0", "1", "2"), java.util.Map.of());
                reference.round(slices);
                for (List<Protocol.Assignment> ss : slices) {
                    for (Protocol.Assignment a : ss) {
                        offsets[a.shard()] += a.rows();
                    }
                }
            }
            io.proxstream.solvers.sae.SaeModel written = io.proxstream.actors.train.SaeModelFiles.read(out.resolve("model.safetensors"));
            io.proxstream.solvers.sae.SaeModel expected = reference.model(0);
            org.junit.jupiter.api.Assertions.assertArrayEquals(expected.encoderWeights(), written.encoderWeights(), "W_enc");
            org.junit.jupiter.api.Assertions.assertArrayEquals(expected.encoderBias(), written.encoderBias(), "b_enc");
            org.junit.jupiter.api.Assertions.assertArrayEquals(expected.decoderWeights(), written.decoderWeights(), "W_dec");
            org.junit.jupiter.api.Assertions.assertArrayEquals(expected.decoderBias(), written.decoderBias(), "b_dec");
        }
        String m = metrics(ports[3]);
        assertTrue(m.contains("cluster_rounds_total{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\"} 12.0"), m);
        assertTrue(m.contains("cluster_workers{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\"} 3.0"), m);
        assertTrue(Files.exists(out.resolve("export")), "the SAELens export");
        assertTrue(s.get("bytesSentByWorkers").asLong() > 0, "the workers' exchange, ring and corrections are counted: " + s);
    }

    @Test
    void aShardedRunsCoordinatorMovesAndTheRunResumesFromItsCheckpoint(@TempDir Path dir) throws Exception {
        int[] ports = ClusterNode.freePorts(6);
        Path out = dir.resolve("out");
        long rows = 6 * 512 * 60;
        // the coordinator on a node without a worker; the singleton moves to the second node, which also trains
        List<Node> ns = shardedCluster(dir, out, rows, ports, "coordinator", "coordinator,worker", 2);
        ns.get(0).await(l -> l.contains("round 20:"), 120, "round 20");
        ns.get(0).process.destroy(); // SIGTERM: the node leaves, the singleton moves
        assertTrue(ns.get(0).process.waitFor(60, TimeUnit.SECONDS), "the coordinator's JVM exits");
        String resumed = ns.get(1).await(l -> l.contains("coordinator resumed from checkpoint at round"), 120, "hand-over");
        long round = Long.parseLong(resumed.replaceAll(".*at round (\\d+).*", "$1"));
        assertTrue(round >= 15, "resumed at round " + round + " (a checkpoint every 5 rounds), not from scratch");
        JsonNode s = summary(out, ns.get(1), 300);
        System.out.println("[ClusterIT] sharded coordinator moved: resumed at round " + round + ", " + s.get("rounds") + " rounds, MMCS "
                + s.get("mmcs"));
        assertEquals(1, s.get("resumedFrom").size(), s.toString());
        assertEveryRowTrainedOnce(s, rows);
        assertEquals(60, s.get("rounds").asLong(), "the rounds of the checkpoint and after it: " + s);
        assertTrue(s.get("mmcs").asDouble() > 0.9, "planted features recovered: " + s);
        assertTrue(Files.exists(out.resolve(s.get("checkpoint").asText()).resolve("model.safetensors")), "the final checkpoint");
    }

    @Test
    void aShardedRunLosesAWorkerTakesANewOneAndTrainsEveryRowOnce(@TempDir Path dir) throws Exception {
        int[] ports = ClusterNode.freePorts(7);
        Path out = dir.resolve("out");
        long rows = 6 * 512 * 90;
        // a round deadline of 5 minutes: the loss must not wait for it (the coordinator sees the node leave the cluster and
        // tells the survivors to give the round up)
        List<Node> ns = shardedCluster(dir, out, rows, ports, "coordinator,worker", "worker", 3, 300_000);
        ns.get(0).await(l -> l.contains("round 20:"), 120, "round 20");
        ns.get(2).process.destroyForcibly(); // SIGKILL
        String lostLine = ns.get(0).await(l -> l.contains("lost worker(s)"), 60, "the coordinator dropped the lost worker, well"
                + " before the round's deadline of 300 s");
        System.out.println("[ClusterIT] " + lostLine);
        ns.get(0).await(l -> l.contains("replicas restored"), 60, "the dead worker's ranges have replicas again");
        Node joiner = node(dir, "node3", "--role", "worker", "--port", Integer.toString(ports[6]), "--seed", "127.0.0.1:" + ports[0],
                "--design", "sharded");
        joiner.await(l -> l.startsWith("proxstream node: "), 90, "the new node started");
        ns.get(0).await(l -> l.contains(":" + ports[6] + " joined as participant"), 120, "the new worker joined");
        JsonNode s = summary(out, ns.get(0), 300);
        System.out.println("[ClusterIT] sharded: " + s.get("rounds") + " rounds in " + s.get("operations") + " operations, lost "
                + s.get("workersLost") + ", joined " + s.get("workersJoined") + ", MMCS " + s.get("mmcs"));
        assertEquals(1, s.get("workersLost").asInt(), s.toString());
        assertEquals(1, s.get("workersJoined").asInt(), s.toString());
        assertEquals(3, s.get("workers").asInt(), s.toString());
        assertEveryRowTrainedOnce(s, rows);
        assertTrue(s.get("mmcs").asDouble() > 0.9, "planted features recovered: " + s);
        String m = metrics(ports[3]);
        assertTrue(m.contains("cluster_workers_lost_total{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\"} 1.0"), m);
        assertTrue(m.contains("cluster_worker_rows_total{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\",worker=\"proxstream@127.0.0.1:" + ports[6] + "\"}"), m);
        assertTrue(!m.contains("worker=\"proxstream@127.0.0.1:" + ports[2] + "\""), "the dead worker's series are gone: " + m);
    }

    /** POSTs raw float32 rows to a node's ingest; returns the status and body. */
    private static HttpResponse<String> push(int port, float[] x, int rows, String token, boolean ack) throws Exception {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * x.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(x);
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/runs/cluster/batches"))
                .header("Content-Type", "application/octet-stream").header("X-Shape", rows + "," + (x.length / rows))
                .POST(HttpRequest.BodyPublishers.ofByteArray(b.array()));
        if (token != null) {
            r.header("Authorization", "Bearer " + token);
        }
        if (ack) {
            r.header("X-Ack", "trained");
        }
        return HttpClient.newHttpClient().send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A gauge of the coordinator's ledger, or -1 before it is published. */
    private static long ledger(String metrics, int node, String state) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("cluster_ledger_rows\\{node=\"127.0.0.1:" + node + "\"," + (state.equals("lost")
                ? "reason=\"node_lost\"," : "") + "run=\"cluster\",state=\"" + state + "\"} (\\S+)").matcher(metrics);
        return m.find() ? (long) Double.parseDouble(m.group(1)) : -1;
    }

    private static long awaitLedger(int port, int node, String state, java.util.function.LongPredicate ok, long seconds) throws Exception {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        long v = -1;
        while (System.nanoTime() < end) {
            v = ledger(metrics(port), node, state);
            if (ok.test(v)) {
                return v;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("ledger " + state + " = " + v + " after " + seconds + " s:\n" + metrics(port));
    }

    @Test
    void rowsPushedToTwoNodesAreTrainedAndThoseOfAKilledNodeAreCountedLost(@TempDir Path dir) throws Exception {
        liveIngestOnTwoNodes(dir, "star");
    }

    @Test
    void aShardedRunTrainsRowsPushedToTwoNodesAndCountsThoseOfAKilledNodeLost(@TempDir Path dir) throws Exception {
        liveIngestOnTwoNodes(dir, "sharded");
    }

    /**
     * A coordinator node and two worker nodes with ingest (one with a token), {@code design}: two producers push to the two
     * workers; the token node is killed while its rows wait; an acknowledged push is answered once trained; the ledger ends
     * with accepted = trained + lost and nothing queued.
     */
    private void liveIngestOnTwoNodes(Path dir, String design) throws Exception {
        int[] ports = ClusterNode.freePorts(8); // 3 cluster, 3 metrics, 2 ingest
        Path out = dir.resolve("out");
        String token = "live-ingest-token-0123456789";
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, token + "\n");
        String seed = "127.0.0.1:" + ports[0];
        List<String> flags = new ArrayList<>(training(1L << 40, out));
        flags.addAll(List.of("--data", "live", "--design", design));
        flags.set(flags.indexOf("--checkpoint-every") + 1, "2");
        String[][] extra = {{}, {"--ingest-port", Integer.toString(ports[6])},
            {"--ingest-port", Integer.toString(ports[7]), "--token-file", tokenFile.toString()}};
        String[] roles = {"coordinator", "coordinator,worker", "worker"};
        List<Node> ns = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            List<String> a = new ArrayList<>(List.of("--role", roles[i], "--port", Integer.toString(ports[i]), "--seed", seed,
                    "--metrics-port", Integer.toString(ports[3 + i])));
            a.addAll(flags);
            a.addAll(List.of(extra[i]));
            Node n = node(dir, "node" + i, a.toArray(String[]::new));
            n.await(l -> l.startsWith("proxstream node: ") && l.contains(" at 127.0.0.1:"), 90, "node started");
            ns.add(n);
        }
        if (design.equals("star")) {
            ns.get(0).await(l -> l.contains("joined") && l.contains(":" + ports[2]), 90, "both workers joined");
        } else {
            ns.get(0).await(l -> l.contains("coordinator started: 2 workers"), 90, "both workers configured");
        }
        // two producers, one per node: planted-dictionary rows of width 64, 40 pushes of 512 rows each
        DataParallelPam.Config c = new DataParallelPam.Config(64, 128, 256, 8, 6, 512, 1, 1, 5, 20_000, 1, 42, "pam");
        var gen = c.generator();
        long[] accepted = new long[2];
        Thread[] producers = new Thread[2];
        java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
        for (int p = 0; p < 2; p++) {
            int node = p;
            producers[p] = new Thread(() -> {
                try {
                    for (int j = 0; j < 40; j++) {
                        HttpResponse<String> r = push(ports[6 + node], DataParallelPam.minibatch(c, gen, node, j), 512,
                                node == 1 ? token : null, false);
                        assertEquals(200, r.statusCode(), r.body());
                        accepted[node] += 512;
                    }
                } catch (Throwable t) {
                    failed.set(t);
                }
            });
            producers[p].start();
        }
        for (Thread t : producers) {
            t.join();
        }
        if (failed.get() != null) {
            throw new AssertionError("a producer failed", failed.get());
        }
        // the token node refuses a push without the token (401, counted); a row of NaN is refused (422) and counted
        assertEquals(401, push(ports[7], new float[64], 1, null, false).statusCode());
        assertTrue(metrics(ports[5]).contains("auth_rejected_total{endpoint=\"http\"} 1.0"), metrics(ports[5]));
        float[] nan = new float[64];
        nan[3] = Float.NaN;
        assertEquals(422, push(ports[6], nan, 1, null, false).statusCode());
        int coordinatorMetrics = ports[3];
        long total = accepted[0] + accepted[1];
        // a 200 means the coordinator recorded the rows: the ledger holds all of them the moment the last push is answered
        // (no wait for a periodic report)
        String atOnce = metrics(coordinatorMetrics);
        assertEquals(total, ledger(atOnce, ports[0], "accepted"), atOnce);
        // kill the token node while most of its rows still wait: they are lost with it, and counted
        ns.get(2).process.destroyForcibly();
        ns.get(0).await(l -> l.contains("lost with it"), 60, "the coordinator counted the lost rows");
        long lost = awaitLedger(coordinatorMetrics, ports[0], "lost", v -> v > 0, 30);
        // an acknowledged push: answered only once its rows are in a checkpointed model
        HttpResponse<String> acked = push(ports[6], DataParallelPam.minibatch(c, gen, 0, 99), 512, null, true);
        assertEquals(200, acked.statusCode(), acked.body());
        assertTrue(acked.body().contains("\"trained\":512"), acked.body());
        long all = total + 512;
        awaitLedger(coordinatorMetrics, ports[0], "queued", v -> v == 0, 120);
        String m = metrics(coordinatorMetrics);
        long trained = ledger(m, ports[0], "trained");
        System.out.printf("[ClusterIT] live ingest (" + design + "): accepted %d (node 1: %d, killed node: %d), trained %d, lost %d%n", all, accepted[0] + 512,
                accepted[1], trained, lost);
        assertEquals(all, ledger(m, ports[0], "accepted"), m);
        assertEquals(all, trained + lost, "accepted = trained + queued (0) + lost");
        assertTrue(lost <= accepted[1] && trained >= accepted[0] + 512, "every row of the surviving node trained: " + m);
        // the node's own queue empties once a checkpoint holds its last rows (the coordinator writes one when the queues run dry)
        String emptied = "cluster_worker_queued_rows{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\",worker=\"proxstream@127.0.0.1:" + ports[1] + "\"} 0.0";
        long until = System.nanoTime() + 30_000_000_000L;
        while (!m.contains(emptied) && System.nanoTime() < until) {
            Thread.sleep(100);
            m = metrics(coordinatorMetrics);
        }
        assertTrue(m.contains(emptied), m);
        String own = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports[6] + "/runs/cluster"))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        JsonNode status = JSON.readTree(own);
        assertEquals(accepted[0] + 512, status.get("accepted").asLong(), own);
        assertEquals(1.0, status.get("rejected").asDouble(), own);
    }

    /** A worker's rows at the coordinator, or 0 before its first round. */
    private static long workerRows(String metrics, int coordinator, int worker) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("cluster_worker_rows_total\\{node=\"127.0.0.1:" + coordinator
                + "\",run=\"cluster\",worker=\"proxstream@127.0.0.1:" + worker + "\"} (\\S+)").matcher(metrics);
        return m.find() ? (long) Double.parseDouble(m.group(1)) : 0;
    }

    @Test
    void aRunScalesFromOneWorkerToThreeAndBackWhileItTrains(@TempDir Path dir) throws Exception {
        scaleFromOneWorkerToThreeAndBack(dir, "star");
    }

    @Test
    void aShardedRunScalesFromOneWorkerToThreeAndBackWhileItTrains(@TempDir Path dir) throws Exception {
        scaleFromOneWorkerToThreeAndBack(dir, "sharded");
    }

    /**
     * One worker trains, two more join mid-run and get work, then leave (SIGTERM) while the first goes on; every row is
     * trained once. Sharded: the joiners hold no column range but replicas (the one range's replica moves to the next worker
     * as they leave).
     */
    private void scaleFromOneWorkerToThreeAndBack(Path dir, String design) throws Exception {
        int[] ports = ClusterNode.freePorts(4);
        Path out = dir.resolve("out");
        // fewer rounds keep the sharded variant under a minute; they still outlast the joins and the leaves (asserted below)
        long rows = 6 * 512 * (design.equals("star") ? 400 : 160);
        String seed = "127.0.0.1:" + ports[0];
        List<String> a = new ArrayList<>(List.of("--role", "coordinator,worker", "--port", Integer.toString(ports[0]), "--seed", seed,
                "--metrics-port", Integer.toString(ports[3])));
        List<String> flags = new ArrayList<>(training(rows, out));
        flags.set(flags.indexOf("--min-workers") + 1, "1");
        flags.addAll(List.of("--design", design));
        a.addAll(flags);
        Node first = node(dir, "node0", a.toArray(String[]::new));
        first.await(l -> l.contains("round 10:"), 120, "one worker trains");
        // two more workers join mid-run: each gets work from a following round
        List<Node> joined = new ArrayList<>();
        for (int i = 1; i <= 2; i++) {
            joined.add(node(dir, "node" + i, "--role", "worker", "--port", Integer.toString(ports[i]), "--seed", seed, "--design", design));
        }
        for (int i = 1; i <= 2; i++) {
            int port = ports[i];
            first.await(l -> l.contains("worker proxstream@127.0.0.1:" + port + " joined"), 90, "worker " + i + " joined");
        }
        long end = System.nanoTime() + 90_000_000_000L;
        while (workerRows(metrics(ports[3]), ports[0], ports[1]) == 0 || workerRows(metrics(ports[3]), ports[0], ports[2]) == 0) {
            assertTrue(System.nanoTime() < end, "the joined workers got no work: " + metrics(ports[3]));
            Thread.sleep(100);
        }
        String during = metrics(ports[3]);
        assertTrue(during.contains("cluster_workers{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\"} 3.0"), during);
        // and leave again (SIGTERM: graceful leave) while the run goes on with the first worker
        for (Node n : joined) {
            n.process.destroy();
        }
        for (Node n : joined) {
            assertTrue(n.process.waitFor(60, TimeUnit.SECONDS), "a leaving worker's JVM exits");
        }
        String lostLine = first.await(l -> l.contains("lost") && l.contains(":" + ports[2]), 60, "the second worker left");
        assertTrue(first.lines.stream().noneMatch(l -> l.contains("training finished")), "left before the end: " + lostLine);
        JsonNode s = summary(out, first, 300);
        assertEquals(2, s.get("workersLost").asInt());
        assertEveryRowTrainedOnce(s, rows);
        assertTrue(s.get("mmcs").asDouble() > 0.9, "planted features recovered: " + s);
        // the trained SAE is written as train writes it and in the SAELens layout, and both read back as the same model
        var model = io.proxstream.actors.train.SaeModelFiles.read(out.resolve("model.safetensors"));
        var exported = io.proxstream.actors.train.SaeModelFiles.importSaeLens(out.resolve("export"));
        assertEquals(256, model.spec().latents());
        assertEquals(64, model.spec().inputDim());
        org.junit.jupiter.api.Assertions.assertArrayEquals(model.decoderWeights(), exported.decoderWeights());
        String m = metrics(ports[3]);
        assertTrue(m.contains("cluster_workers{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\"} 1.0"), m);
        System.out.printf("[ClusterIT] elastic 1 -> 3 -> 1 (" + design + "): %d rounds, MMCS %.4f, first worker %d rows%n", s.get("rounds").asLong(),
                s.get("mmcs").asDouble(), workerRows(m, ports[0], ports[0]));
    }

    static Path keyStore(Path dir, String name, String password) throws Exception {
        return io.proxstream.actors.testing.KeyStores.selfSigned(dir, name, password);
    }

    @Test
    void overTlsOnlyNodesWithATrustedKeyJoinAndTrain(@TempDir Path dir) throws Exception {
        String password = "cluster-secret-1";
        Path cluster = keyStore(dir, "proxstream", password);
        Path foreign = keyStore(dir, "intruder", password);
        Path pw = dir.resolve("password");
        Files.writeString(pw, password + "\n");
        int[] ports = ClusterNode.freePorts(5);
        Path out = dir.resolve("out");
        String seed = "127.0.0.1:" + ports[0];
        List<String> tls = List.of("--tls-keystore", cluster.toString(), "--tls-password-file", pw.toString());
        List<String> a = new ArrayList<>(List.of("--role", "coordinator", "--port", Integer.toString(ports[0]), "--seed", seed,
                "--metrics-port", Integer.toString(ports[4])));
        List<String> flags = new ArrayList<>(training(6 * 512 * 400, out));
        flags.set(flags.indexOf("--min-workers") + 1, "1"); // one trusted worker
        a.addAll(flags);
        a.addAll(tls);
        Node coordinator = node(dir, "coordinator", a.toArray(String[]::new));
        coordinator.await(l -> l.contains("TLS (mutual)"), 90, "coordinator started over TLS");
        // a node that trusts the cluster's certificate but presents its own key, and one without TLS
        Node intruder = node(dir, "intruder", "--role", "worker", "--port", Integer.toString(ports[2]), "--seed", seed,
                "--tls-keystore", foreign.toString(), "--tls-truststore", cluster.toString(), "--tls-password-file", pw.toString());
        Node plain = node(dir, "plain", "--role", "worker", "--port", Integer.toString(ports[3]), "--seed", seed);
        List<String> w = new ArrayList<>(List.of("--role", "worker", "--port", Integer.toString(ports[1]), "--seed", seed));
        w.addAll(tls);
        node(dir, "worker", w.toArray(String[]::new));
        coordinator.await(l -> l.contains("worker proxstream@127.0.0.1:" + ports[1] + " joined"), 90, "the trusted worker joined");
        coordinator.await(l -> l.contains("round 10:"), 90, "training over TLS");
        intruder.await(l -> l.contains("Couldn't join seed nodes"), 90, "the intruder failed to join");
        plain.await(l -> l.contains("Couldn't join seed nodes"), 90, "the plain node failed to join");
        String m = metrics(ports[4]);
        assertTrue(m.contains("cluster_members{node=\"127.0.0.1:" + ports[0] + "\"} 2.0"), m);
        assertTrue(m.contains("cluster_workers{node=\"127.0.0.1:" + ports[0] + "\",run=\"cluster\"} 1.0"), m);
        for (String l : coordinator.lines) {
            assertTrue(!l.contains(":" + ports[2] + " joined") && !l.contains(":" + ports[3] + " joined"), l);
        }
        // refused off loopback without TLS, and with a wrong password
        Node open = node(dir, "open", "--role", "worker", "--host", "0.0.0.0", "--port", Integer.toString(ClusterNode.freePorts(1)[0]));
        assertEquals(2, exit(open), "no TLS off loopback");
        assertTrue(String.join("\n", open.lines).contains("without TLS"), String.join("\n", open.lines));
        Path wrong = dir.resolve("wrong");
        Files.writeString(wrong, "not-the-password");
        Node bad = node(dir, "bad", "--role", "worker", "--port", Integer.toString(ClusterNode.freePorts(1)[0]), "--tls-keystore",
                cluster.toString(), "--tls-password-file", wrong.toString());
        assertEquals(2, exit(bad), "wrong password");
        assertTrue(String.join("\n", bad.lines).contains("cannot be opened"), String.join("\n", bad.lines));
        // an ingest endpoint off loopback needs a token (TLS alone would let anyone who reaches it push rows)
        int[] free = ClusterNode.freePorts(2);
        Node noToken = node(dir, "notoken", "--role", "worker", "--host", "0.0.0.0", "--port", Integer.toString(free[0]),
                "--ingest-port", Integer.toString(free[1]), "--tls-keystore", cluster.toString(), "--tls-password-file", pw.toString());
        assertEquals(2, exit(noToken), "ingest off loopback without a token");
        assertTrue(String.join("\n", noToken.lines).contains("without a token"), String.join("\n", noToken.lines));
    }

    private static int exit(Node n) throws Exception {
        assertTrue(n.process.waitFor(60, TimeUnit.SECONDS), "exits");
        Thread.sleep(200);
        return n.process.exitValue();
    }

    /**
     * No row lost or trained twice: the rows counted equal the sum of the shards' offsets (a slice trained
     * twice would count its rows again without moving its offset; a slice lost would move neither), and
     * reach the target. (After a lost worker the shards' offsets may differ by one slice: the last round
     * covered some shards only.)
     */
    private static void assertEveryRowTrainedOnce(JsonNode s, long rows) {
        long sum = 0;
        for (JsonNode o : s.get("shardOffsets")) {
            sum += o.asLong();
        }
        assertEquals(sum, s.get("rows").asLong(), "rows trained = rows the shard offsets cover, so no row trained twice: "
                + s.get("shardOffsets"));
        assertTrue(sum >= rows, "every row trained: " + sum + " of " + rows);
    }
}
