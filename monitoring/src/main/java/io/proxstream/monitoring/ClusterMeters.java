package io.proxstream.monitoring;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Meters of data-parallel training on a cluster, every one tagged {@code node} (host:port):
 * {@code cluster.members} (members up, as this node sees them), {@code cluster.workers} (workers
 * registered with the coordinator), {@code cluster.workers.lost}, {@code cluster.rounds},
 * {@code cluster.round.seconds}, {@code cluster.stragglers} (workers a round completed without),
 * {@code cluster.bytes{direction=sent|received}}, {@code cluster.rows} and
 * {@code cluster.worker.compute.seconds}; at the coordinator, per worker (tag {@code worker}: its node's address,
 * system@host:port), the rows it trained {@code cluster.worker.rows} and its last round's compute time
 * {@code cluster.worker.round.seconds}, removed when the worker leaves (so that a long run with changing members does
 * not grow its exposition). Thread-safe.
 */
public final class ClusterMeters {
    private final AtomicLong members = new AtomicLong();
    private final AtomicLong workers = new AtomicLong();
    private final Counter lost;
    private final Counter rounds;
    private final Timer roundTime;
    private final Counter stragglers;
    private final Counter sent;
    private final Counter received;
    private final Counter rows;
    private final Timer compute;

    private final MeterRegistry registry;
    private final String node;
    private final java.util.concurrent.ConcurrentMap<String, PerWorker> perWorker = new java.util.concurrent.ConcurrentHashMap<>();

    /** A worker's meters; {@code seconds} holds the value its gauge reads. */
    private record PerWorker(Counter rows, Gauge roundSeconds, java.util.concurrent.atomic.AtomicReference<Double> seconds) {
    }

    public ClusterMeters(MeterRegistry registry, String node) {
        this.registry = registry;
        this.node = node;
        Gauge.builder("cluster.members", members, AtomicLong::get).description("cluster members up").tag("node", node).register(registry);
        Gauge.builder("cluster.workers", workers, AtomicLong::get).description("workers known to the coordinator").tag("node", node)
                .register(registry);
        lost = Counter.builder("cluster.workers.lost").description("workers that left or died").tag("node", node).register(registry);
        rounds = Counter.builder("cluster.rounds").description("completed training rounds").tag("node", node).register(registry);
        roundTime = Timer.builder("cluster.round.seconds").description("wall time of a round at the coordinator").tag("node", node)
                .register(registry);
        stragglers = Counter.builder("cluster.stragglers").description("workers a round completed without (timeout or loss)")
                .tag("node", node).register(registry);
        sent = Counter.builder("cluster.bytes").description("payload bytes").tag("node", node).tag("direction", "sent").register(registry);
        received = Counter.builder("cluster.bytes").description("payload bytes").tag("node", node).tag("direction", "received")
                .register(registry);
        rows = Counter.builder("cluster.rows").description("rows trained on").tag("node", node).register(registry);
        compute = Timer.builder("cluster.worker.compute.seconds").description("compute time of a worker's round").tag("node", node)
                .register(registry);
    }

    public void members(int n) {
        members.set(n);
    }

    public void workers(int n) {
        workers.set(n);
    }

    public void workerLost() {
        lost.increment();
    }

    public void round(double seconds, long rowCount) {
        rounds.increment();
        roundTime.record(Duration.ofNanos((long) (seconds * 1e9)));
        rows.increment(rowCount);
    }

    /** A worker's completed round, as the coordinator received it: its rows and its compute time. */
    public void workerRound(String worker, long rowCount, double seconds) {
        PerWorker w = perWorker.computeIfAbsent(worker, name -> {
            var ref = new java.util.concurrent.atomic.AtomicReference<>(Double.NaN);
            return new PerWorker(Counter.builder("cluster.worker.rows").description("rows a worker trained")
                    .tag("node", node).tag("worker", name).register(registry),
                    Gauge.builder("cluster.worker.round.seconds", ref, r -> r.get()).description("compute time of a worker's last round")
                            .tag("node", node).tag("worker", name).register(registry), ref);
        });
        w.rows().increment(rowCount);
        w.seconds().set(seconds);
    }

    /** Drops a worker's per-worker meters (it left the cluster). */
    public void workerGone(String worker) {
        PerWorker w = perWorker.remove(worker);
        if (w != null) {
            registry.remove(w.rows());
            registry.remove(w.roundSeconds());
        }
    }

    public void stragglers(int n) {
        stragglers.increment(n);
    }

    public void sent(long bytes) {
        sent.increment(bytes);
    }

    public void received(long bytes) {
        received.increment(bytes);
    }

    public void compute(double seconds) {
        compute.record(Duration.ofNanos((long) (seconds * 1e9)));
    }
}
