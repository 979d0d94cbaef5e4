package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.proxstream.actors.train.SaeModelFiles;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.protocol.format.Npy;
import io.proxstream.protocol.format.Safetensors;
import io.proxstream.protocol.ingest.IngestFrame;
import io.proxstream.solvers.data.PlantedDictionary;
import io.proxstream.solvers.sae.SaeModel;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The online service in process: every ingest path, every rejection, the API, restart and resume. */
public class ServeTest {
    private static final int D = 32;
    private static final PlantedDictionary GEN = new PlantedDictionary(new PlantedDictionary.Options(D, 64, 5, 0.99, 0, 3));
    private static final String RUN_JSON = "{\"name\": \"r1\", \"inputDim\": 32, \"sae\": {\"latents\": 128, \"k\": 4},"
            + " \"batchSize\": 64, \"checkpointEvery\": 4000, \"reportEvery\": 512, \"keepCheckpoints\": 2,"
            // these tests count every pushed row as trained: no hold-out (latentHealth… tests the default)
            + " \"health\": {\"holdout\": 0}}";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();

    private ServeServer start() throws Exception {
        return ServeServer.start(new ServeConfig("127.0.0.1", 0, 0, tmp.resolve("runs").toString(), "", 1 << 20, 500, 100));
    }

    private HttpResponse<String> send(ServeServer s, String method, String path, byte[] body, String... headers) throws Exception {
        return send(http, s, method, path, body, headers);
    }

    /** One request to the server's HTTP port ({@code headers}: name, value, name, value, ...). */
    static HttpResponse<String> send(HttpClient http, ServeServer s, String method, String path, byte[] body, String... headers)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.httpPort() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static byte[] raw(float[] x) {
        ByteBuffer b = ByteBuffer.allocate(4 * x.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(x);
        return b.array();
    }

    private static float[] rows(int n, long seed) {
        return GEN.sample(n, seed).data();
    }

    private JsonNode status(ServeServer s) throws Exception {
        return ConfigLoader.mapper().readTree(send(s, "GET", "/runs/r1", null).body());
    }

    private JsonNode awaitSamples(ServeServer s, long atLeast) throws Exception {
        long end = System.currentTimeMillis() + 60_000;
        JsonNode st = status(s);
        while (st.get("samples").asLong() < atLeast && System.currentTimeMillis() < end) {
            Thread.sleep(50);
            st = status(s);
        }
        assertTrue(st.get("samples").asLong() >= atLeast, "trained " + st.get("samples") + " of " + atLeast);
        return st;
    }

    /** Writes one frame and reads its reply. */
    public static IngestFrame.Reply tcp(Socket sock, ByteBuffer frame) throws IOException {
        OutputStream o = sock.getOutputStream();
        o.write(frame.array(), frame.arrayOffset() + frame.position(), frame.remaining());
        o.flush();
        DataInputStream in = new DataInputStream(sock.getInputStream());
        byte[] len = new byte[4];
        in.readFully(len);
        int n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getInt();
        byte[] body = new byte[n];
        in.readFully(body);
        return IngestFrame.decodeReply(ByteBuffer.wrap(body));
    }

    @Test
    void everyFormatAndTransportTrainsAndEveryBadBatchIsRejectedWithItsReason() throws Exception {
        try (ServeServer s = start()) {
            HttpResponse<String> created = send(s, "POST", "/runs", RUN_JSON.getBytes(), "Content-Type", "application/json");
            assertEquals(201, created.statusCode(), created.body());
            assertEquals(409, send(s, "POST", "/runs", RUN_JSON.getBytes()).statusCode(), "duplicate name");
            HttpResponse<String> bad = send(s, "POST", "/runs", "{\"name\": \"r2\", \"inputDim\": 8, \"sae\": {\"k\": 0}}".getBytes());
            assertEquals(400, bad.statusCode());
            assertTrue(bad.body().contains("sae.k must be in [1, latents=1024]"), bad.body());
            assertEquals(400, send(s, "POST", "/runs", "{\"inputDim\": 8}".getBytes()).statusCode());

            long sent = 0;
            HttpResponse<String> r = send(s, "POST", "/runs/r1/batches", raw(rows(500, 1)), "Content-Type", "application/octet-stream",
                    "X-Shape", "500,32");
            assertEquals(200, r.statusCode(), r.body());
            sent += 500;
            Path npy = tmp.resolve("b.npy");
            Npy.write(npy, rows(300, 2), 300, D);
            assertEquals(200, send(s, "POST", "/runs/r1/batches", Files.readAllBytes(npy), "Content-Type", "application/x-npy").statusCode());
            sent += 300;
            Path st = tmp.resolve("b.safetensors");
            Safetensors.write(st, Map.of("acts", new Safetensors.Tensor(new long[] {200, D}, rows(200, 3))), Map.of());
            assertEquals(200, send(s, "POST", "/runs/r1/batches?tensor=acts", Files.readAllBytes(st), "Content-Type",
                    "application/x-safetensors").statusCode());
            sent += 200;
            try (Socket sock = new Socket("127.0.0.1", s.tcpPort())) {
                for (int i = 0; i < 5; i++) {
                    IngestFrame.Reply rep = tcp(sock, IngestFrame.encode("r1", rows(400, 10 + i), 400, D));
                    assertEquals(IngestFrame.ACCEPTED, rep.status(), rep.reason());
                    assertEquals(400, rep.rows());
                    sent += 400;
                }
                // TCP rejections keep the connection usable
                ByteBuffer badMagic = IngestFrame.encode("r1", rows(2, 5), 2, D);
                badMagic.put(4, (byte) 'X');
                assertReply(tcp(sock, badMagic), IngestFrame.REJECTED, "bad magic");
                assertReply(tcp(sock, IngestFrame.encode("r1", new float[2 * 31], 2, 31)), IngestFrame.REJECTED, "width 31");
                float[] nan = rows(3, 6);
                nan[40] = Float.NaN;
                assertReply(tcp(sock, IngestFrame.encode("r1", nan, 3, D)), IngestFrame.REJECTED, "row 1 holds NaN");
                assertReply(tcp(sock, IngestFrame.encode("nobody", rows(1, 1), 1, D)), IngestFrame.REJECTED, "no run 'nobody'");
                assertReply(tcp(sock, IngestFrame.encode("r1", rows(100, 7), 100, D)), IngestFrame.ACCEPTED, "");
                sent += 100;
            }
            try (Socket sock = new Socket("127.0.0.1", s.tcpPort())) {
                // a length field beyond the frame limit breaks the framing: fatal reply, then the server closes
                ByteBuffer huge = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(Integer.MAX_VALUE - 100).putInt(0);
                huge.flip();
                assertReply(tcp(sock, huge), IngestFrame.FATAL, "broken framing");
                assertEquals(-1, sock.getInputStream().read(), "connection closed after a fatal frame");
            }

            float[] wide = rows(4, 8);
            assertRejected(send(s, "POST", "/runs/r1/batches", raw(java.util.Arrays.copyOf(wide, 4 * 31)), "Content-Type",
                    "application/octet-stream", "X-Shape", "4,31"), 422, "width 31");
            float[] inf = rows(5, 9);
            inf[3 * D + 1] = Float.POSITIVE_INFINITY;
            assertRejected(send(s, "POST", "/runs/r1/batches", raw(inf), "Content-Type", "application/octet-stream", "X-Shape", "5,32"),
                    422, "row 3 holds NaN or Inf");
            byte[] body = raw(rows(10, 10));
            assertRejected(send(s, "POST", "/runs/r1/batches", java.util.Arrays.copyOf(body, body.length - 6), "Content-Type",
                    "application/octet-stream", "X-Shape", "10,32"), 400, "truncated");
            assertRejected(send(s, "POST", "/runs/r1/batches", body, "Content-Type", "application/octet-stream", "X-Shape", "ten,32"),
                    400, "not ROWS,COLS");
            assertRejected(send(s, "POST", "/runs/r1/batches", body, "Content-Type", "application/octet-stream"), 400, "X-Shape");
            assertRejected(send(s, "POST", "/runs/r1/batches", "this is definitely not a numpy file".getBytes(), "Content-Type", "application/x-npy"), 400,
                    "bad magic");
            assertRejected(send(s, "POST", "/runs/r1/batches", new byte[] {1, 2, 3}, "Content-Type", "application/x-safetensors"), 400,
                    "truncated");
            assertRejected(send(s, "POST", "/runs/r1/batches", body, "Content-Type", "text/csv"), 415, "unsupported Content-Type");
            assertRejected(send(s, "POST", "/runs/r1/batches", body, "Content-Type", "application/octet-stream", "X-Shape",
                    "5000000,32"), 413, "exceeds the limit");
            assertRejected(send(s, "POST", "/runs/r1/batches", new byte[(1 << 20) + 4], "Content-Type", "application/x-npy"), 413,
                    "exceeds the limit");
            assertEquals(404, send(s, "POST", "/runs/nobody/batches", body, "Content-Type", "application/octet-stream",
                    "X-Shape", "10,32").statusCode());

            // the run goes on: a last good batch is trained
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(640, 11)), "Content-Type", "application/octet-stream",
                    "X-Shape", "640,32").statusCode());
            sent += 640;
            JsonNode stat = awaitSamples(s, sent - 64);
            assertEquals("TRAINING", stat.get("state").asText());
            assertEquals(sent, stat.get("ingestedRows").asLong());
            assertEquals(12, stat.get("rejectedBatches").asLong(), stat.toString());
            String metrics = send(s, "GET", "/metrics", null).body();
            assertTrue(metrics.contains("ingest_rejected_total{reason=\"width\",run=\"r1\"} 2.0"), metrics);
            assertTrue(metrics.contains("ingest_rejected_total{reason=\"non_finite\",run=\"r1\"} 2.0"), metrics);
            assertTrue(metrics.contains("ingest_rejected_total{reason=\"too_large\",run=\"r1\"} 2.0"), metrics);
            assertTrue(metrics.contains("ingest_rejected_total{reason=\"malformed\",run=\"r1\"} 6.0"), metrics);
            assertTrue(metrics.contains("ingest_rows_total{run=\"r1\",transport=\"tcp\"} 2100.0"), metrics);
            JsonNode hist = ConfigLoader.mapper().readTree(send(s, "GET", "/runs/r1/history?after=0", null).body());
            assertTrue(hist.size() >= 3, hist.toString());
            assertTrue(hist.get(hist.size() - 1).get("fvu").asDouble() < hist.get(0).get("fvu").asDouble(), "FVU falls: " + hist);
        }
    }

    private static void assertReply(IngestFrame.Reply r, byte status, String fragment) {
        assertEquals(status, r.status(), r.reason());
        assertTrue(r.reason().contains(fragment), "'" + r.reason() + "' should say '" + fragment + "'");
    }

    private static void assertRejected(HttpResponse<String> r, int status, String fragment) {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.body().contains(fragment), "'" + r.body() + "' should say '" + fragment + "'");
    }

    @Test
    void checkpointsExportsStopsAndResumesAfterARestart() throws Exception {
        long trained;
        float[] exportedDecoder;
        try (ServeServer s = start()) {
            assertEquals(201, send(s, "POST", "/runs", RUN_JSON.getBytes()).statusCode());
            for (int i = 0; i < 20; i++) {
                assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 100 + i)), "Content-Type",
                        "application/octet-stream", "X-Shape", "512,32").statusCode());
            }
            awaitSamples(s, 20 * 512);
            HttpResponse<String> ck = send(s, "POST", "/runs/r1/checkpoint", null);
            assertEquals(200, ck.statusCode(), ck.body());
            assertTrue(ck.body().contains("ckpt-000000000010240.safetensors"), ck.body());
            HttpResponse<String> ex = send(s, "POST", "/runs/r1/export", null);
            assertEquals(200, ex.statusCode(), ex.body());
            HttpResponse<byte[]> cfg = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.httpPort()
                    + "/runs/r1/export/cfg.json")).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertTrue(new String(cfg.body()).contains("\"d_sae\" : 128"));
            SaeModel exported = SaeModelFiles.importSaeLens(tmp.resolve("runs/r1/export"));
            exportedDecoder = exported.decoderWeights();
            HttpResponse<String> stop = send(s, "POST", "/runs/r1/stop", null);
            assertEquals(200, stop.statusCode(), stop.body());
            assertTrue(stop.body().contains("\"state\" : \"STOPPED\""), stop.body());
            assertEquals(409, send(s, "POST", "/runs/r1/batches", raw(rows(2, 1)), "Content-Type", "application/octet-stream",
                    "X-Shape", "2,32").statusCode(), "a stopped run takes no data");
            trained = status(s).get("samples").asLong();
            assertEquals(20 * 512, trained);
            // export of a stopped run reads the idle trainer directly
            assertEquals(200, send(s, "POST", "/runs/r1/export", null).statusCode());
        }
        try (ServeServer s = start()) {
            s.awaitRuns(java.util.List.of("r1"), java.time.Duration.ofSeconds(30));
            JsonNode st = status(s);
            assertEquals("TRAINING", st.get("state").asText());
            assertEquals(trained, st.get("samples").asLong());
            assertEquals("ckpt-000000000010240.safetensors", st.get("resumedFrom").asText());
            SaeModel resumed = SaeModelFiles.importSaeLens(tmp.resolve("runs/r1/export"));
            assertArrayEquals(exportedDecoder, resumed.decoderWeights(), "the stopped run's export is the trained model");
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(640, 999)), "Content-Type", "application/octet-stream",
                    "X-Shape", "640,32").statusCode());
            awaitSamples(s, trained + 640);
        }
    }

    @Test
    void aRunStillLoadingItsCheckpointKeepsTheServiceNotReadyAndAsksPushesToRetry() throws Exception {
        // a checkpoint that is a named pipe: reading it blocks until the test writes, so the run stays LOADING
        Path dir = tmp.resolve("runs/r1");
        Files.createDirectories(dir.resolve("checkpoints"));
        Files.writeString(dir.resolve("run.json"), RUN_JSON);
        Path fifo = dir.resolve("checkpoints/ckpt-000000000000512.safetensors");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        try (ServeServer s = start()) {
            JsonNode st = status(s);
            assertEquals("LOADING", st.get("state").asText(), st.toString());
            HttpResponse<String> ready = send(s, "GET", "/health/ready", null);
            assertEquals(503, ready.statusCode(), ready.body());
            assertTrue(ready.body().contains("LOADING"), ready.body());
            assertEquals(200, send(s, "GET", "/health/live", null).statusCode(), "the process serves meanwhile");
            HttpResponse<String> push = send(s, "POST", "/runs/r1/batches", raw(rows(64, 1)), "Content-Type",
                    "application/octet-stream", "X-Shape", "64,32");
            assertEquals(503, push.statusCode(), push.body());
            assertTrue(push.headers().firstValue("Retry-After").isPresent());
            // opening the pipe's other end lets the load go on: it finds no checkpoint in it (a pipe has size 0, so the
            // reader may refuse it and close before these bytes are written: a broken pipe here is that race, not a
            // failure), and the run that cannot resume is not started over
            try (OutputStream o = Files.newOutputStream(fifo)) {
                o.write(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
            } catch (IOException readerClosedFirst) {
                // the load already refused the file
            }
            long end = System.currentTimeMillis() + 30_000;
            while (status(s).get("state").asText().equals("LOADING") && System.currentTimeMillis() < end) {
                Thread.sleep(20);
            }
            assertEquals("RESUME_FAILED", status(s).get("state").asText(), status(s).toString());
            assertEquals(503, send(s, "GET", "/health/ready", null).statusCode());
        }
    }

    @Test
    void aRunWhoseCheckpointsAllFailToReadIsNotStartedOverAndTheReadinessCheckSaysSo() throws Exception {
        try (ServeServer s = start()) {
            assertEquals(201, send(s, "POST", "/runs", RUN_JSON.getBytes()).statusCode());
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 7)), "Content-Type", "application/octet-stream",
                    "X-Shape", "512,32").statusCode());
            awaitSamples(s, 512);
            assertEquals(200, send(s, "POST", "/runs/r1/checkpoint", null).statusCode());
            assertEquals(200, send(s, "GET", "/health/ready", null).statusCode());
            assertEquals(200, send(s, "POST", "/runs/r1/stop", null).statusCode());
        }
        Path ck = tmp.resolve("runs/r1/checkpoints");
        java.util.List<Path> files;
        try (var l = Files.list(ck)) {
            files = l.filter(p -> p.getFileName().toString().endsWith(".safetensors")).toList();
        }
        assertTrue(!files.isEmpty());
        for (Path f : files) { // flip one data byte of each: every checksum fails
            byte[] b = Files.readAllBytes(f);
            b[b.length - 3] ^= 0x40;
            Files.write(f, b);
        }
        try (ServeServer s = start()) {
            long end = System.currentTimeMillis() + 30_000;
            HttpResponse<String> st = send(s, "GET", "/runs/r1", null);
            while (!st.body().contains("RESUME_FAILED") && System.currentTimeMillis() < end) {
                Thread.sleep(50);
                st = send(s, "GET", "/runs/r1", null);
            }
            JsonNode j = ConfigLoader.mapper().readTree(st.body());
            assertEquals("RESUME_FAILED", j.get("state").asText(), st.body());
            assertEquals(0, j.get("samples").asLong());
            assertTrue(j.get("error").asText().contains("none reads back") && j.get("error").asText().contains("checksum mismatch"),
                    j.get("error").asText());
            assertTrue(send(s, "GET", "/runs", null).body().contains("RESUME_FAILED"));
            HttpResponse<String> ready = send(s, "GET", "/health/ready", null);
            assertEquals(503, ready.statusCode(), ready.body());
            assertTrue(ready.body().contains("r1") && ready.body().contains("RESUME_FAILED"), ready.body());
            assertEquals(200, send(s, "GET", "/health/live", null).statusCode(), "liveness: the process serves");
            assertEquals(200, send(s, "GET", "/health", null).statusCode());
            assertEquals(404, send(s, "POST", "/runs/r1/batches", raw(rows(2, 1)), "Content-Type", "application/octet-stream",
                    "X-Shape", "2,32").statusCode(), "no data goes to a run that is not training");
            for (Path f : files) {
                assertTrue(Files.exists(f), "nothing is deleted: " + f);
            }
            // the user chooses to start over: the files are moved aside, not deleted
            HttpResponse<String> fresh = send(s, "POST", "/runs/r1/start-fresh", null);
            assertEquals(201, fresh.statusCode(), fresh.body());
            assertTrue(fresh.body().contains("TRAINING"), fresh.body());
            try (var l = Files.list(tmp.resolve("runs/r1"))) {
                Path aside = l.filter(p -> p.getFileName().toString().startsWith("checkpoints.unreadable-")).findFirst().orElseThrow();
                assertTrue(Files.exists(aside.resolve(files.get(0).getFileName())));
            }
            assertEquals(200, send(s, "GET", "/health/ready", null).statusCode());
            assertEquals(409, send(s, "POST", "/runs/r1/start-fresh", null).statusCode(), "only a run that could not resume");
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 8)), "Content-Type", "application/octet-stream",
                    "X-Shape", "512,32").statusCode());
            awaitSamples(s, 512);
        }
    }

    /**
     * Latent health: one valid row in 4 is held out into a reservoir of 256 rows, the model is evaluated on it on a
     * schedule, and the ledger ingested = trained + held out holds; the gauges on /metrics carry the status's numbers.
     */
    @Test
    void latentHealthIsMeasuredOnHeldOutRowsThatAreCountedAndNeverTrained() throws Exception {
        String run = RUN_JSON.replace("\"health\": {\"holdout\": 0}",
                "\"health\": {\"holdout\": 0.25, \"rows\": 256, \"everySeconds\": 0.05, \"denseFraction\": 0.2}");
        try (ServeServer s = start()) {
            assertEquals(201, send(s, "POST", "/runs", run.getBytes()).statusCode());
            for (int i = 0; i < 4; i++) {
                assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 40 + i)), "Content-Type",
                        "application/octet-stream", "X-Shape", "512,32").statusCode());
            }
            // 2048 valid rows: rows 3, 7, 11, ... held out (512), 1536 = 24 batches of 64 trained
            JsonNode st = awaitSamples(s, 1536);
            assertEquals(1536, st.get("samples").asLong());
            assertEquals(512, st.get("heldOutRows").asLong());
            assertEquals(2048, st.get("ingestedRows").asLong());
            long end = System.currentTimeMillis() + 30_000;
            int pushes = 0;
            while ((!st.path("health").isObject() || st.get("health").get("samples").asLong() < 1536) && System.currentTimeMillis() < end) {
                // evaluations are asked for at report windows: keep data coming until one sees the whole reservoir
                assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 90 + pushes++)), "Content-Type",
                        "application/octet-stream", "X-Shape", "512,32").statusCode());
                Thread.sleep(100);
                st = status(s);
            }
            JsonNode h = st.path("health");
            assertTrue(h.isObject(), "a latent-health evaluation within 30 s: " + st);
            assertEquals(256, h.get("rows").asInt());
            long latents = 0;
            for (JsonNode c : h.get("density")) {
                latents += c.asLong();
            }
            assertEquals(128, latents, "every latent in one density bucket: " + h.get("density"));
            assertEquals(128, h.get("cosineAtoms").asInt(), "128 atoms: the exact scan");
            double shrink = h.get("shrinkage").asDouble();
            assertTrue(shrink > 0.2 && shrink < 2, "shrinkage " + shrink);
            double cos = h.get("maxCosine").asDouble();
            assertTrue(cos > -1 && cos <= 1, "max cosine " + cos);
            double fvu = h.get("fvu").asDouble();
            assertTrue(fvu > 0 && fvu < 1.5, "held-out FVU " + fvu);
            assertEquals(st.get("ingestedRows").asLong(), st.get("heldOutRows").asLong() * 4, "one in 4 held out");

            // the gauges hold the newest evaluation: the same numbers as the status (which may be one evaluation newer)
            String metrics = send(s, "GET", "/metrics", null).body();
            double sum = 0;
            for (String line : metrics.split("\n")) {
                if (line.startsWith("sae_latents_density{") && line.contains("run=\"r1\"")) {
                    sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
            assertEquals(128, sum, 0, "the density gauges sum to the dictionary size");
            for (String name : new String[] {"sae_latents_dense{", "sae_heldout_shrinkage{", "sae_decoder_max_cosine{",
                    "sae_heldout_fvu{", "sae_heldout_rows{"}) {
                assertTrue(metrics.contains(name), name + " exported");
            }
            assertTrue(metrics.contains("log10_density=\"none\"") && metrics.contains("log10_density=\"-1\""), "bucket labels");
        }
    }

    /** A push of realistic size (4096 rows of width 768 are 12 MiB) is accepted: bodies above Pekko's 8 MiB to-strict default were refused. */
    @Test
    void bodiesAboveEightMebibytesAreAccepted() throws Exception {
        try (ServeServer s = ServeServer.start(new ServeConfig("127.0.0.1", 0, 0, tmp.resolve("runs").toString(), "", 16 << 20, 5000,
                100))) {
            String run = RUN_JSON.replace("\"keepCheckpoints\": 2,", "\"keepCheckpoints\": 2, \"queueBytes\": 33554432,");
            assertEquals(201, send(s, "POST", "/runs", run.getBytes()).statusCode());
            int rows = 80_000; // 80 000 x 32 floats = 9.8 MiB
            HttpResponse<String> r = send(s, "POST", "/runs/r1/batches", raw(rows(rows, 12)), "Content-Type", "application/octet-stream",
                    "X-Shape", rows + ",32");
            assertEquals(200, r.statusCode(), r.body());
            awaitSamples(s, rows);
        }
    }

    /** The reproduction: one row of 3e38 (finite, legal float32) used to kill a run at its next solve. */
    @Test
    void aBatchWithAValueBeyondMaxAbsIsRefusedWhole422AndTheRunTrainsOnWithFiniteFvu() throws Exception {
        try (ServeServer s = start()) {
            assertEquals(201, send(s, "POST", "/runs", RUN_JSON.getBytes()).statusCode());
            for (float bad : new float[] {3e38f, 1e30f, -2e5f}) {
                float[] x = rows(64, 5);
                x[17 * 32 + 3] = bad;
                HttpResponse<String> r = send(s, "POST", "/runs/r1/batches", raw(x), "Content-Type", "application/octet-stream",
                        "X-Shape", "64,32");
                assertRejected(r, 422, "row 17");
                assertTrue(r.body().contains("maxAbs"), r.body());
            }
            for (int i = 0; i < 10; i++) {
                assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 300 + i)), "Content-Type",
                        "application/octet-stream", "X-Shape", "512,32").statusCode());
            }
            JsonNode st = awaitSamples(s, 10 * 512);
            assertEquals("TRAINING", st.get("state").asText());
            assertEquals(3, st.get("rejectedBatches").asLong());
            assertTrue(send(s, "GET", "/metrics", null).body().contains("reason=\"too_large_value\""));
            long end = System.currentTimeMillis() + 30_000;
            while (status(s).get("fvu").isTextual() && System.currentTimeMillis() < end) {
                Thread.sleep(50);
            }
            double fvu = status(s).get("fvu").asDouble();
            assertTrue(Double.isFinite(fvu) && fvu < 1.5, "FVU " + fvu);
            assertEquals(200, send(s, "GET", "/health/ready", null).statusCode());
        }
    }

    /** A checkpoint write that fails (here the directory cannot be created; a full disk takes the same path). */
    @Test
    void aFailedCheckpointWriteIsCountedAndVisibleAndTheRunKeepsTraining() throws Exception {
        try (ServeServer s = start()) {
            assertEquals(201, send(s, "POST", "/runs", RUN_JSON.getBytes()).statusCode());
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 21)), "Content-Type", "application/octet-stream",
                    "X-Shape", "512,32").statusCode());
            awaitSamples(s, 512);
            Path ck = tmp.resolve("runs/r1/checkpoints");
            Files.writeString(ck, "not a directory");
            HttpResponse<String> r = send(s, "POST", "/runs/r1/checkpoint", null);
            assertEquals(409, r.statusCode(), r.body());
            JsonNode st = status(s);
            assertEquals(1, st.get("checkpointFailures").asLong(), st.toString());
            assertTrue(st.get("checkpointError").asText().contains("checkpoints"), st.toString());
            assertEquals(0, st.get("checkpointSamples").asLong(), "no checkpoint is named that is not durable");
            assertEquals("TRAINING", st.get("state").asText());
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 22)), "Content-Type", "application/octet-stream",
                    "X-Shape", "512,32").statusCode());
            awaitSamples(s, 1024);
            Files.delete(ck);
            assertEquals(200, send(s, "POST", "/runs/r1/checkpoint", null).statusCode());
            assertEquals(1024, status(s).get("checkpointSamples").asLong());
        }
    }

    @Test
    void aFailedRunIsRestartedFromItsNewestCheckpointThroughTheApi() throws Exception {
        try (ServeServer s = start()) {
            assertEquals(201, send(s, "POST", "/runs", RUN_JSON.getBytes()).statusCode());
            assertEquals(409, send(s, "POST", "/runs/r1/restart", null).statusCode(), "a training run is not restarted");
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 31)), "Content-Type", "application/octet-stream",
                    "X-Shape", "512,32").statusCode());
            awaitSamples(s, 512);
            assertEquals(200, send(s, "POST", "/runs/r1/checkpoint", null).statusCode());
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 32)), "Content-Type", "application/octet-stream",
                    "X-Shape", "512,32").statusCode());
            awaitSamples(s, 1024);
            // the final checkpoint cannot be written: stopping fails the run
            Path ck = tmp.resolve("runs/r1/checkpoints");
            Path aside = tmp.resolve("ck-aside");
            Files.move(ck, aside);
            Files.writeString(ck, "not a directory");
            send(s, "POST", "/runs/r1/stop", null);
            assertEquals("FAILED", status(s).get("state").asText(), status(s).toString());
            assertEquals(503, send(s, "GET", "/health/ready", null).statusCode());
            Files.delete(ck);
            Files.move(aside, ck);
            HttpResponse<String> r = send(s, "POST", "/runs/r1/restart", null);
            assertEquals(201, r.statusCode(), r.body());
            JsonNode st = status(s);
            assertEquals("TRAINING", st.get("state").asText(), st.toString());
            assertEquals(512, st.get("samples").asLong(), "resumed from the newest checkpoint");
            assertEquals("ckpt-000000000000512.safetensors", st.get("resumedFrom").asText());
            assertEquals(200, send(s, "GET", "/health/ready", null).statusCode());
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(rows(512, 33)), "Content-Type", "application/octet-stream",
                    "X-Shape", "512,32").statusCode());
            awaitSamples(s, 1024);
            // the restarted run's gauges are its own (the ended actor's meters were removed, not found again)
            long end = System.currentTimeMillis() + 20_000;
            double gauge = Double.NaN;
            double fvu = Double.NaN;
            while (System.currentTimeMillis() < end) {
                fvu = status(s).get("fvu").asDouble();
                gauge = metric(send(s, "GET", "/metrics", null).body(), "sae_train_fvu");
                if (Double.isFinite(fvu) && gauge == fvu) {
                    break;
                }
                Thread.sleep(50);
            }
            assertEquals(fvu, gauge, "the FVU gauge after a restart is the restarted run's");
        }
    }

    /** The value of the one series of {@code name} for run r1 in a Prometheus text page. */
    private static double metric(String page, String name) {
        List<String> lines = page.lines().filter(l -> l.startsWith(name + "{") && l.contains("run=\"r1\"")).toList();
        assertEquals(1, lines.size(), name + ": " + lines);
        String l = lines.get(0);
        return Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
    }

    /** A little-endian {@code <f2} .npy of {@code rows × 32} values (half precision, truncated). */
    private static byte[] npyF16(float[] x, int rows) {
        String dict = "{'descr': '<f2', 'fortran_order': False, 'shape': (" + rows + ", " + D + "), }";
        int headerLen = 10 + dict.length() + 1;
        int pad = (64 - headerLen % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + 2 * x.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        b.putShort((short) header.length()).put(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        for (float v : x) {
            int f = Float.floatToRawIntBits(v);
            int sign = (f >>> 16) & 0x8000;
            int exp = ((f >>> 23) & 0xff) - 127 + 15;
            short h = exp <= 0 ? (short) sign : (short) (sign | Math.min(exp, 30) << 10 | (f >>> 13) & 0x3ff);
            b.putShort(h);
        }
        return b.array();
    }

    @Test
    void aRunTheServerCannotHoldIsRefusedWithItsEstimateAndAShapeBeyondJavasArraysWithItsReason() throws Exception {
        try (ServeServer s = start()) {
            // PAM at 768 -> 40 000 (the iterative decoder step, auto at this size) needs several GiB: not in this 2 GiB test JVM
            HttpResponse<String> r = send(s, "POST", "/runs", ("{\"name\": \"huge\", \"inputDim\": 768, \"sae\": {\"latents\": 40000,"
                    + " \"k\": 32}}").getBytes());
            assertEquals(409, r.statusCode(), r.body());
            assertTrue(r.body().contains("the server cannot hold run 'huge'") && r.body().contains("needs about")
                    && r.body().contains("-Xmx"), r.body());
            // the exact decoder step asked for at 65 536 latents: its Z^T Z would be 2^32 doubles, beyond one Java array
            r = send(s, "POST", "/runs", ("{\"name\": \"wider\", \"inputDim\": 768, \"sae\": {\"latents\": 65536, \"k\": 32},"
                    + " \"trainer\": {\"decoder\": {\"step\": \"exact\"}}}").getBytes());
            assertEquals(400, r.statusCode(), r.body());
            assertTrue(r.body().contains("at most 46340 latents"), r.body());
            assertTrue(!Files.exists(tmp.resolve("runs/huge")) && !Files.exists(tmp.resolve("runs/wider")), "nothing was created");
            assertEquals(201, send(s, "POST", "/runs", RUN_JSON.getBytes()).statusCode(), "a run that fits is created");
        }
    }

    @Test
    void halfPrecisionBodiesReserveWhatTheyDecodeToSoTwoOfThemCannotWedgeTheQueue() throws Exception {
        // each body is 45 % of the run's queue and decodes to 90 %: reserving only the body's bytes let two such
        // pushes hold 90 % between them and each wait for the rest, forever
        int queue = 256 * 1024;
        int rows = (int) (0.45 * queue / (2 * D));
        String run = RUN_JSON.replace("\"keepCheckpoints\": 2", "\"keepCheckpoints\": 2, \"queueBytes\": " + queue);
        try (ServeServer s = start()) {
            assertEquals(201, send(s, "POST", "/runs", run.getBytes()).statusCode());
            for (int round = 0; round < 5; round++) {
                List<CompletableFuture<Integer>> pushes = new ArrayList<>();
                for (int p = 0; p < 2; p++) {
                    byte[] body = npyF16(rows(rows, 100 + 2 * round + p), rows);
                    pushes.add(CompletableFuture.supplyAsync(() -> {
                        long end = System.currentTimeMillis() + 30_000;
                        try {
                            while (true) {
                                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.httpPort()
                                                + "/runs/r1/batches")).timeout(java.time.Duration.ofSeconds(30))
                                        .header("Content-Type", "application/x-npy")
                                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
                                if (r.statusCode() != 503 || System.currentTimeMillis() > end) {
                                    return r.statusCode();
                                }
                                Thread.sleep(20);
                            }
                        } catch (Exception e) {
                            throw new java.util.concurrent.CompletionException(e);
                        }
                    }));
                }
                for (CompletableFuture<Integer> f : pushes) {
                    assertEquals(200, f.get(60, java.util.concurrent.TimeUnit.SECONDS), "round " + round);
                }
            }
            awaitSamples(s, 10L * rows - 64);
            assertEquals(0, status(s).get("rejectedBatches").asLong());
        }
    }
}
