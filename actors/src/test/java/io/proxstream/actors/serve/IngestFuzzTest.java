package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.protocol.format.Npy;
import io.proxstream.protocol.format.Safetensors;
import io.proxstream.protocol.ingest.IngestFrame;
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
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A seeded mutation fuzzer over everything a producer can send: raw float32, {@code .npy} and
 * {@code .safetensors} bodies over HTTP, and length-prefixed TCP frames. Valid bodies are mutated
 * (bit flips, byte overwrites with boundary values, truncation, extension, header-field garbage, huge or
 * tiny float values); every answer must be an acceptance or a 4xx/503 refusal with a reason, never a
 * 5xx; afterwards the server still answers, the run is still TRAINING with finite FVU, the heap is
 * bounded, and a valid batch still trains. The seed and count are fixed, so a failure reproduces.
 */
class IngestFuzzTest {
    private static final int D = 16;
    private static final int ITERATIONS = 400;

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> post(ServeServer s, String path, byte[] body, String type, String shape) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.httpPort() + path))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).header("Content-Type", type);
        if (shape != null) {
            b.header("X-Shape", shape);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static float[] rows(int n, SplittableRandom rnd) {
        float[] x = new float[n * D];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static byte[] rawBytes(float[] x) {
        ByteBuffer b = ByteBuffer.allocate(4 * x.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(x);
        return b.array();
    }

    /** One random mutation of a valid body. */
    static byte[] mutate(byte[] valid, SplittableRandom rnd) {
        byte[] b = valid.clone();
        switch (rnd.nextInt(7)) {
            case 0 -> { // bit flips
                for (int k = 0, n = 1 + rnd.nextInt(8); k < n; k++) {
                    int i = rnd.nextInt(b.length);
                    b[i] ^= (byte) (1 << rnd.nextInt(8));
                }
            }
            case 1 -> { // boundary bytes in the first 128 (headers, lengths, shapes)
                for (int k = 0, n = 1 + rnd.nextInt(4); k < n; k++) {
                    b[rnd.nextInt(Math.min(128, b.length))] = (byte) new int[] {0, 0x7f, 0x80, 0xff, '9', ',', '{', '"'}[rnd.nextInt(8)];
                }
            }
            case 2 -> b = java.util.Arrays.copyOf(b, rnd.nextInt(b.length)); // truncated
            case 3 -> { // extended with garbage
                byte[] e = java.util.Arrays.copyOf(b, b.length + 1 + rnd.nextInt(64));
                for (int i = b.length; i < e.length; i++) {
                    e[i] = (byte) rnd.nextInt(256);
                }
                b = e;
            }
            case 4 -> { // a float word set to an extreme value (aligned to the end, where the data is)
                float[] extremes = {Float.NaN, Float.POSITIVE_INFINITY, 3e38f, -1e30f, Float.MIN_VALUE, 1e5f, -2e5f};
                int words = b.length / 4;
                int w = words - 1 - rnd.nextInt(Math.max(1, words / 2));
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putFloat(4 * Math.max(0, w), extremes[rnd.nextInt(extremes.length)]);
            }
            case 5 -> { // a 32- or 64-bit field near the start set to a huge or negative length
                int at = rnd.nextInt(Math.max(1, Math.min(24, b.length - 8)));
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, new long[] {-1, Long.MAX_VALUE, 1L << 40, 0}[rnd.nextInt(4)]);
            }
            default -> { // empty
                b = new byte[0];
            }
        }
        return b;
    }

    @Test
    void everyMutatedBodyIsAcceptedAndTrainableOrRefusedWithAReasonAndTheServerAndRunSurvive() throws Exception {
        SplittableRandom rnd = new SplittableRandom(20261201);
        Map<Integer, Integer> statuses = new TreeMap<>();
        long heapBefore;
        try (ServeServer s = ServeServer.start(new ServeConfig("127.0.0.1", 0, 0, tmp.resolve("runs").toString(), "", 1 << 20, 200, 100))) {
            assertEquals(201, post(s, "/runs", ("{\"name\": \"f\", \"inputDim\": " + D + ", \"sae\": {\"latents\": 64, \"k\": 4},"
                    + " \"batchSize\": 32, \"reportEvery\": 256}").getBytes(), "application/json", null).statusCode());
            Path npy = tmp.resolve("v.npy");
            Npy.write(npy, rows(24, rnd), 24, D);
            byte[] npyBody = Files.readAllBytes(npy);
            Path st = tmp.resolve("v.safetensors");
            Safetensors.write(st, Map.of("a", new Safetensors.Tensor(new long[] {24, D}, rows(24, rnd))), Map.of());
            byte[] stBody = Files.readAllBytes(st);
            byte[] rawBody = rawBytes(rows(24, rnd));
            System.gc();
            heapBefore = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
            for (int i = 0; i < ITERATIONS; i++) {
                int kind = i % 3;
                byte[] valid = kind == 0 ? rawBody : kind == 1 ? npyBody : stBody;
                byte[] body = mutate(valid, rnd);
                String type = kind == 0 ? "application/octet-stream" : kind == 1 ? "application/x-npy" : "application/x-safetensors";
                String shape = kind == 0 ? (rnd.nextInt(5) == 0 ? new String[] {"24,15", "-1,16", "99999999999,16", "x", ""}[rnd.nextInt(5)]
                        : body.length / 4 / D + "," + D) : null;
                HttpResponse<String> r = post(s, "/runs/f/batches", body, type, shape);
                statuses.merge(r.statusCode(), 1, Integer::sum);
                int c = r.statusCode();
                assertTrue(c == 200 || c == 503 || (c >= 400 && c < 500), "mutation " + i + " (" + type + "): " + c + " " + r.body());
                if (c != 200) {
                    assertTrue(r.body().contains("error"), "a refusal names its reason: " + r.body());
                }
            }
            // TCP: mutated frames get a REJECTED reply or a closed connection; never a dead server
            ByteBuffer frame = IngestFrame.encode("f", rows(8, rnd), 8, D);
            byte[] frameBytes = new byte[frame.remaining()];
            frame.get(frameBytes);
            int tcpReplies = 0;
            for (int i = 0; i < 60; i++) {
                byte[] m = mutate(frameBytes, rnd);
                try (Socket sock = new Socket("127.0.0.1", s.tcpPort())) {
                    sock.setSoTimeout(3000);
                    OutputStream o = sock.getOutputStream();
                    o.write(m);
                    o.flush();
                    sock.shutdownOutput();
                    DataInputStream in = new DataInputStream(sock.getInputStream());
                    byte[] len = new byte[4];
                    in.readFully(len);
                    int n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getInt();
                    assertTrue(n > 0 && n < 1 << 16, "reply length " + n);
                    byte[] reply = new byte[n];
                    in.readFully(reply);
                    IngestFrame.decodeReply(ByteBuffer.wrap(reply));
                    tcpReplies++;
                } catch (java.io.EOFException | java.net.SocketTimeoutException | java.net.SocketException closed) {
                    // the server closed a connection whose framing it could not follow (or waits for bytes that never come)
                }
            }
            // still alive, still training, still finite, and valid data still trains
            JsonNode before = ConfigLoader.mapper().readTree(http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + s.httpPort() + "/runs/f")).build(), HttpResponse.BodyHandlers.ofString()).body());
            assertEquals("TRAINING", before.get("state").asText(), before.toString());
            long samples = before.get("samples").asLong();
            for (int i = 0; i < 10; i++) {
                assertEquals(200, post(s, "/runs/f/batches", rawBytes(rows(64, rnd)), "application/octet-stream", "64," + D).statusCode());
            }
            long end = System.currentTimeMillis() + 30_000;
            JsonNode after = before;
            while (after.get("samples").asLong() < samples + 640 && System.currentTimeMillis() < end) {
                Thread.sleep(50);
                after = ConfigLoader.mapper().readTree(http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + s.httpPort() + "/runs/f")).build(), HttpResponse.BodyHandlers.ofString()).body());
            }
            assertTrue(after.get("samples").asLong() >= samples + 640, "valid data trains after the fuzzing: " + after);
            assertEquals("TRAINING", after.get("state").asText());
            double fvu = after.get("fvu").asDouble();
            assertTrue(Double.isFinite(fvu), "FVU " + after.get("fvu"));
            System.gc();
            long heapAfter = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
            assertTrue(heapAfter < heapBefore + (256L << 20), "heap grew from " + (heapBefore >> 20) + " to " + (heapAfter >> 20) + " MiB");
            assertTrue(statuses.getOrDefault(200, 0) > 0 && statuses.keySet().stream().anyMatch(c -> c >= 400),
                    "the mutations both pass and fail validation: " + statuses);
            System.out.println("[IngestFuzzTest] HTTP statuses " + statuses + ", TCP replies " + tcpReplies + " of 60");
        }
    }
}
