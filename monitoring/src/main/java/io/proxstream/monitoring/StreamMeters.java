package io.proxstream.monitoring;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Meters of a data stream: accepted and rejected records (by reason) and the time upstream stages
 * spent waiting for downstream demand (back-pressure). Thread-safe.
 */
public final class StreamMeters {
    private final MeterRegistry registry;
    private final String run;
    private final Counter accepted;
    private final ConcurrentMap<String, Counter> rejected = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Timer> waits = new ConcurrentHashMap<>();

    public StreamMeters(MeterRegistry registry, String run) {
        this.registry = registry;
        this.run = run;
        this.accepted = Counter.builder(Meters.RECORDS_ACCEPTED).description("records that passed validation")
                .tag("run", run).register(registry);
        // register the common reasons up front so that dashboards see zeros rather than gaps
        for (String reason : new String[] {"width", "non_finite"}) {
            rejectedCounter(reason);
        }
    }

    private Counter rejectedCounter(String reason) {
        return rejected.computeIfAbsent(reason, r -> Counter.builder(Meters.RECORDS_REJECTED)
                .description("records dropped by validation").tag("run", run).tag("reason", r).register(registry));
    }

    public void accepted(long n) {
        accepted.increment(n);
    }

    public void rejected(String reason, long n) {
        rejectedCounter(reason).increment(n);
    }

    /** Total rejected so far (all reasons). */
    public double rejectedTotal() {
        return rejected.values().stream().mapToDouble(Counter::count).sum();
    }

    /** Records that stage {@code stage} waited {@code nanos} for demand. */
    public void backpressureWait(String stage, long nanos) {
        waits.computeIfAbsent(stage, s -> Timer.builder(Meters.BACKPRESSURE_WAIT)
                        .description("time an upstream element waited for downstream demand").tag("run", run)
                        .tag("stage", s).register(registry))
                .record(Duration.ofNanos(nanos));
    }
}
