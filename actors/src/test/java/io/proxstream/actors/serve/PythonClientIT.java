package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.protocol.format.Npy;
import io.proxstream.protocol.format.Safetensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python client as a package: installed with pip into a virtual environment over Debian's numpy and
 * setuptools (no PyPI: {@code --system-site-packages --no-build-isolation --no-deps}), it gives
 * {@code import proxstream_client} and the {@code proxstream-push} command, which pushes .npy and
 * .safetensors (F32 and BF16) files to a running server and creates the run; given several URLs, the client
 * and the command fail over from a dead one to the next.
 */
class PythonClientIT {
    private static final int D = 24;

    @TempDir
    Path tmp;

    /** Runs a command; returns its output, failing with it when the exit code is not 0. */
    private static String run(List<String> cmd, Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "timed out: " + cmd);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    private static float[] rows(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * D];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** A BF16 .safetensors of {@code x}: each float's top 16 bits (truncation). */
    private static void writeBf16(Path file, float[] x, int rows) throws IOException {
        String header = "{\"acts\":{\"dtype\":\"BF16\",\"shape\":[" + rows + "," + D + "],\"data_offsets\":[0," + 2 * x.length + "]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 2 * x.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (float v : x) {
            b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
        }
        Files.write(file, b.array());
    }

    @Test
    void pipInstallsThePackageAndProxstreamPushFeedsARunFromNpyAndSafetensorsFiles() throws Exception {
        String python = "/usr/bin/python3";
        Path venv = tmp.resolve("venv");
        run(List.of(python, "-m", "venv", "--system-site-packages", venv.toString()), tmp);
        // pip builds in the source tree: install from a copy so that the checkout stays clean
        Path src = tmp.resolve("client-src");
        Files.createDirectories(src);
        Path client = ServeResumeIT.repoRoot().resolve("clients/python");
        for (String f : List.of("pyproject.toml", "README.md", "proxstream_client.py")) {
            Files.copy(client.resolve(f), src.resolve(f));
        }
        run(List.of(venv.resolve("bin/pip").toString(), "install", "--no-build-isolation", "--no-deps", "--no-index", src.toString()),
                tmp);
        String where = run(List.of(venv.resolve("bin/python").toString(), "-c",
                "import proxstream_client, sys; print(proxstream_client.__file__); print(proxstream_client.Client.__name__)"), tmp);
        assertTrue(where.contains(venv.resolve("lib").toString()) && where.contains("Client"), "installed into the venv: " + where);

        Path npy = tmp.resolve("acts-000.npy");
        Npy.write(npy, rows(1000, 1), 1000, D);
        Path st = tmp.resolve("acts-001.safetensors");
        Safetensors.write(st, Map.of("acts", new Safetensors.Tensor(new long[] {700, D}, rows(700, 2))), Map.of());
        Path bf16 = tmp.resolve("acts-002.safetensors");
        writeBf16(bf16, rows(300, 3), 300);
        try (ServeServer s = ServeServer.start(new ServeConfig("127.0.0.1", 0, -1, tmp.resolve("runs").toString(), "", 1 << 20, 2000,
                100))) {
            List<String> push = new ArrayList<>(List.of(venv.resolve("bin/proxstream-push").toString(), "files", npy.toString(),
                    st.toString(), bf16.toString(), "--url", "http://127.0.0.1:" + s.httpPort(), "--run", "py", "--batch", "256",
                    // this test counts every pushed row as trained: no rows held out for latent health
                    "--create", "{\"sae\": {\"latents\": 64, \"k\": 4}, \"batchSize\": 100, \"health\": {\"holdout\": 0}}"));
            String out = run(push, tmp);
            assertTrue(out.contains("acts-002.safetensors: 300 rows of width " + D + " (BF16)") && out.contains("done: 2000 rows"), out);
            RunHandle h = s.runs().get("py");
            assertEquals(2000, h.status().ingestedRows(), "every row of the three files arrived");
            assertEquals(64, h.config().sae().latents(), "the run was created with the given config");
            long end = System.currentTimeMillis() + 60_000;
            while (h.status().samples() < 2000 && System.currentTimeMillis() < end) {
                Thread.sleep(50);
            }
            assertEquals(2000, h.status().samples(), "and trained");
            // failover: the first URL of the list has no server (a port just closed); the client moves to the next
            int dead;
            try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                dead = probe.getLocalPort();
            }
            String live = "http://127.0.0.1:" + s.httpPort();
            String urls = "http://127.0.0.1:" + dead + "," + live;
            String py = run(List.of(venv.resolve("bin/python").toString(), "-c", "import numpy as np\n"
                    + "from proxstream_client import Client\n"
                    + "c = Client(['http://127.0.0.1:" + dead + "', '" + live + "'], run='py', retry_seconds=30)\n"
                    + "n = c.push(np.ones((50, " + D + "), np.float32))\n"
                    + "print('accepted', n, 'at', c.url, 'after', c.failovers, 'failover')"), tmp);
            assertTrue(py.contains("accepted 50 at " + live + " after 1 failover"), py);
            out = run(List.of(venv.resolve("bin/proxstream-push").toString(), "files", npy.toString(), "--url", urls, "--run", "py"), tmp);
            assertTrue(out.contains("pushed to run 'py' at " + live) && out.contains("done: 1000 rows"), out);
            assertEquals(3050, h.status().ingestedRows(), "the rows pushed through the failover arrived once each");
            // a file it cannot read: a clear error and exit code 1
            Path bad = tmp.resolve("bad.safetensors");
            Files.write(bad, new byte[] {1, 2, 3});
            Process p = new ProcessBuilder(venv.resolve("bin/proxstream-push").toString(), "files", bad.toString(), "--url",
                    "http://127.0.0.1:" + s.httpPort(), "--run", "py").redirectErrorStream(true).start();
            String err = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(1, p.waitFor(), err);
            assertTrue(err.contains("bad.safetensors: truncated"), err);
        }
        // a server with a token and TLS: the clients read the token from PROXSTREAM_TOKEN (HTTP header, TCP authentication
        // frame) and trust the server's certificate from a PEM file (cafile); without the token the push is refused
        String token = "py-token-0123456789abcdef";
        Path tokenFile = Files.writeString(tmp.resolve("serve.token"), token);
        Path keyStore = io.proxstream.actors.testing.KeyStores.selfSigned(tmp, "serve", "store-password-1");
        Path pem = io.proxstream.actors.testing.KeyStores.pem(keyStore, "store-password-1");
        try (ServeServer s = ServeServer.start(new ServeConfig("127.0.0.1", 0, 0, tmp.resolve("runs2").toString(), "", 1 << 20, 2000,
                100, tokenFile.toString(), false, keyStore.toString(), ""), Map.of(ServeTls.ENV, "store-password-1"))) {
            String url = "https://127.0.0.1:" + s.httpPort();
            String script = "import numpy as np\n"
                    + "from proxstream_client import Client, TcpClient, ProxstreamError\n"
                    + "c = Client('" + url + "', run='tok', retry_seconds=5, cafile='" + pem + "')\n"
                    + "try:\n"
                    + "    c.create_run(input_dim=" + D + ", sae={'latents': 32, 'k': 4}, batchSize=50, health={'holdout': 0})\n"
                    + "except ProxstreamError as e:\n"
                    + "    print('refused', e.status)\n"
                    + "if c.token:\n"
                    + "    print('http', c.push(np.ones((50, " + D + "), np.float32)))\n"
                    + "    t = TcpClient('127.0.0.1', " + s.tcpPort() + ", run='tok', tls=True, cafile='" + pem + "')\n"
                    + "    print('tcp', t.push(np.ones((40, " + D + "), np.float32)))\n"
                    + "    t.close()\n";
            ProcessBuilder without = new ProcessBuilder(venv.resolve("bin/python").toString(), "-c", script)
                    .directory(tmp.toFile()).redirectErrorStream(true);
            without.environment().remove("PROXSTREAM_TOKEN");
            Process p = without.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            assertTrue(out.contains("refused 401") && !out.contains("http "), out);
            ProcessBuilder with = new ProcessBuilder(venv.resolve("bin/python").toString(), "-c", script)
                    .directory(tmp.toFile()).redirectErrorStream(true);
            with.environment().put("PROXSTREAM_TOKEN", token);
            p = with.start();
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            assertTrue(out.contains("http 50") && out.contains("tcp 40") && !out.contains("refused"), out);
            assertEquals(90, s.runs().get("tok").status().ingestedRows());
        }
    }
}
