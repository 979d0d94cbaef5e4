package io.proxstream.actors.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.proxstream.monitoring.MetricsServer;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.RunConfig;
import io.proxstream.protocol.config.ServeConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.stream.Materializer;

/**
 * The HTTP API of {@code proxstream serve}.
 *
 * <pre>
 *   GET  /                                  live dashboard
 *   GET  /runs                              all runs' status (JSON)
 *   POST /runs                              create a run: JSON RunConfig, at least {"name", "inputDim"}
 *   GET  /runs/NAME                         status
 *   GET  /runs/NAME/history?after=SAMPLES   report windows (for plots)
 *   POST /runs/NAME/batches                 push a batch (raw float32 + X-Shape, .npy or .safetensors body)
 *   POST /runs/NAME/checkpoint              write a checkpoint now
 *   POST /runs/NAME/export                  write the SAELens export (cfg.json + sae_weights.safetensors)
 *   GET  /runs/NAME/export/FILE             download an exported file
 *   POST /runs/NAME/stop                    stop after the queued data; final checkpoint
 *   POST /runs/NAME/start-fresh             a run in RESUME_FAILED: move its unreadable checkpoints aside, train from scratch
 *   POST /runs/NAME/restart                 a FAILED run: start it again from its newest checkpoint
 *   GET  /metrics
 *   GET  /health, /health/live              liveness: 200 while the process serves
 *   GET  /health/ready                      readiness: 503 with the reasons while any run is LOADING, FAILED or RESUME_FAILED
 * </pre>
 */
public final class ServeRoutes extends AllDirectives {
    private static final ObjectMapper JSON = ConfigLoader.mapper();
    private static final Duration ASK = Duration.ofMinutes(2);

    private final ActorSystem<?> system;
    private final ServeConfig serve;
    private final ConcurrentMap<String, RunHandle> registry;
    private final ConcurrentMap<String, RunStatus> notRunning;
    private final ActorRef<RunManager.Command> manager;
    private final MetricsServer metrics;
    private final Materializer mat;
    private final ServeAuth auth;

    public ServeRoutes(ActorSystem<?> system, ServeConfig serve, ConcurrentMap<String, RunHandle> registry,
                       ConcurrentMap<String, RunStatus> notRunning, ActorRef<RunManager.Command> manager, MetricsServer metrics,
                       ServeAuth auth) {
        this.auth = auth;
        this.system = system;
        this.serve = serve;
        this.registry = registry;
        this.notRunning = notRunning;
        this.manager = manager;
        this.metrics = metrics;
        this.mat = Materializer.matFromSystem(system);
    }

    public Route routes() {
        return concat(
                pathSingleSlash(() -> get(() -> resource("dashboard/index.html", ContentTypes.TEXT_HTML_UTF8))),
                path("dashboard.js", () -> get(() -> resource("dashboard/dashboard.js",
                        ContentTypes.create(MediaTypes.APPLICATION_JAVASCRIPT, org.apache.pekko.http.javadsl.model.HttpCharsets.UTF_8)))),
                pathPrefix("health", () -> concat(
                        path("live", () -> get(() -> json(200, Map.of("status", "UP")))),
                        path("ready", () -> get(this::readiness)))),
                // everything below needs the bearer token when the service has one
                authorized(this::protectedRoutes));
    }

    /**
     * Passes requests that carry the service's bearer token (all, when it has none); answers the others 401 with a
     * {@code WWW-Authenticate: Bearer} challenge, counted in {@code auth_rejected_total{endpoint="http"}}.
     */
    private Route authorized(java.util.function.Supplier<Route> inner) {
        if (!auth.required()) {
            return inner.get();
        }
        return optionalHeaderValueByName("Authorization", h -> auth.httpAllowed(h.orElse(null)) ? inner.get()
                : complete(response(401, Map.of("error", h.isPresent() ? "the bearer token is wrong"
                        : "this server needs 'Authorization: Bearer TOKEN'"))
                        .addHeader(RawHeader.create("WWW-Authenticate", "Bearer realm=\"proxstream\""))));
    }

    private Route protectedRoutes() {
        return concat(
                metrics.routes(),
                pathPrefix("runs", () -> concat(
                        pathEndOrSingleSlash(() -> concat(
                                get(() -> json(200, listStatus())),
                                post(() -> entity(org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller.entityToString(),
                                        this::createRun)))),
                        pathPrefix(PathMatchers.segment(), name -> concat(
                                pathEnd(() -> get(() -> notRunning.containsKey(name) ? json(200, notRunning.get(name))
                                        : withRun(name, h -> json(200, h.status())))),
                                path("start-fresh", () -> post(() -> startFresh(name))),
                                path("restart", () -> post(() -> restart(name))),
                                path("history", () -> get(() -> parameterOptional("after", after ->
                                        withRun(name, h -> json(200, h.history().after(after.map(Long::parseLong).orElse(-1L))))))),
                                path("batches", () -> post(() -> extractRequest(req -> completeWithFuture(ingest(name, req))))),
                                path("stop", () -> post(() -> withRun(name, h -> ask(h, RunActor.Stop::new,
                                        status -> Map.of("run", name, "status", status))))),
                                path("checkpoint", () -> post(() -> withRun(name, h -> ask(h, RunActor.Checkpoint::new,
                                        file -> Map.of("run", name, "checkpoint", file))))),
                                pathPrefix("export", () -> concat(
                                        pathEnd(() -> post(() -> withRun(name, h -> ask(h, RunActor.Export::new,
                                                d -> Map.of("run", name, "directory", d, "files",
                                                        List.of("cfg.json", "sae_weights.safetensors")))))),
                                        path(PathMatchers.segment(), file -> get(() -> withRun(name, h -> download(h, file)))))))))));
    }

    private Route resource(String name, ContentType type) {
        try (InputStream in = ServeRoutes.class.getResourceAsStream("/" + name)) {
            if (in == null) {
                return complete(StatusCodes.NOT_FOUND, name + " is missing from the build");
            }
            return complete(HttpResponse.create().withEntity(HttpEntities.create(type, in.readAllBytes())));
        } catch (IOException e) {
            return complete(StatusCodes.INTERNAL_SERVER_ERROR, e.toString());
        }
    }

    private List<RunStatus> listStatus() {
        List<RunStatus> out = new ArrayList<>();
        registry.values().stream().map(RunHandle::status).filter(java.util.Objects::nonNull).forEach(out::add);
        out.addAll(notRunning.values());
        out.sort(java.util.Comparator.comparing(RunStatus::name));
        return out;
    }

    /** 200 when every run can train; 503 naming each run that is LOADING, FAILED or RESUME_FAILED and why. */
    private Route readiness() {
        List<Map<String, String>> problems = new ArrayList<>();
        for (RunStatus st : listStatus()) {
            if (RunState.valueOf(st.state()).notReady()) {
                problems.add(Map.of("run", st.name(), "state", st.state(), "reason", RunState.LOADING.name().equals(st.state())
                        ? "loading its trainer and newest checkpoint" : st.error() == null ? "" : st.error()));
            }
        }
        return problems.isEmpty() ? json(200, Map.of("status", "READY", "runs", registry.size()))
                : json(503, Map.of("status", "NOT_READY", "problems", problems));
    }

    private Route restart(String name) {
        return askManager(replyTo -> new RunManager.Restart(name, replyTo));
    }

    private Route startFresh(String name) {
        return askManager(replyTo -> new RunManager.StartFresh(name, replyTo));
    }

    /** Asks the run manager; 201 with the run's status, or 409 with the reason. */
    private Route askManager(java.util.function.Function<ActorRef<StatusReply<RunStatus>>, RunManager.Command> message) {
        CompletionStage<HttpResponse> r = AskPattern.<RunManager.Command, StatusReply<RunStatus>>ask(manager, message::apply, ASK,
                        system.scheduler())
                .thenApply(reply -> reply.isSuccess() ? response(201, reply.getValue())
                        : response(409, Map.of("error", reply.getError().getMessage())));
        return slow(r);
    }

    private Route withRun(String name, java.util.function.Function<RunHandle, Route> f) {
        RunHandle h = registry.get(name);
        return h == null ? json(404, Map.of("error", "no run '" + name + "'")) : f.apply(h);
    }

    private <T> Route ask(RunHandle h, java.util.function.Function<ActorRef<StatusReply<T>>, RunActor.Command> message,
                          java.util.function.Function<T, Object> body) {
        CompletionStage<HttpResponse> r = AskPattern.<RunActor.Command, StatusReply<T>>ask(h.actor(), message::apply, ASK,
                        system.scheduler())
                .thenApply(reply -> reply.isSuccess() ? response(200, body.apply(reply.getValue()))
                        : response(409, Map.of("error", reply.getError().getMessage())))
                .exceptionally(e -> response(500, Map.of("error", String.valueOf(e))));
        return slow(r);
    }

    /**
     * Completes with work that may outlast pekko-http's default 20 s request timeout (a checkpoint of several GiB, an
     * export, a run that loads its checkpoint): the request waits as long as the ask does, so the client gets the real
     * answer (or the ask's own timeout as a 500 naming it), never a bare 503 while the work goes on.
     */
    private Route slow(CompletionStage<HttpResponse> r) {
        return withRequestTimeout(ASK.plusSeconds(10), () -> completeWithFuture(r));
    }

    private Route createRun(String body) {
        RunConfig cfg;
        try {
            com.fasterxml.jackson.databind.JsonNode doc = JSON.readTree(body);
            if (doc == null || !doc.hasNonNull("name") || !doc.hasNonNull("inputDim")) {
                return json(400, Map.of("error", "a run needs at least {\"name\": ..., \"inputDim\": ...}"));
            }
            cfg = ConfigLoader.loadJson(RunConfig.class, RunConfig.defaults(doc.get("name").asText(), doc.get("inputDim").asInt()),
                    body, "run config");
        } catch (IOException | IllegalArgumentException e) {
            return json(400, Map.of("error", e.getMessage()));
        }
        CompletionStage<HttpResponse> r = AskPattern.<RunManager.Command, StatusReply<RunStatus>>ask(manager,
                        replyTo -> new RunManager.Create(cfg, replyTo), ASK, system.scheduler())
                .thenApply(reply -> reply.isSuccess() ? response(201, reply.getValue())
                        : response(reply.getError().getMessage().contains("already exists")
                                || reply.getError().getMessage().startsWith("the server cannot hold") ? 409 : 400,
                        Map.of("error", reply.getError().getMessage())));
        return slow(r);
    }

    /** The ingest path: check, reserve room (or answer busy), read, decode, validate, queue. */
    CompletionStage<HttpResponse> ingest(String name, HttpRequest req) {
        RunHandle h = registry.get(name);
        if (h == null) {
            RunStatus waiting = notRunning.get(name);
            if (waiting != null && RunState.LOADING.name().equals(waiting.state())) {
                return discardThen(req, response(503, Map.of("error", "run '" + name + "' is loading its checkpoint; retry later"))
                        .addHeader(RawHeader.create("Retry-After", "5")));
            }
            return discardThen(req, response(404, Map.of("error", "no run '" + name + "'")));
        }
        BatchDecoder.Format format = BatchDecoder.Format.of(req.entity().getContentType().toString());
        if (format == null) {
            return discardThen(req, rejected(h, 415, "malformed", "unsupported Content-Type " + req.entity().getContentType()
                    + "; use application/octet-stream (with X-Shape), application/x-npy or application/x-safetensors"));
        }
        int[] shape = null;
        if (format == BatchDecoder.Format.RAW) {
            Optional<String> declared = req.getHeader("X-Shape").map(x -> x.value());
            if (declared.isEmpty()) {
                declared = req.getUri().query().get("rows").flatMap(rr -> req.getUri().query().get("cols").map(cc -> rr + "," + cc));
            }
            if (declared.isEmpty()) {
                return discardThen(req, rejected(h, 400, "malformed", "raw float32 bodies need their shape: header X-Shape: ROWS,COLS"));
            }
            try {
                shape = BatchDecoder.shape(declared.get());
            } catch (IOException e) {
                return discardThen(req, rejected(h, 400, "malformed", e.getMessage()));
            }
            if (4L * shape[0] * shape[1] > Math.min(serve.maxBatchBytes(), h.budgetBytes())) {
                return discardThen(req, rejected(h, 413, "too_large", "declared shape " + shape[0] + "," + shape[1] + " ("
                        + 4L * shape[0] * shape[1] + " bytes) exceeds the limit of " + Math.min(serve.maxBatchBytes(), h.budgetBytes())
                        + " bytes"));
            }
        }
        OptionalLong length = req.entity().getContentLengthOption();
        if (length.isEmpty()) {
            return discardThen(req, rejected(h, 411, "malformed", "Content-Length is required"));
        }
        long limit = Math.min(serve.maxBatchBytes(), h.budgetBytes());
        if (length.getAsLong() > limit) {
            return discardThen(req, rejected(h, 413, "too_large", "body of " + length.getAsLong() + " bytes exceeds the limit of "
                    + limit + " bytes"));
        }
        if (!h.accepting()) {
            return discardThen(req, response(409, Map.of("error", "run '" + name + "' is not accepting data")));
        }
        // what the batch will hold: raw bodies are float32; .npy/.safetensors bodies may be f16/bf16 and decode to
        // twice their bytes, so they reserve that (the excess returns once decoded), lest two such pushes each
        // hold half the budget and wait for the other
        long reserve = format == BatchDecoder.Format.RAW ? length.getAsLong()
                : Math.min(h.budgetBytes(), 2 * length.getAsLong());
        int[] declared = shape;
        String tensor = req.getUri().query().get("tensor").orElse(null);
        return h.reserve(reserve, serve.ingestWaitMillis()).thenCompose(ok -> {
            if (!ok && !h.accepting()) {
                return discardThen(req, response(409, Map.of("error", "run '" + name + "' is not accepting data")));
            }
            if (!ok) {
                return discardThen(req, response(503, Map.of("error", "run '" + name + "' is behind; retry later"))
                        .addHeader(RawHeader.create("Retry-After", "1")));
            }
            // the body's own length as the bound: the default (pekko.http.parsing.max-to-strict-bytes, 8 MiB) refused
            // every push above 8 MiB, e.g. 4096 rows of width 768
            return req.entity().toStrict(60_000, length.getAsLong(), mat).handle((strict, err) -> {
                if (err != null) {
                    h.release(reserve);
                    return CompletableFuture.completedFuture(rejected(h, 400, "malformed", "could not read the body: " + err.getMessage()));
                }
                org.apache.pekko.util.ByteString data = strict.getData();
                long bodyBytes = data.size();
                BatchDecoder.Batch b;
                try {
                    // raw float32 is decoded from the network chunks themselves: a contiguous copy would make a push in
                    // flight hold three times its reservation instead of two
                    b = format == BatchDecoder.Format.RAW ? BatchDecoder.decodeRaw(data.getByteBuffers(), bodyBytes, declared)
                            : BatchDecoder.decode(format, data.toArray(), declared, tensor);
                } catch (IOException | RuntimeException e) {
                    h.release(reserve);
                    return CompletableFuture.completedFuture(rejected(h, 400, "malformed", e.getMessage()));
                }
                return h.accept("http", b.data(), b.rows(), b.cols(), reserve, bodyBytes).thenApply(this::pushResponse);
            }).thenCompose(x -> x);
        });
    }

    private HttpResponse pushResponse(RunHandle.PushResult r) {
        Map<String, Object> body = new LinkedHashMap<>();
        if (r.outcome() == RunHandle.Outcome.ACCEPTED) {
            body.put("accepted", r.rows());
        } else {
            body.put("error", r.reason());
        }
        HttpResponse resp = response(r.outcome().httpStatus(), body);
        return r.outcome() == RunHandle.Outcome.BUSY ? resp.addHeader(RawHeader.create("Retry-After", "1")) : resp;
    }

    private HttpResponse rejected(RunHandle h, int status, String reason, String message) {
        h.reject(RunHandle.Outcome.MALFORMED, reason, message);
        return response(status, Map.of("error", message));
    }

    private CompletionStage<HttpResponse> discardThen(HttpRequest req, HttpResponse resp) {
        return req.discardEntityBytes(mat).completionStage().handle((d, e) -> resp);
    }

    private Route download(RunHandle h, String file) {
        if (!file.equals("cfg.json") && !file.equals("sae_weights.safetensors")) {
            return json(404, Map.of("error", "exports hold cfg.json and sae_weights.safetensors"));
        }
        Path p = h.directory().resolve("export").resolve(file);
        if (!Files.isRegularFile(p)) {
            return json(404, Map.of("error", "no export yet: POST /runs/" + h.config().name() + "/export first"));
        }
        return getFromFile(p.toFile(), file.endsWith(".json") ? ContentTypes.APPLICATION_JSON : ContentTypes.APPLICATION_OCTET_STREAM);
    }

    private Route json(int status, Object body) {
        return complete(response(status, body));
    }

    static HttpResponse response(int status, Object body) {
        try {
            return HttpResponse.create().withStatus(status)
                    .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, JSON.writeValueAsString(body)));
        } catch (IOException e) {
            return HttpResponse.create().withStatus(500).withEntity(e.toString());
        }
    }
}
