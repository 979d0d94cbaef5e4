package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.proxstream.protocol.config.ConfigLoader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The first reproduction at the README's own client shape: a PAM run of 768 → 16 384 latents
 * (k 32) through {@code serve}, a checkpoint after 8 192 samples (2.45 GB: {@code ZᵀZ} alone is 16 384²
 * doubles = 2 GiB), SIGKILL, restart: the run resumes at 8 192 samples from that checkpoint and trains
 * on. Before, the file could not be read back (an int-sized buffer) and the run silently restarted
 * from zero. Needs about 10 GB of memory (a 12 GiB server heap) and 2.5 GB of disk: a memory-heavy IT,
 * run alone (Failsafe runs ITs one after another).
 */
class BigCheckpointIT {
    private static final int D = 768;
    private static final int ROWS = 1024;

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();

    private JsonNode status(int port) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/runs/big")).build(),
                HttpResponse.BodyHandlers.ofString());
        return ConfigLoader.mapper().readTree(r.body());
    }

    private JsonNode awaitSamples(int port, long n, int seconds) throws Exception {
        long end = System.currentTimeMillis() + seconds * 1000L;
        JsonNode st = status(port);
        while (st.path("samples").asLong() < n && System.currentTimeMillis() < end) {
            Thread.sleep(200);
            st = status(port);
        }
        assertTrue(st.path("samples").asLong() >= n, "trained " + st + " of " + n);
        return st;
    }

    private void push(int port, byte[] body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/runs/big/batches"))
                .header("Content-Type", "application/octet-stream").header("X-Shape", ROWS + "," + D)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
    }

    @Test
    void aCheckpointOverTwoGibibytesAtTheTransformerShapeResumesAfterSigkill() throws Exception {
        long ram = ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
        assertTrue(ram >= 14L << 30, "this IT needs about 10 GB of memory; the machine has " + (ram >> 20) + " MiB");
        int port = ServeResumeIT.freePort();
        Path runs = tmp.resolve("runs");
        Path log = tmp.resolve("server.log");
        Path runConfig = tmp.resolve("big.json");
        // the exact step (its m x m statistics are what is big; auto would pick the iterative step at this size), and no
        // decoder solve in these 8 batches (a 16384² solve takes 40 s here)
        Files.writeString(runConfig, "{\"name\": \"big\", \"inputDim\": " + D + ", \"sae\": {\"latents\": 16384, \"k\": 32},"
                + " \"trainer\": {\"algo\": \"pam\", \"solveEvery\": 64, \"decoder\": {\"step\": \"exact\"}}, \"batchSize\": " + ROWS + ", \"checkpointEvery\": 1000000000,"
                + " \"reportEvery\": " + ROWS + ", \"queueBytes\": 67108864,"
                // whole batches of ROWS rows are counted and checkpointed: no rows held out for latent health
                + " \"health\": {\"holdout\": 0}}");
        List<String> jvm = List.of("-Xmx12g", "-Dorg.bytedeco.javacpp.maxbytes=4G", "-Dorg.bytedeco.javacpp.maxphysicalbytes=16G");
        String[] args = {"--port", Integer.toString(port), "--tcp-port", "-1", "--runs-dir", runs.toString(),
            "--run-config", runConfig.toString()};
        SplittableRandom rnd = new SplittableRandom(3);
        ByteBuffer b = ByteBuffer.allocate(4 * ROWS * D).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < ROWS * D; i++) {
            b.putFloat((float) rnd.nextGaussian());
        }
        byte[] body = b.array();
        Process a = ServeResumeIT.server(log, jvm, args);
        try {
            for (int i = 0; i < 8; i++) {
                push(port, body);
            }
            awaitSamples(port, 8 * ROWS, 180);
            HttpResponse<String> ck = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/runs/big/checkpoint"))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ck.statusCode(), ck.body());
            Path file = runs.resolve("big/checkpoints/ckpt-000000000008192.safetensors");
            assertTrue(Files.size(file) > (1L << 31), "checkpoint of " + Files.size(file) + " bytes");
            assertEquals(8192, status(port).get("checkpointSamples").asLong());
        } finally {
            a.destroyForcibly().waitFor();
        }
        Process c = ServeResumeIT.server(log, jvm, args);
        try {
            long end = System.currentTimeMillis() + 180_000;
            JsonNode st = status(port);
            while (!"ckpt-000000000008192.safetensors".equals(st.path("resumedFrom").asText()) && System.currentTimeMillis() < end) {
                Thread.sleep(500);
                st = status(port);
            }
            assertEquals("ckpt-000000000008192.safetensors", st.path("resumedFrom").asText(), st + "\n" + Files.readString(log));
            assertEquals("TRAINING", st.get("state").asText());
            assertEquals(8192, st.get("samples").asLong(), "resumed where the checkpoint was, not from zero");
            push(port, body);
            awaitSamples(port, 9 * ROWS, 120);
        } finally {
            c.destroyForcibly().waitFor();
        }
    }
}
