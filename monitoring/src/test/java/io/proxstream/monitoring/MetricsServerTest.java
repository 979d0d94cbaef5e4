package io.proxstream.monitoring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.junit.jupiter.api.Test;

class MetricsServerTest {

    @Test
    void servesMetersInPrometheusFormatAndHealth() throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "metrics-server-test");
        try {
            Meters meters = new Meters();
            SaeRunMeters run = new SaeRunMeters(meters.registry(), "r1", "pam");
            StreamMeters stream = new StreamMeters(meters.registry(), "r1");
            run.report(0.5, 0.25, 0.125, 8.0, 3, 1234.0, 1000, 0.0625);
            stream.rejected("non_finite", 2);
            stream.backpressureWait("source", 1_000_000);
            MetricsServer server = new MetricsServer(meters, () -> Map.of("runs", 1));
            ServerBinding b = MetricsServer.bind(system, "127.0.0.1", 0, server.routes())
                    .toCompletableFuture().get(10, TimeUnit.SECONDS);
            int port = b.localAddress().getPort();
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.headers().firstValue("content-type").orElse("").startsWith("text/plain"));
            String body = metrics.body();
            assertTrue(body.contains("sae_train_fvu{algo=\"pam\",run=\"r1\"} 0.125"), body);
            assertTrue(body.contains("sae_latents_dead{algo=\"pam\",run=\"r1\"} 3"), body);
            assertTrue(body.contains("sae_train_aux_loss{algo=\"pam\",run=\"r1\"} 0.0625"), body);
            assertTrue(body.contains("sae_train_samples_total{algo=\"pam\",run=\"r1\"} 1000"), body);
            assertTrue(body.contains("stream_records_rejected_total{reason=\"non_finite\",run=\"r1\"} 2"), body);
            assertTrue(body.contains("stream_records_rejected_total{reason=\"width\",run=\"r1\"} 0"), body);
            assertTrue(body.contains("stream_backpressure_wait_seconds_count{run=\"r1\",stage=\"source\"} 1"), body);
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());
            assertTrue(health.body().contains("\"status\":\"UP\"") && health.body().contains("\"runs\":1"), health.body());
            HttpResponse<String> missing = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/nope")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(404, missing.statusCode());
            b.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }
}
