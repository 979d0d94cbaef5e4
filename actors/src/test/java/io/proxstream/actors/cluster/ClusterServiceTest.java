package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.proxstream.actors.serve.ServeAuth;
import io.proxstream.protocol.config.ServeConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.stream.Materializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One {@code serve --cluster} node in this JVM, through its HTTP API: what a run's creation refuses and why (bad name,
 * no width, unknown option, a coordinator too large for the heap, a taken name), a token guarding everything but
 * {@code /health}, and a live run's whole life on one node — rows pushed, trained, exported, stopped, its model
 * downloaded — ending with a ledger that accounts for every row.
 */
class ClusterServiceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "a-token-of-at-least-16-chars";
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private ClusterService service;
    private NodeIngest ingest;
    private ServeAuth auth;

    @AfterEach
    void stop() throws Exception {
        if (service != null) {
            service.system().terminate();
            service.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    private int start(Path dir) throws Exception {
        int cluster = ClusterNode.freePorts(1)[0];
        io.proxstream.monitoring.Meters meters = new io.proxstream.monitoring.Meters();
        var registry = meters.registry();
        service = ClusterService.start(new ClusterService.Options("127.0.0.1", cluster, List.of("127.0.0.1:" + cluster),
                List.of("coordinator", "worker"), Duration.ofSeconds(3), null, dir.resolve("runs"), 16L << 20, 60_000, 8L << 20,
                500, 1e5), registry);
        ServeConfig sc = new ServeConfig("127.0.0.1", 0, -1, dir.resolve("runs").toString(), "", 8L << 20, 500, 100,
                "", false);
        auth = ServeAuth.resolve(sc, Map.of(ServeAuth.ENV, TOKEN), registry);
        Materializer mat = Materializer.createMaterializer(service.system());
        ingest = new NodeIngest(service::queue, auth, mat, 8L << 20, 500, 60_000, 1e5, registry);
        var metrics = new io.proxstream.monitoring.MetricsServer(meters, Map::of).routes();
        return Http.get(service.system()).newServerAt("127.0.0.1", 0).bind(new ClusterRoutes(service, ingest, auth, metrics, mat)
                .routes()).toCompletableFuture().get(30, TimeUnit.SECONDS).localAddress().getPort();
    }

    private static HttpResponse<String> call(int port, String method, String path, byte[] body, String... headers) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        r.header("Authorization", "Bearer " + TOKEN);
        for (int i = 0; i < headers.length; i += 2) {
            r.setHeader(headers[i], headers[i + 1]);
        }
        return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> create(int port, String json) throws Exception {
        return call(port, "POST", "/runs", json.getBytes(), "Content-Type", "application/json");
    }

    private static JsonNode await(int port, String run, java.util.function.Predicate<JsonNode> ok, String what) throws Exception {
        long end = System.nanoTime() + 60_000_000_000L;
        JsonNode s = null;
        while (System.nanoTime() < end) {
            HttpResponse<String> r = call(port, "GET", "/runs/" + run, null);
            assertEquals(200, r.statusCode(), r.body());
            s = JSON.readTree(r.body());
            if (ok.test(s)) {
                return s;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no " + what + " within 60 s; last " + s);
    }

    private static byte[] rows(int n, int d, long seed) {
        java.util.Random g = new java.util.Random(seed);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * n * d).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n * d; i++) {
            b.putFloat((float) g.nextGaussian());
        }
        return b.array();
    }

    @Test
    void runCreationRefusesWhatCannotWorkAndNamesWhy(@TempDir Path dir) throws Exception {
        int port = start(dir);
        HttpResponse<String> r = create(port, "{\"name\":\"../x\",\"dim\":8}");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("run name"), r.body());
        r = create(port, "{\"name\":\"a\"}");
        assertEquals(400, r.statusCode());
        assertTrue(r.body().contains("dim"), r.body());
        r = create(port, "{\"name\":\"a\",\"dim\":8,\"latentz\":4}");
        assertEquals(400, r.statusCode());
        assertTrue(r.body().contains("latentz"), r.body());
        r = create(port, "{\"name\":\"a\",\"dim\":8,\"k\":0}");
        assertEquals(400, r.statusCode(), r.body());
        r = create(port, "not json");
        assertEquals(400, r.statusCode(), r.body());
        // 16 384 latents with the exact step: three 2 GiB statistics matrices do not fit this test JVM's heap
        r = create(port, "{\"name\":\"big\",\"dim\":768,\"latents\":16384,\"k\":32,\"decoder\":\"exact\"}");
        assertEquals(422, r.statusCode(), r.body());
        assertTrue(r.body().contains("heap") && r.body().contains("GiB"), r.body());
        assertTrue(!Files.exists(dir.resolve("runs").resolve("big")), "nothing is written for a refused run");
        assertEquals(201, create(port, "{\"name\":\"a\",\"dim\":8,\"latents\":16,\"k\":2,\"batch\":32}").statusCode());
        assertEquals(409, create(port, "{\"name\":\"a\",\"dim\":8}").statusCode());
        // serve's name for the width (what the Python client's create_run sends) is the same key; a disagreeing pair is refused
        r = create(port, "{\"name\":\"b\",\"dim\":8,\"inputDim\":9}");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("disagree"), r.body());
        assertEquals(201, create(port, "{\"name\":\"b\",\"inputDim\":8,\"latents\":16,\"k\":2,\"batch\":32}").statusCode());
        assertTrue(Files.readString(dir.resolve("runs/b").resolve(ClusterService.RUN_FILE)).contains("\"dim\" : 8")
                || Files.readString(dir.resolve("runs/b").resolve(ClusterService.RUN_FILE)).contains("\"dim\":8"), "width 8");
        assertEquals(404, call(port, "GET", "/runs/nope", null).statusCode());
        assertEquals(404, call(port, "POST", "/runs/nope/batches", rows(1, 8, 1), "Content-Type", "application/octet-stream",
                "X-Shape", "1,8").statusCode());
        // the token guards the API and the metrics, not the health check
        HttpResponse<String> anon = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/runs")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(401, anon.statusCode());
        assertEquals(401, HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(200, HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
    }

    @Test
    void aLiveRunOnOneNodeTrainsExportsStopsAndAccountsForEveryRow(@TempDir Path dir) throws Exception {
        int port = start(dir);
        assertEquals(201, create(port, "{\"name\":\"live\",\"dim\":16,\"latents\":64,\"k\":4,\"batch\":64,\"checkpointEvery\":3}")
                .statusCode());
        await(port, "live", s -> s.path("workers").size() == 1 && s.has("thisNode"), "the node's worker");
        HttpResponse<String> wide = call(port, "POST", "/runs/live/batches", rows(4, 8, 1), "Content-Type", "application/octet-stream",
                "X-Shape", "4,8");
        assertEquals(422, wide.statusCode(), "rows of another width: " + wide.body());
        long pushed = 0;
        for (int i = 0; i < 6; i++) {
            HttpResponse<String> r = call(port, "POST", "/runs/live/batches", rows(256, 16, i), "Content-Type",
                    "application/octet-stream", "X-Shape", "256,16");
            assertEquals(200, r.statusCode(), r.body());
            pushed += 256;
        }
        // TCP ingest (serve's frames): authentication first, then frames; bad frames rejected with their reason
        int tcpPort = io.proxstream.actors.serve.TcpIngest.bind(service.system(), "127.0.0.1", 0, 8L << 20, ingest::target, auth, null)
                .toCompletableFuture().get(30, TimeUnit.SECONDS).localAddress().getPort();
        try (java.net.Socket sock = new java.net.Socket("127.0.0.1", tcpPort)) {
            assertEquals(io.proxstream.protocol.ingest.IngestFrame.ACCEPTED, io.proxstream.actors.serve.ServeTest.tcp(sock,
                    io.proxstream.protocol.ingest.IngestFrame.encodeAuth(TOKEN)).status());
            float[] x = new float[256 * 16];
            java.util.Random g = new java.util.Random(5);
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) g.nextGaussian();
            }
            var ok = io.proxstream.actors.serve.ServeTest.tcp(sock, io.proxstream.protocol.ingest.IngestFrame.encode("live", x, 256, 16));
            assertEquals(io.proxstream.protocol.ingest.IngestFrame.ACCEPTED, ok.status(), ok.reason());
            pushed += 256;
            var wrong = io.proxstream.actors.serve.ServeTest.tcp(sock, io.proxstream.protocol.ingest.IngestFrame.encode("live",
                    new float[2 * 8], 2, 8));
            assertEquals(io.proxstream.protocol.ingest.IngestFrame.REJECTED, wrong.status());
            assertTrue(wrong.reason().contains("width 8"), wrong.reason());
            x[17] = Float.NaN;
            var nan = io.proxstream.actors.serve.ServeTest.tcp(sock, io.proxstream.protocol.ingest.IngestFrame.encode("live", x, 256, 16));
            assertEquals(io.proxstream.protocol.ingest.IngestFrame.REJECTED, nan.status());
            assertTrue(nan.reason().contains("NaN"), nan.reason());
            var unknown = io.proxstream.actors.serve.ServeTest.tcp(sock, io.proxstream.protocol.ingest.IngestFrame.encode("nope", x, 1, 16));
            assertEquals(io.proxstream.protocol.ingest.IngestFrame.REJECTED, unknown.status());
        }
        // a watched directory (serve --cluster --watch): a shard dropped into WATCH/live/ goes to this node's queue, whole,
        // and moves to done/; a file that does not read moves to rejected/ beside its reason
        Path watch = dir.resolve("watch");
        var watcher = io.proxstream.actors.serve.ShardWatcher.start(service.system(), watch, service::liveRuns, ingest::target,
                Duration.ofMillis(100));
        Files.createDirectories(watch.resolve("live"));
        // 320 rows: whole minibatches of 64 (a round leases whole minibatches, so a remainder would hold back the acked rows below)
        float[] shard = new float[320 * 16];
        java.util.Random g = new java.util.Random(11);
        for (int i = 0; i < shard.length; i++) {
            shard[i] = (float) g.nextGaussian();
        }
        io.proxstream.protocol.format.Npy.write(watch.resolve("live").resolve("shard-0.npy.tmp"), shard, 320, 16);
        Files.writeString(watch.resolve("live").resolve("broken.npy"), "not an npy file");
        Files.move(watch.resolve("live").resolve("shard-0.npy.tmp"), watch.resolve("live").resolve("shard-0.npy"));
        long until = System.nanoTime() + 60_000_000_000L;
        while (!(Files.exists(watch.resolve("live/done/shard-0.npy")) && Files.exists(watch.resolve("live/rejected/broken.npy.reason.txt")))
                && System.nanoTime() < until) {
            Thread.sleep(50);
        }
        watcher.cancel();
        assertTrue(Files.exists(watch.resolve("live/done/shard-0.npy")), "the shard was queued whole and moved to done/");
        String reason = Files.readString(watch.resolve("live/rejected/broken.npy.reason.txt"));
        assertTrue(reason.contains("broken.npy") && reason.contains("not a .npy file"), reason);
        pushed += 320;
        // acknowledgement mode: the answer comes once the rows are in a checkpointed model
        HttpResponse<String> acked = call(port, "POST", "/runs/live/batches", rows(128, 16, 9), "Content-Type",
                "application/octet-stream", "X-Shape", "128,16", "X-Ack", "trained");
        assertEquals(200, acked.statusCode(), acked.body());
        assertTrue(acked.body().contains("\"trained\":128"), acked.body());
        pushed += 128;
        long all = pushed;
        JsonNode s = await(port, "live", j -> j.path("ingest").path("trained").asLong() == all, "every row trained");
        assertEquals(all, s.path("thisNode").path("accepted").asLong(), s.toString());

        HttpResponse<String> export = call(port, "POST", "/runs/live/export", null);
        assertEquals(200, export.statusCode(), export.body());
        HttpResponse<String> weights = call(port, "GET", "/runs/live/export/sae_weights.safetensors", null);
        assertEquals(200, weights.statusCode());
        assertTrue(weights.body().length() > 2 * 4 * 64 * 16, "encoder and decoder exported");
        assertEquals(404, call(port, "GET", "/runs/live/model", null).statusCode(), "no model before the end");
        assertEquals(404, call(port, "GET", "/runs/live/export/..%2F" + ClusterService.RUN_FILE, null).statusCode());

        assertEquals(202, call(port, "POST", "/runs/live/stop", null).statusCode());
        JsonNode done = await(port, "live", j -> "finished".equals(j.path("state").asText()), "the run's end");
        assertEquals(all, done.path("ingest").path("accepted").asLong());
        assertEquals(all, done.path("ingest").path("trained").asLong());
        assertEquals(all, done.path("rows").asLong());
        assertTrue(done.path("stopped").asBoolean(), done.toString());
        assertEquals(200, call(port, "GET", "/runs/live/model", null).statusCode());
        assertEquals(409, call(port, "POST", "/runs/live/batches", rows(1, 16, 1), "Content-Type", "application/octet-stream",
                "X-Shape", "1,16").statusCode(), "the run has ended");
        String m = call(port, "GET", "/metrics", null).body();
        assertTrue(m.contains("cluster_ledger_rows{node=\"127.0.0.1:") && m.contains("run=\"live\",state=\"trained\"} " + all + ".0"), m);
        java.util.regex.Matcher mse = java.util.regex.Pattern.compile("cluster_train_mse\\{node=\"[^\"]+\",run=\"live\"} (\\S+)").matcher(m);
        assertTrue(mse.find(), m);
        double v = Double.parseDouble(mse.group(1));
        assertTrue(v > 0 && v < 1.5, "the last round's reconstruction error per entry (unit-variance rows): " + v);
    }

    @Test
    void aRunWhoseCheckpointsDoNotReadBackIsAFailedRunTheUserSeesNotAFreshStart(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("runs").resolve("broken");
        Files.createDirectories(run.resolve("checkpoints"));
        Files.writeString(run.resolve(ClusterService.RUN_FILE), io.proxstream.protocol.config.ConfigLoader.toJson(
                ClusterService.runDefaults()));
        Path bad = run.resolve("checkpoints").resolve("ckpt-000000000004096.safetensors");
        Files.write(bad, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        int port = start(dir);
        long end = System.nanoTime() + 30_000_000_000L;
        HttpResponse<String> r = call(port, "GET", "/runs/broken", null);
        while (!r.body().contains("\"failed\"") && System.nanoTime() < end) {
            Thread.sleep(100);
            r = call(port, "GET", "/runs/broken", null);
        }
        assertEquals(500, r.statusCode(), r.body());
        assertTrue(r.body().contains("ckpt-000000000004096") && r.body().contains("Move them aside"), r.body());
        assertTrue(Files.exists(bad), "the unreadable checkpoint is kept");
        assertTrue(!Files.exists(run.resolve("summary.json")), "nothing was trained over it");
    }
}
