package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.monitoring.ClusterMeters;
import io.proxstream.monitoring.Meters;
import io.proxstream.protocol.config.ServeConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Prometheus alert rules in monitoring/prometheus: valid ({@code promtool check rules}), each firing
 * when it should and not otherwise ({@code promtool test rules alerts-test.yml}), and written over series
 * that serve and node really export (every metric name in the rules appears in their /metrics).
 */
class AlertRulesTest {
    @TempDir
    Path tmp;

    private static Path rulesDir() {
        return ServeResumeIT.repoRoot().resolve("monitoring/prometheus");
    }

    private static String promtool(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("promtool"));
        cmd.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(rulesDir().toFile()).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            throw new AssertionError("promtool is needed (Debian package prometheus; .ci/run installs it): " + e.getMessage());
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    @Test
    void theRulesAreValidAndTheirUnitTestsPass() throws Exception {
        assertTrue(promtool("check", "rules", "alerts.yml").contains("SUCCESS: 7 rules found"));
        assertTrue(promtool("test", "rules", "alerts-test.yml").contains("SUCCESS"));
    }

    @Test
    void everyMetricTheRulesReadIsExportedByServeOrNode() throws Exception {
        String rules = Files.readString(rulesDir().resolve("alerts.yml"));
        Set<String> names = new TreeSet<>();
        Matcher m = Pattern.compile("\\b((?:serve|sae|ingest|cluster)_[a-z_]+)").matcher(rules);
        while (m.find()) {
            names.add(m.group(1));
        }
        assertTrue(names.size() >= 7, names.toString());
        StringBuilder exported = new StringBuilder();
        try (ServeServer s = ServeServer.start(new ServeConfig("127.0.0.1", 0, -1, tmp.resolve("runs").toString(), "", 1 << 20, 500, 100))) {
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + s.httpPort();
            assertEquals(201, http.send(HttpRequest.newBuilder(URI.create(base + "/runs")).POST(HttpRequest.BodyPublishers.ofString(
                    "{\"name\": \"r1\", \"inputDim\": 4, \"sae\": {\"latents\": 16, \"k\": 2}}")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            // a refused batch, so that the rejection counter exists
            assertEquals(422, http.send(HttpRequest.newBuilder(URI.create(base + "/runs/r1/batches")).header("X-Shape", "1,3")
                    .header("Content-Type", "application/octet-stream").POST(HttpRequest.BodyPublishers.ofByteArray(new byte[12]))
                    .build(), HttpResponse.BodyHandlers.ofString()).statusCode());
            exported.append(http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(), HttpResponse.BodyHandlers.ofString())
                    .body());
        }
        Meters node = new Meters();
        new ClusterMeters(node.registry(), "127.0.0.1:2552");
        exported.append(node.scrape());
        for (String name : names) {
            assertTrue(Pattern.compile("(?m)^" + name + "\\{").matcher(exported).find(), name + " is not exported");
        }
        assertTrue(exported.toString().contains("serve_run_state{run=\"r1\",state=\"TRAINING\"} 1.0"), exported.toString());
        assertTrue(exported.toString().contains("serve_run_state{run=\"r1\",state=\"FAILED\"} 0.0"), exported.toString());
    }
}
