package io.proxstream.actors.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.proxstream.actors.serve.BatchDecoder;
import io.proxstream.actors.serve.RunHandle;
import io.proxstream.actors.serve.ServeAuth;
import io.proxstream.actors.stream.Validate;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.Materializer;

/**
 * The ingest endpoint of a cluster node ({@code node --ingest-port}): producers push rows to any worker node, which
 * trains on them in the coordinator's rounds ({@link LiveRows}). The same bodies, limits and answers as {@code serve}'s
 * {@code POST /runs/NAME/batches} (raw float32 with {@code X-Shape}, {@code .npy}, {@code .safetensors}; 400/411/413/415
 * for malformed or oversized bodies, 422 for rows of another width, NaN/Inf or values beyond {@code maxAbs}; 503 with
 * {@code Retry-After} when the node's queue stays full for the wait, which is the back-pressure), under the run name
 * {@value #RUN}, so the Python client pushes to a list of nodes as to a list of servers.
 *
 * <p>Delivery: a 200 means the rows are queued on this node (if it dies before they are trained, they are lost and the
 * coordinator's ledger counts them {@code node_lost}). With {@code X-Ack: trained} (or {@code ?ack=trained}) the answer
 * waits until every row of the batch is in a checkpointed model, so what the client saw acknowledged is never lost and
 * what it did not may be resent (at least once); a wait longer than the ack timeout answers 504 and the rows stay
 * queued. {@code GET /runs/cluster} shows this node's ledger.
 */
public final class NodeIngest extends AllDirectives {
    /** The run name the endpoints answer to. */
    public static final String RUN = "cluster";
    /**
     * How long a push waits for the run's coordinator to record its rows (in the ledger file it writes) before it is
     * answered 202 instead of 200: a coordinator that is moving to another node after its own node died takes seconds.
     */
    static final long RECORD_WAIT_MILLIS = 10_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The queue of each run this node takes rows for (null: no such run here). */
    private final java.util.function.Function<String, LiveRows> runs;
    private final ServeAuth auth;
    private final Materializer mat;
    private final long maxBatchBytes;
    private final long waitMillis;
    private final long ackMillis;
    private final double maxAbs;
    private final MeterRegistry registry;
    private final Map<String, Counter> rejected = new ConcurrentHashMap<>();

    /** The ingest of {@code proxstream node}: one run, {@value #RUN}, whose rows go to {@code rows}. */
    public NodeIngest(LiveRows rows, ServeAuth auth, Materializer mat, long maxBatchBytes, long waitMillis, long ackMillis, double maxAbs,
                      MeterRegistry registry) {
        this(name -> RUN.equals(name) ? rows : null, auth, mat, maxBatchBytes, waitMillis, ackMillis, maxAbs, registry);
    }

    /** The ingest of a {@code serve --cluster} node: run NAME's rows go to {@code runs.apply(NAME)}. */
    public NodeIngest(java.util.function.Function<String, LiveRows> runs, ServeAuth auth, Materializer mat, long maxBatchBytes,
                      long waitMillis, long ackMillis, double maxAbs, MeterRegistry registry) {
        this.runs = runs;
        this.auth = auth;
        this.mat = mat;
        this.maxBatchBytes = maxBatchBytes;
        this.waitMillis = waitMillis;
        this.ackMillis = ackMillis;
        this.maxAbs = maxAbs;
        this.registry = registry;
    }

    public Route routes() {
        return extractRequest(req -> {
            if (!auth.httpAllowed(req.getHeader("Authorization").map(h -> h.value()).orElse(null))) {
                return completeWithFuture(unauthorized(req));
            }
            return pathPrefix("runs", () -> pathPrefix(RUN, () -> concat(
                    pathEnd(() -> get(() -> complete(response(200, status(RUN))))),
                    path("batches", () -> post(() -> batches(RUN, req))))));
        });
    }

    /**
     * The longest a push may wait: for room in the queue, for the coordinator to record its rows and, acknowledged, for them
     * to be trained; plus a margin. The server's own request timeout (20 s by default) would otherwise answer an acknowledged
     * push waiting behind a deep queue 503 while its rows go on to be trained.
     */
    public java.time.Duration requestTimeout() {
        return java.time.Duration.ofMillis(waitMillis + RECORD_WAIT_MILLIS + ackMillis + 10_000);
    }

    /** The route of a push to run {@code run}, with {@link #requestTimeout()}. */
    public Route batches(String run, HttpRequest req) {
        return withRequestTimeout(requestTimeout(), () -> completeWithFuture(ingest(run, req)));
    }

    /**
     * Server settings whose idle timeout outlasts {@link #requestTimeout()}: a connection waiting for an acknowledgement sends
     * nothing and must not be closed as idle.
     */
    public org.apache.pekko.http.javadsl.settings.ServerSettings outlastAcks(org.apache.pekko.http.javadsl.settings.ServerSettings s) {
        scala.concurrent.duration.Duration idle = s.getTimeouts().idleTimeout();
        long want = requestTimeout().toMillis() + 30_000;
        if (idle.isFinite() && idle.toMillis() < want) {
            return s.withTimeouts(s.getTimeouts().withIdleTimeout(scala.concurrent.duration.Duration.create(want,
                    java.util.concurrent.TimeUnit.MILLISECONDS)));
        }
        return s;
    }

    /** The answer to a request without the bearer token (401 with the challenge), its body discarded. */
    CompletionStage<HttpResponse> unauthorized(HttpRequest req) {
        return discardThen(req, response(401, Map.of("error", "missing or wrong bearer token"))
                .addHeader(RawHeader.create("WWW-Authenticate", "Bearer")));
    }

    /** This node's ledger of run {@code run} (null: this node takes no rows for it). */
    public Map<String, Object> status(String run) {
        LiveRows rows = runs.apply(run);
        if (rows == null) {
            return null;
        }
        LiveRows.Ledger l = rows.ledger();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", run);
        m.put("accepting", rows.accepting());
        m.put("accepted", l.accepted());
        m.put("trained", l.trained());
        m.put("queued", l.queued());
        m.put("waiting", l.available());
        m.put("leased", l.leased());
        m.put("queuedBytes", l.heldBytes());
        m.put("queueBytes", l.budgetBytes());
        m.put("rejected", rejected.values().stream().mapToDouble(Counter::count).sum());
        return m;
    }

    private HttpResponse reject(int status, String reason, String message) {
        rejected.computeIfAbsent(reason, r -> Counter.builder("cluster.ingest.rejected").description("pushes refused by a node's ingest")
                .tag("reason", r).register(registry)).increment();
        return response(status, Map.of("error", message));
    }

    private static final String FINISHED = "this node trains no more pushed rows: the run has finished, or it does not train"
            + " pushed rows (coordinator without --data live)";

    /** Takes a push of rows for run {@code run}: 404 if this node takes none for it. */
    public CompletionStage<HttpResponse> ingest(String run, HttpRequest req) {
        LiveRows rows = runs.apply(run);
        if (rows == null) {
            return discardThen(req, response(404, Map.of("error", "no run '" + run + "' takes rows on this node")));
        }
        long maxBatchBytes = Math.min(this.maxBatchBytes, rows.budget().capacity());
        if (!rows.accepting()) {
            return discardThen(req, response(409, Map.of("error", FINISHED)));
        }
        BatchDecoder.Format format = BatchDecoder.Format.of(req.entity().getContentType().toString());
        if (format == null) {
            return discardThen(req, reject(415, "malformed", "unsupported Content-Type " + req.entity().getContentType()
                    + "; use application/octet-stream (with X-Shape), application/x-npy or application/x-safetensors"));
        }
        int[] shape = null;
        if (format == BatchDecoder.Format.RAW) {
            Optional<String> declared = req.getHeader("X-Shape").map(x -> x.value());
            if (declared.isEmpty()) {
                return discardThen(req, reject(400, "malformed", "raw float32 bodies need their shape: header X-Shape: ROWS,COLS"));
            }
            try {
                shape = BatchDecoder.shape(declared.get());
            } catch (IOException e) {
                return discardThen(req, reject(400, "malformed", e.getMessage()));
            }
        }
        OptionalLong length = req.entity().getContentLengthOption();
        if (length.isEmpty()) {
            return discardThen(req, reject(411, "malformed", "Content-Length is required"));
        }
        if (length.getAsLong() > maxBatchBytes || (shape != null && 4L * shape[0] * shape[1] > maxBatchBytes)) {
            return discardThen(req, reject(413, "too_large", "body of " + length.getAsLong() + " bytes exceeds this node's limit of "
                    + maxBatchBytes + " bytes; send smaller batches"));
        }
        // .npy/.safetensors bodies may be f16/bf16 and decode to twice their bytes: reserve that (the excess returns once decoded)
        long reserve = format == BatchDecoder.Format.RAW ? length.getAsLong() : Math.min(maxBatchBytes, 2 * length.getAsLong());
        boolean ack = req.getHeader("X-Ack").map(h -> h.value().trim().equalsIgnoreCase("trained")).orElse(false)
                || req.getUri().query().get("ack").map(a -> a.equals("trained")).orElse(false);
        int[] declared = shape;
        String tensor = req.getUri().query().get("tensor").orElse(null);
        return rows.budget().reserve(reserve, waitMillis).thenCompose(ok -> {
            if (!ok && !rows.accepting()) {
                return discardThen(req, response(409, Map.of("error", FINISHED)));
            }
            if (!ok) {
                return discardThen(req, reject(503, "busy", "this node's ingest queue is full; retry later (or another node)")
                        .addHeader(RawHeader.create("Retry-After", "1")));
            }
            return req.entity().toStrict(60_000, length.getAsLong(), mat).handle((strict, err) -> {
                if (err != null) {
                    rows.budget().release(reserve);
                    return CompletableFuture.completedFuture(reject(400, "malformed", "could not read the body: " + err.getMessage()));
                }
                byte[] body = strict.getData().toArray();
                BatchDecoder.Batch b;
                try {
                    b = BatchDecoder.decode(format, body, declared, tensor);
                } catch (IOException | RuntimeException e) {
                    rows.budget().release(reserve);
                    return CompletableFuture.completedFuture(reject(400, "malformed", e.getMessage()));
                }
                Queued q = enqueue(rows, b.data(), b.rows(), b.cols(), reserve, "decodes to", "body");
                if (q.status() == 409) {
                    return CompletableFuture.completedFuture(response(409, Map.of("error", FINISHED)));
                }
                if (q.status() != 200) {
                    return CompletableFuture.completedFuture(reject(q.status(), q.reason(), q.message()));
                }
                CompletionStage<Boolean> trained = q.added().trained();
                if (!ack) {
                    return q.added().recorded().toCompletableFuture().completeOnTimeout(null, RECORD_WAIT_MILLIS, TimeUnit.MILLISECONDS)
                            .thenApply(r -> r == null
                            ? response(202, Map.of("accepted", b.rows(), "recorded", false, "message", b.rows() + " rows queued on"
                            + " this node; the run's coordinator did not record them within " + RECORD_WAIT_MILLIS + " ms (it may be"
                            + " moving): should this node die before its next report, they are in no ledger"))
                            : r ? response(200, Map.of("accepted", b.rows()))
                            : response(409, Map.of("error", "the run ended before these " + b.rows() + " rows were recorded; they"
                            + " are not trained")));
                }
                return trained.toCompletableFuture().completeOnTimeout(null, ackMillis, TimeUnit.MILLISECONDS).thenApply(t -> t == null
                        ? response(504, Map.of("error", b.rows() + " rows queued on this node, not trained within " + ackMillis
                        + " ms; they stay queued (resending them may train them twice)", "accepted", b.rows()))
                        : t ? response(200, Map.of("accepted", b.rows(), "trained", b.rows()))
                        : response(409, Map.of("error", "the node stopped before these " + b.rows() + " rows were trained; resend them",
                        "accepted", b.rows())));
            }).thenCompose(x -> x);
        });
    }

    /**
     * How a decoded batch went into a run's queue: {@code status} 200 (queued; {@code trained} completes once its rows are
     * in a checkpointed model), 422 or 413 (refused for {@code reason}, a meter tag, with {@code message}), 409 (the run
     * takes no more rows).
     */
    private record Queued(int status, String reason, String message, LiveRows.Added added) {
    }

    /**
     * Validates a decoded batch of {@code n} rows of width {@code cols}, whose {@code reserved} bytes the caller reserved
     * in the queue's budget, and queues it; the reservation is trimmed to the batch's floats, or released if it is refused.
     * The same for HTTP bodies and TCP frames ({@code what}: how the refusal names the batch's container).
     */
    private Queued enqueue(LiveRows rows, float[] data, int n, int cols, long reserved, String verb, String what) {
        String problem = check(data, n, cols, rows.cols());
        if (problem != null) {
            rows.budget().release(reserved);
            return new Queued(422, problem.substring(0, problem.indexOf(':')), problem.substring(problem.indexOf(':') + 2), null);
        }
        long bytes = 4L * n * cols;
        if (bytes > reserved) {
            rows.budget().release(reserved);
            return new Queued(413, "too_large", "the batch " + verb + " " + bytes + " bytes, more than its " + what + " declared", null);
        }
        rows.budget().release(reserved - bytes);
        try {
            return new Queued(200, null, null, rows.add(data, n));
        } catch (IllegalStateException e) {
            rows.budget().release(bytes);
            return new Queued(409, null, FINISHED, null);
        }
    }

    /** Why a decoded batch of {@code n} rows of width {@code width} is refused for a run of width {@code cols}, as "reason: message", or null. */
    private String check(float[] data, int n, int width, int cols) {
        if (n <= 0) {
            return "malformed: empty batch (0 rows)";
        }
        if (width != cols) {
            return "width: rows have width " + width + ", this run trains width " + cols;
        }
        for (int r = 0; r < n; r++) {
            int p = Validate.problem(data, r * width, width, maxAbs);
            if (p == Validate.NON_FINITE) {
                return "non_finite: row " + r + " holds NaN or Inf; the batch was not queued";
            }
            if (p == Validate.TOO_LARGE) {
                return "too_large_value: row " + r + " holds a value beyond maxAbs " + maxAbs + "; the batch was not queued";
            }
        }
        return null;
    }

    /**
     * Run {@code run}'s queue on this node as a target of the TCP ingest ({@link io.proxstream.actors.serve.TcpIngest}): the
     * same validation, rejection counts and back-pressure as the HTTP pushes (a frame waits for room in the queue; TCP flow
     * control slows the producer). Null if this node takes no rows for that run.
     */
    public io.proxstream.actors.serve.IngestTarget target(String run) {
        LiveRows rows = runs.apply(run);
        if (rows == null) {
            return null;
        }
        return new io.proxstream.actors.serve.IngestTarget() {
            @Override
            public long budgetBytes() {
                return Math.min(maxBatchBytes, rows.budget().capacity());
            }

            @Override
            public RunHandle.PushResult reject(RunHandle.Outcome outcome, String reason, String message) {
                NodeIngest.this.reject(outcome.httpStatus(), reason, message);
                return new RunHandle.PushResult(outcome, 0, message);
            }

            @Override
            public CompletionStage<Boolean> reserve(long bytes, long timeoutMillis) {
                return rows.accepting() ? rows.budget().reserve(bytes, timeoutMillis) : CompletableFuture.completedFuture(false);
            }

            @Override
            public CompletionStage<RunHandle.PushResult> accept(String transport, float[] data, int n, int cols, long reserved,
                                                                long payloadBytes) {
                Queued q = enqueue(rows, data, n, cols, reserved, "holds", "frame");
                if (q.status() == 200) {
                    // answered once the coordinator recorded the rows, as over HTTP; after the wait, accepted all the same
                    // (the frame's rows are queued here) with the reason saying they are not yet in the run's ledger
                    return q.added().recorded().toCompletableFuture().completeOnTimeout(null, RECORD_WAIT_MILLIS,
                            TimeUnit.MILLISECONDS).thenApply(rec -> rec == null
                            ? new RunHandle.PushResult(RunHandle.Outcome.ACCEPTED, n, "not recorded by the run's coordinator within "
                            + RECORD_WAIT_MILLIS + " ms")
                            : rec ? RunHandle.PushResult.accepted(n)
                            : new RunHandle.PushResult(RunHandle.Outcome.NOT_ACCEPTING, 0, FINISHED));
                }
                RunHandle.PushResult r = switch (q.status()) {
                    case 409 -> new RunHandle.PushResult(RunHandle.Outcome.NOT_ACCEPTING, 0, FINISHED);
                    case 413 -> reject(RunHandle.Outcome.TOO_LARGE, q.reason(), q.message());
                    default -> reject(q.reason().equals("malformed") ? RunHandle.Outcome.MALFORMED : RunHandle.Outcome.INVALID,
                            q.reason(), q.message());
                };
                return CompletableFuture.completedFuture(r);
            }
        };
    }

    private CompletionStage<HttpResponse> discardThen(HttpRequest req, HttpResponse resp) {
        return req.discardEntityBytes(mat).completionStage().handle((d, e) -> resp);
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
