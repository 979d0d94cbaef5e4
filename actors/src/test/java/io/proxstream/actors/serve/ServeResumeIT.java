package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.proxstream.actors.train.SaeModelFiles;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.format.Npy;
import io.proxstream.solvers.sae.FeatureRecovery;
import io.proxstream.solvers.sae.SaeModel;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end, as a user runs it: {@code proxstream serve} in its own JVM, the Python client
 * streaming planted-dictionary data over HTTP, the server killed with SIGKILL mid-run and
 * restarted on the same directory. The run must resume from its checkpoint (the sample counter
 * continues, FVU does not fall back to its starting level), take the rest of the stream, and
 * recover the planted features, checked from the SAELens export against the dictionary the
 * client saved.
 */
class ServeResumeIT {
    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();

    static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("clients/python/proxstream_client.py"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new AssertionError("cannot find clients/python/proxstream_client.py above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    /** {@code $PROXSTREAM_PYTHON} or {@code python3}; it must have numpy (.ci/run makes sure). */
    static String python() throws Exception {
        String py = System.getenv().getOrDefault("PROXSTREAM_PYTHON", "python3");
        Process p = new ProcessBuilder(py, "-c", "import numpy; print(numpy.__version__)").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0) {
            throw new AssertionError("the Python client needs " + py + " with numpy (apt-get install python3-numpy, then "
                    + "PROXSTREAM_PYTHON=/usr/bin/python3): " + out);
        }
        return py;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A server JVM with a 1 GiB heap; returns once it prints its address. */
    static Process server(Path log, String... args) throws Exception {
        return server(log, List.of("-Xmx1g"), args);
    }

    /** A server JVM with these JVM options; returns once it prints its address. */
    static Process server(Path log, List<String> jvm, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.proxstream.actors.cli.Main", "serve"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        CompletableFuture<Void> ready = new CompletableFuture<>();
        Thread pump = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()));
                 var w = Files.newBufferedWriter(log, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND)) {
                String line;
                while ((line = r.readLine()) != null) {
                    w.write(line);
                    w.newLine();
                    w.flush();
                    if (line.startsWith("proxstream serve: dashboard")) {
                        ready.complete(null);
                    }
                }
            } catch (IOException ignored) {
                // the process died: the test notices through its state
            }
            ready.complete(null);
        });
        pump.setDaemon(true);
        pump.start();
        ready.get(120, TimeUnit.SECONDS);
        assertTrue(p.isAlive(), "server did not start; log:\n" + Files.readString(log));
        return p;
    }

    private JsonNode status(int port) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/runs/demo")).build(),
                HttpResponse.BodyHandlers.ofString());
        return ConfigLoader.mapper().readTree(r.body());
    }

    @Test
    void aKilledServerResumesFromItsCheckpointAndFinishesTheRun() throws Exception {
        String py = python();
        Path root = repoRoot();
        int port = freePort();
        Path runs = tmp.resolve("runs");
        Path log = tmp.resolve("server.log");
        Path runConfig = tmp.resolve("demo.json");
        Files.writeString(runConfig, "{\"name\": \"demo\", \"inputDim\": 64, \"sae\": {\"latents\": 256, \"k\": 8},"
                + " \"batchSize\": 256, \"checkpointEvery\": 20000, \"reportEvery\": 4096, \"keepCheckpoints\": 3,"
                + " \"queueBytes\": 4194304}");
        String[] args = {"--port", Integer.toString(port), "--tcp-port", "-1", "--runs-dir", runs.toString(),
            "--run-config", runConfig.toString()};
        Process a = server(log, args);
        Path dict = tmp.resolve("F.npy");
        Process client = new ProcessBuilder(py, root.resolve("clients/python/proxstream_client.py").toString(), "synthetic",
                "--url", "http://127.0.0.1:" + port, "--run", "demo", "--dim", "64", "--features", "128", "--rows", "400000",
                "--batch", "2048", "--save-dictionary", dict.toString(), "--retry-seconds", "300")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("client.log").toFile()).start();
        JsonNode before = status(port);
        long end = System.currentTimeMillis() + 180_000;
        while ((before.get("checkpointSamples").asLong() < 40_000 || before.get("samples").asLong() < 60_000)
                && System.currentTimeMillis() < end) {
            Thread.sleep(100);
            before = status(port);
        }
        assertTrue(before.get("checkpointSamples").asLong() >= 40_000, "checkpoints written: " + before);
        double fvuBefore = before.get("fvu").asDouble();
        a.destroyForcibly();
        assertTrue(a.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, a.exitValue(), "killed by SIGKILL");

        Process b = server(log, args);
        long trainedAtTerm;
        try {
            JsonNode after = status(port);
            assertFalse(after.get("resumedFrom").asText().isEmpty(), "resumed: " + after);
            long resumedAt = after.get("samples").asLong();
            assertTrue(resumedAt >= before.get("checkpointSamples").asLong() && resumedAt <= before.get("samples").asLong() + 50_000,
                    "the counter continues from the checkpoint: " + resumedAt + " vs " + before);
            // the first report window after the restart: FVU near where it was, far from the start (~0.5)
            while (after.get("samples").asLong() < resumedAt + 8192 && System.currentTimeMillis() < end + 120_000) {
                Thread.sleep(100);
                after = status(port);
            }
            double fvuAfter = after.get("fvu").asDouble();
            assertTrue(fvuAfter < Math.max(2 * fvuBefore, fvuBefore + 0.05), "FVU " + fvuBefore + " before the kill, " + fvuAfter
                    + " after the restart");

            assertTrue(client.waitFor(300, TimeUnit.SECONDS), "client finished");
            assertEquals(0, client.exitValue(), Files.readString(tmp.resolve("client.log")));
            // everything the restarted server accepted gets trained
            long ingested = after.get("ingestedRows").asLong();
            do {
                Thread.sleep(100);
                after = status(port);
                ingested = after.get("ingestedRows").asLong();
            } while (after.get("samples").asLong() < resumedAt + ingested - after.get("heldOutRows").asLong() - 256
                    && System.currentTimeMillis() < end + 300_000);
            // the ledger: rows are trained or held out for latent health; at most a partial minibatch waits
            assertTrue(after.get("samples").asLong() >= resumedAt + ingested - after.get("heldOutRows").asLong() - 256, after.toString());

            Process export = new ProcessBuilder(py, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                    + "from proxstream_client import Client; Client(sys.argv[2], 'demo').export(sys.argv[3])",
                    root.resolve("clients/python").toString(), "http://127.0.0.1:" + port, tmp.resolve("export").toString())
                    .redirectErrorStream(true).start();
            String exportOut = new String(export.getInputStream().readAllBytes());
            assertEquals(0, export.waitFor(), exportOut);
            SaeModel sae = SaeModelFiles.importSaeLens(tmp.resolve("export"));
            float[] truth = Npy.readAll(dict);
            double mmcs = FeatureRecovery.mmcs(truth, 128, sae);
            System.out.printf("[ServeResumeIT] killed at %d samples (checkpoint %d, FVU %.4f), resumed at %d (FVU %.4f), "
                            + "finished at %d; MMCS %.4f%n", before.get("samples").asLong(), before.get("checkpointSamples").asLong(),
                    fvuBefore, resumedAt, fvuAfter, after.get("samples").asLong(), mmcs);
            assertTrue(mmcs > 0.9, "planted features recovered: MMCS " + mmcs);
            client.destroyForcibly();
            client.waitFor(30, TimeUnit.SECONDS);
            trainedAtTerm = status(port).get("samples").asLong();
        } finally {
            b.destroy(); // SIGTERM: CoordinatedShutdown stops the run, which trains what is queued and writes a final checkpoint
            assertTrue(b.waitFor(120, TimeUnit.SECONDS), "SIGTERM ends the server");
            client.destroyForcibly();
        }
        assertTrue(Files.readString(log).contains("resumed from ckpt-"), "the log says where it resumed from");
        long newest;
        try (var files = Files.list(runs.resolve("demo/checkpoints"))) {
            newest = files.map(f -> f.getFileName().toString()).filter(n -> n.matches("ckpt-\\d+\\.safetensors"))
                    .mapToLong(n -> Long.parseLong(n.substring(5, n.indexOf('.')))).max().orElse(-1);
        }
        assertTrue(newest >= trainedAtTerm, "SIGTERM wrote a final checkpoint at " + newest + " >= " + trainedAtTerm
                + " samples trained when it came");
    }
}
