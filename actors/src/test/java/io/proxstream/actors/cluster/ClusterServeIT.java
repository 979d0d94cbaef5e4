package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scenario: three {@code serve --cluster} JVMs on one shared runs directory; a run created through one node's
 * {@code /runs}, listed by another; two producers pushing rows to two different nodes (each failing over to the third
 * node on a connection error, as the Python client does); the node holding the run's coordinator, one of those two,
 * killed with SIGKILL mid-run, so the coordinator moves and resumes from its checkpoint; the run stopped through
 * another node's API. One trained SAE comes out, and its ledger accounts
 * for every row the producers saw accepted: accepted = trained + lost, nothing queued.
 */
class ClusterServeIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(java.time.Duration.ofSeconds(2)).build();
    private final List<ClusterIT.Node> nodes = new ArrayList<>();

    @org.junit.jupiter.api.extension.RegisterExtension
    final org.junit.jupiter.api.extension.TestWatcher logsOnFailure = new org.junit.jupiter.api.extension.TestWatcher() {
        @Override
        public void testFailed(org.junit.jupiter.api.extension.ExtensionContext context, Throwable cause) {
            for (int i = 0; i < nodes.size(); i++) {
                System.out.println("---- serve node " + i + " ----");
                nodes.get(i).lines.forEach(System.out::println);
            }
        }
    };

    @AfterEach
    void stopAll() throws Exception {
        for (ClusterIT.Node n : nodes) {
            n.process.destroyForcibly();
            n.process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private ClusterIT.Node serve(Path dir, int i, int http, int cluster, int seed, Path runs) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx768m",
                "-cp", System.getProperty("java.class.path"), "io.proxstream.actors.cli.Main", "serve", "--cluster",
                "--port", Integer.toString(http), "--cluster-port", Integer.toString(cluster), "--seed", "127.0.0.1:" + seed,
                "--runs-dir", runs.toString(), "--down-after", "3000", "--ingest-queue-mb", "64"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        ClusterIT.Node n = new ClusterIT.Node(p, dir.resolve("serve" + i + ".log"));
        nodes.add(n);
        return n;
    }

    private static HttpResponse<String> call(String method, int port, String path, String body) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(java.time.Duration.ofSeconds(30));
        r = body == null ? r.method(method, HttpRequest.BodyPublishers.noBody())
                : r.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
        return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode status(int port, String run) throws Exception {
        HttpResponse<String> r = call("GET", port, "/runs/" + run, null);
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    private static JsonNode awaitStatus(int port, String run, java.util.function.Predicate<JsonNode> ok, long seconds, String what)
            throws Exception {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        JsonNode s = null;
        while (System.nanoTime() < end) {
            s = status(port, run);
            if (ok.test(s)) {
                return s;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("no " + what + " within " + seconds + " s; last status " + s);
    }

    /**
     * A producer: pushes batches of 512 rows to the first reachable node of its list (a connection error moves it to the
     * next, as the Python client's URL list does) and counts the rows answered 200.
     */
    private static final class Producer extends Thread {
        final int[] ports;
        final AtomicLong accepted = new AtomicLong();
        final AtomicLong batches = new AtomicLong();
        final AtomicBoolean paused = new AtomicBoolean();
        final AtomicBoolean inFlight = new AtomicBoolean();
        /** Rows answered 202: queued on their node, not yet recorded by the coordinator when answered. */
        final AtomicLong unrecorded = new AtomicLong();
        final AtomicBoolean stop = new AtomicBoolean();
        volatile int at;
        volatile Throwable failure;
        final Random random;

        Producer(long seed, int... ports) {
            this.ports = ports;
            this.random = new Random(seed);
            setDaemon(true);
        }

        @Override
        public void run() {
            try {
                while (!stop.get()) {
                    if (paused.get()) {
                        Thread.sleep(20);
                        continue;
                    }
                    HttpResponse<String> r;
                    inFlight.set(true);
                    try {
                        r = push(ports[at]);
                    } catch (IOException e) {
                        at = (at + 1) % ports.length; // this node is gone: the next one
                        continue;
                    } finally {
                        inFlight.set(false);
                    }
                    if (r.statusCode() == 200 || r.statusCode() == 202) {
                        count(r);
                    } else if (r.statusCode() == 503) {
                        Thread.sleep(200); // back-pressure
                    } else {
                        throw new AssertionError("push answered " + r.statusCode() + ": " + r.body());
                    }
                    Thread.sleep(50);
                }
            } catch (Throwable t) {
                failure = t;
            }
        }

        void count(HttpResponse<String> r) {
            accepted.addAndGet(512);
            batches.incrementAndGet();
            if (r.statusCode() == 202) {
                unrecorded.addAndGet(512);
            }
        }

        void pause() throws InterruptedException {
            paused.set(true);
            while (inFlight.get()) {
                Thread.sleep(5);
            }
        }

        /** The run's planted dictionary (its defaults: width 64, 128 features, seed 42), batches of 512 rows. */
        private final DataParallelPam.Config planted = new DataParallelPam.Config(64, 128, 256, 8, 6, 512, 1, 1, 5, 20_000, 1, 42, "pam");
        private final io.proxstream.solvers.data.PlantedDictionary gen = planted.generator();
        private long drawn;

        /**
         * One batch of 512 rows of the run's planted dictionary (this producer's own draws) to the node on {@code port}: the
         * run's FVU and MMCS, measured on rows of the same dictionary, then say how well it learnt what it was sent.
         */
        HttpResponse<String> push(int port) throws IOException, InterruptedException {
            int rows = 512;
            float[] x = DataParallelPam.minibatch(planted, gen, 100 + random.nextInt(1000), drawn++);
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * rows * 64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (float v : x) {
                b.putFloat(v);
            }
            HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/runs/live/batches"))
                    .timeout(java.time.Duration.ofSeconds(30)).header("Content-Type", "application/octet-stream")
                    .header("X-Shape", rows + ",64").POST(HttpRequest.BodyPublishers.ofByteArray(b.array())).build();
            return HTTP.send(req, HttpResponse.BodyHandlers.ofString());
        }

        /**
         * {@code n} batches to the current node as fast as it answers, from the caller's thread (the producer is paused):
         * a backlog that rounds of a few hundred rows per worker take seconds to drain. Returns the rows answered 200.
         */
        long burst(int n) throws Exception {
            long rows = 0;
            for (int i = 0; i < n; i++) {
                HttpResponse<String> r = push(ports[at]);
                assertTrue(r.statusCode() == 200 || r.statusCode() == 202 || r.statusCode() == 503, "burst push answered "
                        + r.statusCode() + ": " + r.body());
                if (r.statusCode() != 503) {
                    count(r);
                    rows += 512;
                }
            }
            return rows;
        }

        void awaitBatches(long n, long seconds) throws Exception {
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            while (batches.get() < n && System.nanoTime() < end && failure == null) {
                Thread.sleep(50);
            }
            if (failure != null) {
                throw new AssertionError("producer failed", failure);
            }
            assertTrue(batches.get() >= n, "producer pushed " + batches.get() + " batches, not " + n + " within " + seconds + " s");
        }
    }

    @Test
    void threeServeNodesTrainOneRunFromTwoProducersAndAccountForEveryRowAfterANodeIsKilled(@TempDir Path dir) throws Exception {
        twoProducersAndAKilledCoordinatorNode(dir, "star");
    }

    @Test
    void aShardedRunOfThreeServeNodesTrainsTwoProducersRowsAndAccountsForEveryRowAfterANodeIsKilled(@TempDir Path dir)
            throws Exception {
        twoProducersAndAKilledCoordinatorNode(dir, "sharded");
    }

    /**
     * Three {@code serve --cluster} nodes, one live run of {@code design}: two producers push to two nodes, the coordinator's
     * node is killed right after a push was answered, the coordinator moves, the run is stopped through another node, and
     * every accepted row is trained or counted lost with the killed node.
     */
    private void twoProducersAndAKilledCoordinatorNode(Path dir, String design) throws Exception {
        int[] ports = ClusterNode.freePorts(6); // 3 HTTP, 3 cluster
        Path runs = dir.resolve("runs");
        for (int i = 0; i < 3; i++) {
            serve(dir, i, ports[i], ports[3 + i], ports[3], runs)
                    .await(l -> l.startsWith("proxstream serve --cluster: API"), 90, "serve node started");
        }
        HttpResponse<String> created = call("POST", ports[0], "/runs", "{\"name\":\"live\",\"dim\":64,\"latents\":256,\"k\":8,"
                + "\"batch\":256,\"batchesPerShard\":2,\"minWorkers\":2,\"checkpointEvery\":5,\"roundTimeoutMs\":20000,"
                + "\"design\":\"" + design + "\"}");
        assertEquals(201, created.statusCode(), created.body());
        assertEquals(409, call("POST", ports[1], "/runs", "{\"name\":\"live\",\"dim\":64}").statusCode(), "the name is taken");
        HttpResponse<String> bad = call("POST", ports[1], "/runs", "{\"name\":\"x\",\"dim\":64,\"latentz\":3}");
        assertEquals(400, bad.statusCode(), bad.body());
        assertTrue(bad.body().contains("latentz"), "an unknown option is named: " + bad.body());
        assertTrue(call("GET", ports[2], "/runs", null).body().contains("\"name\":\"live\""), "any node lists the run");
        JsonNode s = awaitStatus(ports[2], "live", j -> j.path("workers").size() == 3, 60, "three workers");
        String coordinator = s.get("coordinator").asText();

        // two producers push to two different nodes, one of them the coordinator's; each fails over to the third node
        int c = -1;
        for (int i = 0; i < 3; i++) {
            if (coordinator.endsWith(":" + ports[3 + i])) {
                c = i;
            }
        }
        assertTrue(c >= 0, "the coordinator is one of the three nodes: " + coordinator);
        int other = (c + 1) % 3;
        int third = (c + 2) % 3;
        Producer a = new Producer(1, ports[c], ports[third]);
        Producer b = new Producer(2, ports[other], ports[third]);
        a.start();
        b.start();
        a.awaitBatches(8, 120);
        b.awaitBatches(8, 120);
        // kill the coordinator's node, which holds rows of producer a: the coordinator must move, those rows are lost.
        // A backlog first (80 000 rows; rounds take 512 per worker, so it needs 160 rounds, several seconds, to drain:
        // without it the node's queue may be empty and durable by the time it dies, and nothing is lost), then SIGKILL
        // right after the last push was answered: a 200 means the coordinator recorded the rows, so none is missing from
        // the ledger however soon the node dies. (Producer a pauses so that no push is in flight at the kill: a push whose
        // answer never came may or may not have been recorded, and the test could not count it.)
        a.pause();
        long backlog = a.burst(160);
        assertTrue(backlog >= 40 * 512, "the node took a backlog: " + backlog + " rows");
        nodes.get(c).process.destroyForcibly();
        assertTrue(nodes.get(c).process.waitFor(30, TimeUnit.SECONDS));
        a.paused.set(false);
        long before = a.batches.get();
        a.awaitBatches(a.batches.get() + 6, 120);
        b.awaitBatches(b.batches.get() + 6, 120);
        assertTrue(a.batches.get() > before && a.at == 1, "the producer of the killed node went on with another node");
        a.stop.set(true);
        b.stop.set(true);
        a.join(60_000);
        b.join(60_000);
        long pushed = a.accepted.get() + b.accepted.get();

        // every accepted row is trained or counted lost with the killed node; then stop the run through the third node
        int survivor = ports[other];
        JsonNode drained = awaitStatus(ports[third], "live", j -> j.path("ingest").path("accepted").asLong() == pushed
                && j.path("ingest").path("queued").asLong() == 0, 120, "every pushed row trained or lost");
        assertNotEquals(coordinator, drained.get("coordinator").asText(), "the coordinator moved off the killed node");
        assertEquals(2, drained.get("workers").size(), drained.toString());
        assertEquals(202, call("POST", survivor, "/runs/live/stop", null).statusCode());
        JsonNode done = awaitStatus(ports[third], "live", j -> "finished".equals(j.path("state").asText()), 120, "the run finished");
        JsonNode ledger = done.get("ingest");
        long trained = ledger.get("trained").asLong();
        long lost = ledger.get("lost").get("node_lost").asLong();
        assertEquals(pushed, ledger.get("accepted").asLong(), "the ledger holds every row answered 2xx (" + (a.unrecorded.get()
                + b.unrecorded.get()) + " of them 202, recorded after their answer): " + done);
        assertEquals(pushed, trained + lost, "accepted = trained + lost: " + done);
        assertEquals(0, ledger.get("queued").asLong());
        assertEquals(trained, done.get("rows").asLong(), "the model holds exactly the trained rows");
        assertTrue(trained > 0 && lost > 0 && done.get("stopped").asBoolean(), "rows were trained, and the killed node held some: "
                + done);
        assertTrue(done.get("fvu").asDouble() < 1.0, "the SAE explains some variance: " + done);
        if (design.equals("sharded")) {
            assertEquals("column-sharded", done.get("design").asText(), done.toString());
        }
        System.out.printf("ClusterServeIT (" + design + "): coordinator %s -> %s, killed node %d (the coordinator's) right after a push answered 200;"
                + " accepted %d (%d answered 202) = trained %d + lost %d; FVU %.3f%n", coordinator, drained.get("coordinator").asText(),
                c, pushed, a.unrecorded.get() + b.unrecorded.get(), trained, lost, done.get("fvu").asDouble());

        // the trained SAE, from any surviving node; pushes after the end are refused
        HttpResponse<byte[]> model = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports[third] + "/runs/live/model"))
                .build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, model.statusCode());
        assertEquals(Files.size(runs.resolve("live").resolve("model.safetensors")), model.body().length);
        assertTrue(model.body().length > 4L * 2 * 256 * 64, "encoder and decoder: " + model.body().length + " bytes");
        HttpResponse<String> late = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + survivor + "/runs/live/batches"))
                .header("Content-Type", "application/octet-stream").header("X-Shape", "1,64")
                .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[256])).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(409, late.statusCode(), late.body());
    }

    @Test
    void aCoordinatorWhoseNodeLeavesGracefullyCheckpointsBeforeItMoves(@TempDir Path dir) throws Exception {
        int[] ports = ClusterNode.freePorts(6);
        Path runs = dir.resolve("runs");
        for (int i = 0; i < 3; i++) {
            serve(dir, i, ports[i], ports[3 + i], ports[3], runs)
                    .await(l -> l.startsWith("proxstream serve --cluster: API"), 90, "serve node started");
        }
        // no periodic checkpoint (every 100 000 rounds): only the hand-off can make the rounds durable before the move
        assertEquals(201, call("POST", ports[0], "/runs", "{\"name\":\"live\",\"dim\":64,\"latents\":256,\"k\":8,"
                + "\"batch\":256,\"batchesPerShard\":1,\"minWorkers\":1,\"checkpointEvery\":100000}").statusCode());
        JsonNode s = awaitStatus(ports[1], "live", j -> j.path("workers").size() == 3, 60, "three workers");
        int c = -1;
        for (int i = 0; i < 3; i++) {
            if (s.get("coordinator").asText().endsWith(":" + ports[3 + i])) {
                c = i;
            }
        }
        int target = (c + 1) % 3;
        // a backlog on a node that stays: rounds of 256 rows drain it for a while, so the queues never run dry (no idle
        // checkpoint) while the coordinator's node leaves
        Producer p = new Producer(3, ports[target]);
        p.start();
        p.awaitBatches(40, 120);
        p.stop.set(true);
        p.join(60_000);
        long before = awaitStatus(ports[target], "live", j -> j.path("round").asLong() >= 3, 60, "rounds").path("round").asLong();
        // SIGTERM (through the handle: Process.destroy would also close the pipe this test reads the node's output from):
        // Pekko's coordinated shutdown leaves the cluster and sharding hands the run's coordinator off
        nodes.get(c).process.toHandle().destroy();
        assertTrue(nodes.get(c).process.waitFor(60, TimeUnit.SECONDS));
        nodes.get(c).await(l -> l.contains("coordinator handed to another node"), 10, "the hand-off");
        String resumed = null;
        long end = System.nanoTime() + 60_000_000_000L;
        while (resumed == null && System.nanoTime() < end) {
            for (int i = 0; i < 3; i++) {
                for (String l : nodes.get(i).lines) {
                    if (i != c && l.contains("coordinator resumed from checkpoint at round")) {
                        resumed = l;
                    }
                }
            }
            Thread.sleep(100);
        }
        assertTrue(resumed != null, "a coordinator on another node resumed from the hand-off's checkpoint");
        long round = Long.parseLong(resumed.replaceAll(".*at round (\\d+).*", "$1"));
        assertTrue(round >= before, "resumed at round " + round + " (the old coordinator was at round " + before + " when its node"
                + " was told to stop), where it ended: " + resumed);
        long pushed = p.accepted.get();
        JsonNode drained = awaitStatus(ports[target], "live", j -> j.path("ingest").path("trained").asLong() == pushed, 120,
                "every pushed row trained");
        assertEquals(0, drained.path("ingest").path("lost").path("node_lost").asLong(), "a graceful move loses no row: " + drained);
        System.out.printf("ClusterServeIT: hand-off resumed at round %d; %d rows pushed, all trained%n", round, pushed);
    }
}
