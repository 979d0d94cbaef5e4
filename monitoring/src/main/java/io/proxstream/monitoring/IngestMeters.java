package io.proxstream.monitoring;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Supplier;

/**
 * Meters of a run's ingest endpoints (HTTP, TCP, watched directory): accepted batches, rows and
 * bytes per transport, rejected batches per reason, producers told to come back later (busy), the
 * time pushes waited for room, and the bytes waiting for training. Thread-safe.
 */
public final class IngestMeters {
    public static final String BATCHES = "ingest.batches";
    public static final String ROWS = "ingest.rows";
    public static final String BYTES = "ingest.bytes";
    public static final String REJECTED = "ingest.rejected";
    public static final String BUSY = "ingest.busy";
    public static final String WAIT = "ingest.wait";
    public static final String QUEUED_BYTES = "ingest.queued.bytes";

    private final MeterRegistry registry;
    private final String run;
    private final ConcurrentMap<String, Counter> counters = new ConcurrentHashMap<>();
    private final Timer wait;
    private final Counter busy;

    public IngestMeters(MeterRegistry registry, String run, Supplier<Number> queuedBytes) {
        this.registry = registry;
        this.run = run;
        this.wait = Timer.builder(WAIT).description("time a push waited for room in the ingest queue").tag("run", run)
                .register(registry);
        this.busy = Counter.builder(BUSY).description("pushes answered 'busy, retry later' (HTTP 503)").tag("run", run)
                .register(registry);
        Gauge.builder(QUEUED_BYTES, queuedBytes, s -> s.get().doubleValue())
                .description("bytes of pushed batches waiting for training").tag("run", run).register(registry);
        for (String t : new String[] {"http", "tcp", "file"}) {
            accepted(t, 0, 0, 0);
        }
        for (String r : new String[] {"width", "non_finite", "malformed", "too_large"}) {
            counter(REJECTED, "reason", r, "batches rejected at ingest");
        }
    }

    private Counter counter(String name, String tag, String value, String description) {
        return counters.computeIfAbsent(name + "|" + tag + "=" + value, k -> Counter.builder(name).description(description)
                .tag("run", run).tag(tag, value).register(registry));
    }

    public void accepted(String transport, long batches, long rows, long bytes) {
        counter(BATCHES, "transport", transport, "batches accepted").increment(batches);
        counter(ROWS, "transport", transport, "rows accepted").increment(rows);
        counter(BYTES, "transport", transport, "payload bytes accepted").increment(bytes);
    }

    public void rejected(String reason) {
        counter(REJECTED, "reason", reason, "batches rejected at ingest").increment();
    }

    public double rejectedTotal() {
        return counters.entrySet().stream().filter(e -> e.getKey().startsWith(REJECTED + "|"))
                .mapToDouble(e -> e.getValue().count()).sum();
    }

    public double acceptedRows() {
        return counters.entrySet().stream().filter(e -> e.getKey().startsWith(ROWS + "|"))
                .mapToDouble(e -> e.getValue().count()).sum();
    }

    public void busy() {
        busy.increment();
    }

    public double busyTotal() {
        return busy.count();
    }

    public void waited(long nanos) {
        wait.record(Duration.ofNanos(nanos));
    }
}
