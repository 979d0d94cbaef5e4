package io.proxstream.actors.cluster;

import io.proxstream.actors.serve.ServeAuth;
import io.proxstream.protocol.config.ConfigLoader;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.Materializer;

/**
 * The HTTP API of a {@code serve --cluster} node; every node answers for every run:
 * <pre>
 *   GET  /                                  the cluster's dashboard: every run, its ledger and workers (no token; it asks with one)
 *   GET  /health                            up, cluster members, this node's roles (no token)
 *   GET  /metrics                           Prometheus exposition of this node
 *   GET  /runs                              the cluster's runs and their states
 *   POST /runs                              create a run: {"name": N, "dim": D, ...DataParallelPam.Config fields}
 *   GET  /runs/NAME                         the run's status (its coordinator's, or its summary) and this node's ledger
 *   POST /runs/NAME/batches                 push rows (serve's bodies and answers); this node's worker trains them
 *   POST /runs/NAME/stop                    end the run after the round in flight (final checkpoint, summary, model)
 *   POST /runs/NAME/export                  write the SAELens export of the current model (cfg.json + sae_weights.safetensors)
 *   GET  /runs/NAME/export/FILE             download an exported file
 *   GET  /runs/NAME/model                   the trained model (model.safetensors) once the run has finished
 * </pre>
 * A bearer token, when the service has one, guards everything but {@code /health}.
 */
public final class ClusterRoutes extends AllDirectives {
    /** How long a status request waits for a run's coordinator (it may be starting, or moving after a node loss). */
    static final Duration ASK = Duration.ofSeconds(3);
    /** How long an export request waits (the coordinator writes it after the round in flight). */
    static final Duration EXPORT_WAIT = Duration.ofMinutes(10);

    private final ClusterService service;
    private final NodeIngest ingest;
    private final ServeAuth auth;
    private final Route metrics;
    private final Materializer mat;
    private final Executor blocking;

    public ClusterRoutes(ClusterService service, NodeIngest ingest, ServeAuth auth, Route metrics, Materializer mat) {
        this.service = service;
        this.ingest = ingest;
        this.auth = auth;
        this.metrics = metrics;
        this.mat = mat;
        this.blocking = service.system().dispatchers().lookup(org.apache.pekko.actor.typed.DispatcherSelector.blocking());
    }

    public Route routes() {
        return concat(
                pathSingleSlash(() -> get(() -> getFromResource("dashboard/cluster.html",
                        org.apache.pekko.http.javadsl.model.ContentTypes.TEXT_HTML_UTF8))),
                path("health", () -> get(() -> complete(NodeIngest.response(200, health())))),
                extractRequest(req -> {
                    if (!auth.httpAllowed(req.getHeader("Authorization").map(h -> h.value()).orElse(null))) {
                        return completeWithFuture(ingest.unauthorized(req));
                    }
                    return concat(metrics, pathPrefix("runs", () -> concat(
                            pathEnd(() -> concat(
                                    get(() -> completeWithFuture(list())),
                                    post(() -> completeWithFuture(create(req))))),
                            pathPrefix(PathMatchers.segment(), name -> run(name, req)))));
                }));
    }

    private Route run(String name, HttpRequest req) {
        return concat(
                pathEnd(() -> get(() -> completeWithFuture(known(name, () -> status(name, true))))),
                path("batches", () -> post(() -> ingest.batches(name, req))),
                path("stop", () -> post(() -> completeWithFuture(known(name, () -> stop(name))))),
                path("export", () -> post(() -> completeWithFuture(known(name, () -> export(name))))),
                path(PathMatchers.segment("export").slash(PathMatchers.segment()), file -> get(() -> download(name, "export", file))),
                path("model", () -> get(() -> download(name, null, "model.safetensors"))));
    }

    private Map<String, Object> health() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("status", "UP");
        h.put("node", service.self());
        h.put("members", ClusterNode.membersUp(org.apache.pekko.cluster.typed.Cluster.get(service.system())));
        h.put("roles", service.options().roles());
        return h;
    }

    private Path dir(String name) {
        return service.options().runsDir().resolve(name);
    }

    /** Answers 404 for a run that does not exist, else {@code then}. */
    private CompletionStage<HttpResponse> known(String name, java.util.function.Supplier<CompletionStage<HttpResponse>> then) {
        return CompletableFuture.supplyAsync(() -> ClusterService.NAME.matcher(name).matches()
                && Files.isRegularFile(dir(name).resolve(ClusterService.RUN_FILE)), blocking).thenCompose(ok -> ok ? then.get()
                : CompletableFuture.completedFuture(NodeIngest.response(404, Map.of("error", "no run '" + name + "'"))));
    }

    private CompletionStage<HttpResponse> list() {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return service.runs();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, blocking).thenCompose(names -> {
            List<CompletableFuture<Map<String, Object>>> all = new ArrayList<>();
            for (String n : names) {
                all.add(view(n, false).toCompletableFuture());
            }
            return CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).thenApply(v -> {
                List<Map<String, Object>> out = new ArrayList<>();
                all.forEach(f -> out.add(f.join()));
                return NodeIngest.response(200, Map.of("runs", out));
            });
        }).exceptionally(e -> NodeIngest.response(500, Map.of("error", "cannot list the runs: " + e.getMessage())));
    }

    private CompletionStage<HttpResponse> status(String name, boolean full) {
        return view(name, full).thenApply(v -> NodeIngest.response(v.containsKey("error") && "failed".equals(v.get("state")) ? 500 : 200, v));
    }

    /**
     * A run's status: its summary once finished, else its coordinator's answer (or, while it does not answer, that it is
     * starting or moving); with {@code full}, also this node's ledger of the run and the reason it takes no part.
     */
    private CompletionStage<Map<String, Object>> view(String name, boolean full) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return ClusterService.finishedStatus(dir(name), name);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, blocking).thenCompose(done -> {
            if (done != null) {
                return CompletableFuture.completedFuture(done);
            }
            return service.coordinator(name).<Protocol.RunView>ask(Protocol.GetStatus::new, ASK).thenApply(this::parse)
                    .exceptionally(e -> {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("name", name);
                        m.put("state", "starting");
                        m.put("note", "its coordinator did not answer within " + ASK.toSeconds() + " s (starting, or moving after a"
                                + " node loss)");
                        return m;
                    });
        }).thenApply(m -> {
            if (full) {
                Map<String, Object> here = ingest.status(name);
                if (here != null) {
                    here.remove("name");
                    m.put("thisNode", here);
                }
                String problem = service.problem(name);
                if (problem != null) {
                    m.put("thisNodeProblem", problem);
                }
            }
            return m;
        });
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> parse(Protocol.RunView v) {
        try {
            return ConfigLoader.mapper().readValue(v.json(), LinkedHashMap.class);
        } catch (IOException e) {
            return new LinkedHashMap<>(Map.of("error", "unreadable status: " + e.getMessage()));
        }
    }

    private CompletionStage<HttpResponse> create(HttpRequest req) {
        return req.entity().toStrict(10_000, 1 << 20, mat).thenApplyAsync(strict -> {
            String body = strict.getData().utf8String();
            String name;
            try {
                var doc = ConfigLoader.mapper().readTree(body);
                name = doc != null && doc.hasNonNull("name") ? doc.get("name").asText() : null;
            } catch (IOException e) {
                return NodeIngest.response(400, Map.of("error", "the run's description is not valid JSON: " + e.getMessage()));
            }
            if (name == null) {
                return NodeIngest.response(400, Map.of("error", "a run needs at least \"name\" and \"dim\" (the rows' width)"));
            }
            try {
                DataParallelPam.Config c = service.create(name, body);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", name);
                m.put("state", "created");
                m.put("config", c);
                return NodeIngest.response(201, m);
            } catch (FileAlreadyExistsException e) {
                return NodeIngest.response(409, Map.of("error", "run '" + name + "' exists"));
            } catch (IllegalArgumentException e) {
                return NodeIngest.response(400, Map.of("error", e.getMessage()));
            } catch (IllegalStateException e) {
                return NodeIngest.response(422, Map.of("error", e.getMessage()));
            } catch (IOException e) {
                return NodeIngest.response(500, Map.of("error", "cannot write the run: " + e));
            }
        }, blocking).exceptionally(e -> NodeIngest.response(400, Map.of("error", "cannot read the request: " + e.getMessage())));
    }

    private CompletionStage<HttpResponse> stop(String name) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                Map<String, Object> done = ClusterService.finishedStatus(dir(name), name);
                if (done != null) {
                    return NodeIngest.response(200, done);
                }
                service.stop(name, "POST /runs/" + name + "/stop");
                return NodeIngest.response(202, Map.of("name", name, "state", "stopping",
                        "note", "the run ends after the round in flight; GET /runs/" + name + " shows when it has finished"));
            } catch (IOException e) {
                return NodeIngest.response(500, Map.of("error", "cannot write the stop request: " + e));
            }
        }, blocking);
    }

    private CompletionStage<HttpResponse> export(String name) {
        return service.coordinator(name).<Protocol.RunView>ask(Protocol.Export::new, EXPORT_WAIT).thenApply(v -> {
            Map<String, Object> m = parse(v);
            if (m.containsKey("error")) {
                return NodeIngest.response(500, m);
            }
            m.put("files", List.of("/runs/" + name + "/export/" + io.proxstream.actors.train.SaeModelFiles.SAELENS_CONFIG,
                    "/runs/" + name + "/export/" + io.proxstream.actors.train.SaeModelFiles.SAELENS_WEIGHTS));
            return NodeIngest.response(200, m);
        }).exceptionally(e -> NodeIngest.response(503, Map.of("error", "run '" + name + "' did not export within "
                + EXPORT_WAIT.toMinutes() + " min: " + e.getMessage())));
    }

    private Route download(String name, String sub, String file) {
        boolean allowed = sub == null ? file.equals("model.safetensors")
                : file.equals(io.proxstream.actors.train.SaeModelFiles.SAELENS_CONFIG)
                || file.equals(io.proxstream.actors.train.SaeModelFiles.SAELENS_WEIGHTS);
        if (!ClusterService.NAME.matcher(name).matches() || !allowed) {
            return complete(NodeIngest.response(404, Map.of("error", "no such file")));
        }
        Path p = sub == null ? dir(name).resolve(file) : dir(name).resolve(sub).resolve(file);
        if (!Files.isRegularFile(p)) {
            return complete(NodeIngest.response(404, Map.of("error", sub == null
                    ? "no model yet: run '" + name + "' writes it when it finishes (POST /runs/" + name + "/stop ends it)"
                    : "no export yet: POST /runs/" + name + "/export first")));
        }
        return getFromFile(p.toFile());
    }
}
