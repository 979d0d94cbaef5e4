package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.actors.testing.KeyStores;
import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.protocol.ingest.IngestFrame;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS on the service: HTTPS and TLS TCP ingest from a PKCS12 key store; required, with a token, off loopback. */
class ServeTlsTest {
    private static final String TOKEN = "0123456789abcdef0123456789abcdef";
    private static final String PASSWORD = "store-password-1";
    private static final String RUN = "{\"name\": \"r1\", \"inputDim\": 8, \"sae\": {\"latents\": 16, \"k\": 2}, \"batchSize\": 16,"
            + " \"health\": {\"holdout\": 0}}";

    @TempDir
    Path tmp;

    private ServeConfig config(String host, String tokenFile, boolean insecure, String keyStore, String passwordFile) {
        return new ServeConfig(host, 0, 0, tmp.resolve("runs").toString(), "", 1 << 20, 500, 100, tokenFile, insecure, keyStore,
                passwordFile);
    }

    @Test
    void httpsAndTlsIngestCarryTheTokenAndTheDataAndPlainConnectionsGetNothing() throws Exception {
        Path ks = KeyStores.selfSigned(tmp, "serve", PASSWORD);
        Path pw = Files.writeString(tmp.resolve("pw"), PASSWORD + "\n");
        Path token = Files.writeString(tmp.resolve("token"), TOKEN + "\n");
        SSLContext trust = KeyStores.trusting(ks, PASSWORD);
        HttpClient https = HttpClient.newBuilder().sslContext(trust).build();
        try (ServeServer s = ServeServer.start(config("127.0.0.1", token.toString(), false, ks.toString(), pw.toString()), Map.of())) {
            String base = "https://127.0.0.1:" + s.httpPort();
            assertEquals(200, https.send(HttpRequest.newBuilder(URI.create(base + "/health/live")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            HttpResponse<String> created = https.send(HttpRequest.newBuilder(URI.create(base + "/runs"))
                    .header("Authorization", "Bearer " + TOKEN).POST(HttpRequest.BodyPublishers.ofString(RUN)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(201, created.statusCode(), created.body());
            assertEquals(401, https.send(HttpRequest.newBuilder(URI.create(base + "/runs")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode(), "TLS does not replace the token");
            // plain HTTP to the HTTPS port gets no HTTP answer
            HttpClient plain = HttpClient.newHttpClient();
            assertThrows(IOException.class, () -> plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.httpPort()
                    + "/health/live")).build(), HttpResponse.BodyHandlers.ofString()));
            // a client that does not trust the certificate is refused by its own TLS check
            assertThrows(IOException.class, () -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(base
                    + "/health/live")).build(), HttpResponse.BodyHandlers.ofString()));

            // TCP over TLS: authentication frame, then a batch
            try (SSLSocket sock = (SSLSocket) trust.getSocketFactory().createSocket("127.0.0.1", s.tcpPort())) {
                assertEquals(IngestFrame.ACCEPTED, ServeTest.tcp(sock, IngestFrame.encodeAuth(TOKEN)).status());
                IngestFrame.Reply rep = ServeTest.tcp(sock, IngestFrame.encode("r1", ServeAuthTest.floats(16 * 8), 16, 8));
                assertEquals(IngestFrame.ACCEPTED, rep.status(), rep.reason());
                assertEquals(16, rep.rows());
                assertTrue(sock.getSession().getProtocol().startsWith("TLSv1."), sock.getSession().getProtocol());
            }
            // a plain TCP frame to the TLS port gets no reply frame: the handshake fails and the connection closes
            try (Socket sock = new Socket("127.0.0.1", s.tcpPort())) {
                sock.setSoTimeout(10_000);
                assertThrows(IOException.class, () -> ServeTest.tcp(sock, IngestFrame.encodeAuth(TOKEN)));
            }
        }
    }

    @Test
    void offLoopbackTlsIsRequiredUnlessInsecureAndABadKeyStoreIsNamed() throws Exception {
        Path token = Files.writeString(tmp.resolve("token"), TOKEN + "\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ServeAuth.resolve(config("0.0.0.0", token.toString(), false, "", ""), Map.of(), new SimpleMeterRegistry()));
        assertTrue(e.getMessage().contains("without TLS") && e.getMessage().contains("--tls-keystore"), e.getMessage());
        assertTrue(ServeAuth.resolve(config("0.0.0.0", token.toString(), true, "", ""), Map.of(), new SimpleMeterRegistry()).required());
        Path ks = KeyStores.selfSigned(tmp, "serve", PASSWORD);
        assertTrue(ServeAuth.resolve(config("0.0.0.0", token.toString(), false, ks.toString(), ""), Map.of(),
                new SimpleMeterRegistry()).required());
        // the password: missing, wrong
        e = assertThrows(IllegalArgumentException.class, () -> ServeTls.resolve(config("127.0.0.1", "", false, ks.toString(), ""), Map.of()));
        assertTrue(e.getMessage().contains(ServeTls.ENV), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ServeTls.resolve(config("127.0.0.1", "", false, ks.toString(), ""),
                Map.of(ServeTls.ENV, "wrong-password")));
        assertTrue(e.getMessage().contains(ks.toString()) && e.getMessage().contains("cannot be opened"), e.getMessage());
        SSLContext ok = ServeTls.resolve(config("127.0.0.1", "", false, ks.toString(), ""), Map.of(ServeTls.ENV, PASSWORD));
        assertTrue(ok != null);
    }
}
