package io.proxstream.monitoring;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Serves {@code GET /metrics} (Prometheus text exposition format, {@code text/plain}) and {@code GET /health} (JSON) over
 * Pekko HTTP. Further routes (dashboard, APIs) can be added by the caller.
 */
public final class MetricsServer extends AllDirectives {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Meters meters;
    private final Supplier<Map<String, Object>> health;
    private final long started = System.nanoTime();

    /**
     * @param health extra fields of the health document (called per request; must be thread-safe)
     */
    public MetricsServer(Meters meters, Supplier<Map<String, Object>> health) {
        this.meters = meters;
        this.health = health;
    }

    /** The routes of this server, to be combined with others. */
    public Route routes() {
        return concat(
                path("metrics", () -> get(() -> complete(HttpResponse.create()
                        .withEntity(HttpEntities.create(ContentTypes.TEXT_PLAIN_UTF8, meters.scrape()))))),
                path("health", () -> get(() -> complete(HttpResponse.create()
                        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, healthJson()))))));
    }

    private String healthJson() {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("status", "UP");
        doc.put("uptimeSeconds", (System.nanoTime() - started) / 1e9);
        doc.putAll(health.get());
        try {
            return JSON.writeValueAsString(doc);
        } catch (Exception e) {
            return "{\"status\":\"UP\"}";
        }
    }

    /** Binds {@code route} on {@code host:port} (port 0: any free port). */
    public static CompletionStage<ServerBinding> bind(ClassicActorSystemProvider system, String host, int port, Route route) {
        return Http.get(system).newServerAt(host, port).bind(route);
    }
}
