package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.proxstream.monitoring.ClusterMeters;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.MetricsServer;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.ServeConfig;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (Debian's package) scrapes a running serve and a node's metrics endpoint on loopback
 * with the alert rules of monitoring/prometheus loaded: every metric the rules read and every panel of
 * the Grafana board returns series through Prometheus's HTTP API, every rule expression evaluates, and a
 * run failed on purpose makes ProxstreamRunFailed fire. (The rules' {@code for:} durations are shortened
 * to 1 s in this copy; their timing is tested by {@code promtool test rules}.)
 */
class PrometheusIT {
    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();

    private JsonNode get(String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
        return ConfigLoader.mapper().readTree(r.body());
    }

    private JsonNode query(int port, String promql) throws Exception {
        JsonNode r = get("http://127.0.0.1:" + port + "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        assertEquals("success", r.path("status").asText(), promql + ": " + r);
        return r.path("data").path("result");
    }

    private static byte[] raw(int rows, int cols, float v) {
        ByteBuffer b = ByteBuffer.allocate(4 * rows * cols).order(ByteOrder.LITTLE_ENDIAN);
        java.util.SplittableRandom r = new java.util.SplittableRandom(1);
        for (int i = 0; i < rows * cols; i++) {
            b.putFloat(Float.isNaN(v) && i == 0 ? Float.NaN : (float) r.nextGaussian());
        }
        return b.array();
    }

    private HttpResponse<String> send(String url, String method, byte[] body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).method(method, body == null
                ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aRealPrometheusScrapesServeEvaluatesTheRulesAndTheBoardAndAFailedRunFiresItsAlert() throws Exception {
        Path rulesDir = ServeResumeIT.repoRoot().resolve("monitoring/prometheus");
        String rules = Files.readString(rulesDir.resolve("alerts.yml")).replaceAll("for: \\S+", "for: 1s");
        Files.writeString(tmp.resolve("alerts.yml"), rules);
        ActorSystem<Void> nodeSystem = ActorSystem.create(Behaviors.empty(), "prometheus-it-node");
        Process prometheus = null;
        try (ServeServer s = ServeServer.start(new ServeConfig("127.0.0.1", 0, -1, tmp.resolve("runs").toString(), "", 1 << 20, 500,
                100))) {
            String base = "http://127.0.0.1:" + s.httpPort();
            assertEquals(201, send(base + "/runs", "POST", "{\"name\": \"ok\", \"inputDim\": 8, \"sae\": {\"latents\": 32, \"k\": 2},"
                    // one row in 4 held out and evaluated every second: the latent-health panels get series
                    .concat(" \"batchSize\": 64, \"reportEvery\": 128, \"health\": {\"holdout\": 0.25, \"rows\": 256, \"everySeconds\": 1}}")
                    .getBytes()).statusCode());
            assertEquals(201, send(base + "/runs", "POST", "{\"name\": \"doomed\", \"inputDim\": 8, \"sae\": {\"latents\": 32, \"k\": 2}}"
                    .getBytes()).statusCode());
            for (int i = 0; i < 8; i++) {
                assertEquals(200, send(base + "/runs/ok/batches", "POST", raw(256, 8, 0), "Content-Type", "application/octet-stream",
                        "X-Shape", "256,8").statusCode());
            }
            assertEquals(422, send(base + "/runs/ok/batches", "POST", raw(4, 8, Float.NaN), "Content-Type", "application/octet-stream",
                    "X-Shape", "4,8").statusCode(), "a rejection, so that its counter exists");
            // a node's metrics endpoint, as `proxstream node --metrics-port` serves it
            Meters nodeMeters = new Meters();
            ClusterMeters cluster = new ClusterMeters(nodeMeters.registry(), "127.0.0.1:2552");
            cluster.members(3);
            cluster.workers(2);
            int nodePort = MetricsServer.bind(nodeSystem, "127.0.0.1", 0, new MetricsServer(nodeMeters, Map::of).routes())
                    .toCompletableFuture().get(30, TimeUnit.SECONDS).localAddress().getPort();

            int promPort = ServeResumeIT.freePort();
            Files.writeString(tmp.resolve("prometheus.yml"), String.join("\n",
                    "global:", "  scrape_interval: 1s", "  evaluation_interval: 1s",
                    "rule_files:", "  - " + tmp.resolve("alerts.yml"),
                    "scrape_configs:",
                    "  - job_name: serve", "    static_configs:", "      - targets: ['127.0.0.1:" + s.httpPort() + "']",
                    "  - job_name: node", "    static_configs:", "      - targets: ['127.0.0.1:" + nodePort + "']", ""));
            List<String> cmd = List.of("prometheus", "--config.file=" + tmp.resolve("prometheus.yml"),
                    "--storage.tsdb.path=" + tmp.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + promPort);
            try {
                prometheus = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("prometheus.log").toFile()).start();
            } catch (java.io.IOException e) {
                throw new AssertionError("prometheus is needed (Debian package prometheus; .ci/run installs it): " + e.getMessage());
            }
            long end = System.currentTimeMillis() + 60_000;
            while (System.currentTimeMillis() < end) {
                try {
                    // rates need two samples: wait for three scrapes of each target
                    // and for the first latent-health evaluation: one density series per bucket
                    if (query(promPort, "count_over_time(up[1m]) >= 3").size() == 2 && query(promPort, "sae_train_fvu{run=\"ok\"}").size() == 1
                            && query(promPort, "sae_latents_density{run=\"ok\"}").size() == 8) {
                        break;
                    }
                } catch (java.io.IOException notYet) {
                    // not listening yet
                }
                Thread.sleep(500);
            }
            assertEquals(2, query(promPort, "up == 1").size(), "both targets scraped; log:\n" + Files.readString(tmp.resolve("prometheus.log")));

            // every metric the rules read has series, and every rule expression evaluates
            Matcher names = Pattern.compile("\\b((?:serve|sae|ingest|cluster)_[a-z_]+)").matcher(rules);
            while (names.find()) {
                assertTrue(query(promPort, names.group(1)).size() > 0, names.group(1) + " has no series in Prometheus");
            }
            Matcher exprs = Pattern.compile("(?m)^\\s+expr: (.+)$").matcher(rules);
            int n = 0;
            while (exprs.find()) {
                query(promPort, exprs.group(1));
                n++;
            }
            assertEquals(7, n, "every rule evaluated");
            // every panel of the board returns series
            JsonNode board = ConfigLoader.mapper().readTree(ServeResumeIT.repoRoot().resolve("monitoring/grafana/proxstream-dashboard.json")
                    .toFile());
            List<String> empty = new ArrayList<>();
            for (JsonNode panel : board.path("panels")) {
                for (JsonNode target : panel.path("targets")) {
                    if (query(promPort, target.path("expr").asText()).size() == 0) {
                        empty.add(panel.path("title").asText() + ": " + target.path("expr").asText());
                    }
                }
            }
            assertTrue(empty.isEmpty(), "panels without series: " + empty);
            assertEquals(0, get("http://127.0.0.1:" + promPort + "/api/v1/alerts").path("data").path("alerts").size(), "nothing fires yet");

            // fail a run on purpose: its final checkpoint cannot be written
            Path ck = tmp.resolve("runs/doomed/checkpoints");
            if (Files.exists(ck)) {
                try (var files = Files.walk(ck)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            Files.writeString(ck, "not a directory");
            send(base + "/runs/doomed/stop", "POST", null);
            end = System.currentTimeMillis() + 60_000;
            JsonNode firing = null;
            while (System.currentTimeMillis() < end) {
                for (JsonNode a : get("http://127.0.0.1:" + promPort + "/api/v1/alerts").path("data").path("alerts")) {
                    if (a.path("labels").path("alertname").asText().equals("ProxstreamRunFailed") && a.path("state").asText().equals("firing")) {
                        firing = a;
                    }
                }
                if (firing != null) {
                    break;
                }
                Thread.sleep(500);
            }
            assertTrue(firing != null, "ProxstreamRunFailed fires for the failed run");
            assertEquals("doomed", firing.path("labels").path("run").asText());
            assertEquals("FAILED", firing.path("labels").path("state").asText());
        } finally {
            if (prometheus != null) {
                prometheus.destroy();
                prometheus.waitFor(30, TimeUnit.SECONDS);
            }
            nodeSystem.terminate();
        }
    }
}
