package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.protocol.ingest.IngestFrame;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bearer token: required on non-loopback binds, checked on HTTP and TCP, refusals answered 401/fatal and counted. */
class ServeAuthTest {
    private static final String TOKEN = "0123456789abcdef0123456789abcdef";
    private static final String RUN = "{\"name\": \"r1\", \"inputDim\": 8, \"sae\": {\"latents\": 16, \"k\": 2}, \"batchSize\": 16,"
            + " \"health\": {\"holdout\": 0}}";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();

    private ServeConfig config(String host, String tokenFile, boolean insecure) {
        return new ServeConfig(host, 0, 0, tmp.resolve("runs").toString(), "", 1 << 20, 500, 100, tokenFile, insecure);
    }

    private HttpResponse<String> send(ServeServer s, String method, String path, byte[] body, String... headers) throws Exception {
        return ServeTest.send(http, s, method, path, body, headers);
    }

    private static IngestFrame.Reply tcp(Socket sock, ByteBuffer frame) throws IOException {
        return ServeTest.tcp(sock, frame);
    }

    private static byte[] raw(int rows, int cols) {
        ByteBuffer b = ByteBuffer.allocate(4 * rows * cols).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows * cols; i++) {
            b.putFloat((float) Math.sin(i));
        }
        return b.array();
    }

    static float[] floats(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) Math.cos(i);
        }
        return x;
    }

    @Test
    void aNonLoopbackBindNeedsATokenOrInsecure() throws Exception {
        Map<String, String> noEnv = Map.of();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ServeAuth.resolve(config("0.0.0.0", "", false), noEnv, new SimpleMeterRegistry()));
        assertTrue(e.getMessage().contains("0.0.0.0") && e.getMessage().contains("--token-file")
                && e.getMessage().contains("--insecure"), e.getMessage());
        assertEquals(false, ServeAuth.resolve(config("0.0.0.0", "", true), noEnv, new SimpleMeterRegistry()).required());
        assertEquals(false, ServeAuth.resolve(config("127.0.0.1", "", false), noEnv, new SimpleMeterRegistry()).required());
        // a token without TLS off loopback needs --insecure too (ServeTlsTest)
        assertEquals(true, ServeAuth.resolve(config("0.0.0.0", "", true), Map.of(ServeAuth.ENV, TOKEN),
                new SimpleMeterRegistry()).required());
        // a token file that is missing, empty or too short is an error naming it, never a silently open server
        Path missing = tmp.resolve("nope.token");
        e = assertThrows(IllegalArgumentException.class,
                () -> ServeAuth.resolve(config("127.0.0.1", missing.toString(), false), noEnv, new SimpleMeterRegistry()));
        assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("cannot be read"), e.getMessage());
        Path empty = Files.writeString(tmp.resolve("empty.token"), "\n");
        e = assertThrows(IllegalArgumentException.class,
                () -> ServeAuth.resolve(config("127.0.0.1", empty.toString(), false), noEnv, new SimpleMeterRegistry()));
        assertTrue(e.getMessage().contains("is empty"), e.getMessage());
        Path shortToken = Files.writeString(tmp.resolve("short.token"), "secret\n");
        e = assertThrows(IllegalArgumentException.class,
                () -> ServeAuth.resolve(config("127.0.0.1", shortToken.toString(), false), noEnv, new SimpleMeterRegistry()));
        assertTrue(e.getMessage().contains("6 characters") && e.getMessage().contains("16"), e.getMessage());
    }

    @Test
    void withATokenUnauthenticatedRequestsAndConnectionsAreRefusedAndCounted() throws Exception {
        Path tokenFile = Files.writeString(tmp.resolve("serve.token"), TOKEN + "\n");
        String bearer = "Bearer " + TOKEN;
        // bound to every interface: the case the token is for (without TLS, which ServeTlsTest adds, so --insecure)
        try (ServeServer s = ServeServer.start(config("0.0.0.0", tokenFile.toString(), true), Map.of())) {
            // probes and the dashboard's static files stay open
            assertEquals(200, send(s, "GET", "/health/live", null).statusCode());
            assertEquals(200, send(s, "GET", "/", null).statusCode());
            HttpResponse<String> r = send(s, "POST", "/runs", RUN.getBytes());
            assertEquals(401, r.statusCode(), r.body());
            assertTrue(r.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"), r.headers().toString());
            assertTrue(r.body().contains("Authorization: Bearer TOKEN"), r.body());
            assertEquals(401, send(s, "GET", "/runs", null, "Authorization", "Bearer wrong-token-of-some-length").statusCode());
            assertEquals(401, send(s, "GET", "/metrics", null).statusCode());
            assertEquals(201, send(s, "POST", "/runs", RUN.getBytes(), "Authorization", bearer).statusCode());
            HttpResponse<String> push = send(s, "POST", "/runs/r1/batches", raw(16, 8), "Content-Type", "application/octet-stream",
                    "X-Shape", "16,8");
            assertEquals(401, push.statusCode(), "an unauthenticated push is refused");
            assertEquals(200, send(s, "POST", "/runs/r1/batches", raw(16, 8), "Content-Type", "application/octet-stream",
                    "X-Shape", "16,8", "Authorization", bearer).statusCode());

            // TCP: data before authentication ends the connection; a wrong token too; the right one lets data in
            try (Socket sock = new Socket("127.0.0.1", s.tcpPort())) {
                IngestFrame.Reply rep = tcp(sock, IngestFrame.encode("r1", floats(16 * 8), 16, 8));
                assertEquals(IngestFrame.FATAL, rep.status(), rep.reason());
                assertTrue(rep.reason().contains("authentication frame"), rep.reason());
                assertTrue(closed(sock), "the server closed the connection");
            }
            try (Socket sock = new Socket("127.0.0.1", s.tcpPort())) {
                IngestFrame.Reply rep = tcp(sock, IngestFrame.encodeAuth("not-the-token-at-all"));
                assertEquals(IngestFrame.FATAL, rep.status(), rep.reason());
                assertTrue(rep.reason().contains("wrong token"), rep.reason());
                assertTrue(closed(sock), "the server closed the connection");
            }
            try (Socket sock = new Socket("127.0.0.1", s.tcpPort())) {
                assertEquals(IngestFrame.ACCEPTED, tcp(sock, IngestFrame.encodeAuth(TOKEN)).status());
                IngestFrame.Reply rep = tcp(sock, IngestFrame.encode("r1", floats(16 * 8), 16, 8));
                assertEquals(IngestFrame.ACCEPTED, rep.status(), rep.reason());
                assertEquals(16, rep.rows());
            }

            String metrics = send(s, "GET", "/metrics", null, "Authorization", bearer).body();
            // POST /runs, the wrong token, /metrics, the push: 4 over HTTP; data first and a wrong token: 2 over TCP
            assertTrue(metrics.contains("auth_rejected_total{endpoint=\"http\"} 4.0"), metrics);
            assertTrue(metrics.contains("auth_rejected_total{endpoint=\"tcp\"} 2.0"), metrics);
            // the refused push was not ingested: only the two authenticated batches were
            assertTrue(metrics.contains("ingest_rows_total{run=\"r1\",transport=\"http\"} 16.0"), metrics);
            assertTrue(metrics.contains("ingest_rows_total{run=\"r1\",transport=\"tcp\"} 16.0"), metrics);
        }
    }

    private static boolean closed(Socket sock) throws IOException {
        try {
            return sock.getInputStream().read() == -1;
        } catch (EOFException | java.net.SocketException e) {
            return true;
        }
    }
}
