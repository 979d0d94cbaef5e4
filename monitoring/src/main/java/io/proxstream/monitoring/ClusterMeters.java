package io.proxstream.monitoring;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Meters of data-parallel training on a cluster, every one tagged {@code node} (host:port) and {@code run} (the run's
 * name; {@code cluster} for the one run of {@code proxstream node}), except {@code cluster.members}:
 * {@code cluster.members} (members up, as this node sees them), {@code cluster.workers} (workers
 * registered with the coordinator), {@code cluster.workers.lost}, {@code cluster.rounds},
 * {@code cluster.round.seconds}, {@code cluster.stragglers} (workers a round completed without),
 * {@code cluster.bytes{direction=sent|received}}, {@code cluster.rows} and
 * {@code cluster.worker.compute.seconds}; at the coordinator, per worker (tag {@code worker}: its node's address,
 * system@host:port), the rows it trained {@code cluster.worker.rows} and its last round's compute time
 * {@code cluster.worker.round.seconds}, removed when the worker leaves (so that a long run with changing members does
 * not grow its exposition). Live ingest: on every node with an ingest endpoint, the rows its queue holds (not yet
 * trained, leased ones included) {@code cluster.ingest.queued.rows} and their bytes {@code cluster.ingest.queued.bytes};
 * at the coordinator, each worker's reported queue {@code cluster.worker.queued.rows} and the run's ledger
 * {@code cluster.ledger.rows{state=accepted|trained|queued|lost}} (lost with {@code reason=node_lost}), for which
 * accepted = trained + queued + lost. Thread-safe.
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
    private final io.micrometer.core.instrument.Tags base;
    private final java.util.concurrent.ConcurrentMap<String, PerWorker> perWorker = new java.util.concurrent.ConcurrentHashMap<>();

    /** A worker's meters; {@code seconds} holds the value its gauge reads. */
    private record PerWorker(Counter rows, Gauge roundSeconds, java.util.concurrent.atomic.AtomicReference<Double> seconds) {
    }

    private final AtomicLong ingestRows = new AtomicLong();
    private final AtomicLong ingestBytes = new AtomicLong();
    private final java.util.concurrent.ConcurrentMap<String, Gauge> queueGauges = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.ConcurrentMap<String, AtomicLong> queues = new java.util.concurrent.ConcurrentHashMap<>();
    private final AtomicLong[] ledger = {new AtomicLong(), new AtomicLong(), new AtomicLong(), new AtomicLong()};

    /** The meters of the one run of {@code proxstream node} (tag {@code run=cluster}). */
    public ClusterMeters(MeterRegistry registry, String node) {
        this(registry, node, "cluster");
    }

    /** The meters of run {@code run} on this node. */
    public ClusterMeters(MeterRegistry registry, String node, String run) {
        this.registry = registry;
        this.node = node;
        this.base = io.micrometer.core.instrument.Tags.of("node", node, "run", run);
        Gauge.builder("cluster.workers", workers, AtomicLong::get).description("workers known to the coordinator").tags(base)
                .register(registry);
        lost = Counter.builder("cluster.workers.lost").description("workers that left or died").tags(base).register(registry);
        rounds = Counter.builder("cluster.rounds").description("completed training rounds").tags(base).register(registry);
        roundTime = Timer.builder("cluster.round.seconds").description("wall time of a round at the coordinator").tags(base)
                .register(registry);
        stragglers = Counter.builder("cluster.stragglers").description("workers a round completed without (timeout or loss)")
                .tags(base).register(registry);
        sent = Counter.builder("cluster.bytes").description("payload bytes").tags(base).tag("direction", "sent").register(registry);
        received = Counter.builder("cluster.bytes").description("payload bytes").tags(base).tag("direction", "received")
                .register(registry);
        rows = Counter.builder("cluster.rows").description("rows trained on").tags(base).register(registry);
        compute = Timer.builder("cluster.worker.compute.seconds").description("compute time of a worker's round").tags(base)
                .register(registry);
        Gauge.builder("cluster.ingest.queued.rows", ingestRows, AtomicLong::get).description("rows pushed to this node not yet trained")
                .tags(base).register(registry);
        Gauge.builder("cluster.ingest.queued.bytes", ingestBytes, AtomicLong::get).description("bytes this node's ingest queue holds")
                .tags(base).register(registry);
        String[] states = {"accepted", "trained", "queued", "lost"};
        for (int i = 0; i < states.length; i++) {
            Gauge.Builder<AtomicLong> g = Gauge.builder("cluster.ledger.rows", ledger[i], AtomicLong::get)
                    .description("live-ingest ledger of the run at the coordinator: accepted = trained + queued + lost")
                    .tags(base).tag("state", states[i]);
            (i == 3 ? g.tag("reason", "node_lost") : g).register(registry);
        }
    }

    /** Members up as this node sees them ({@code cluster.members}, tagged {@code node} only: it is not a run's). */
    public void members(int n) {
        if (!membersRegistered) {
            members(registry, node, members::get);
            membersRegistered = true;
        }
        members.set(n);
    }

    private volatile boolean membersRegistered;

    /** Registers {@code cluster.members{node}} reading {@code up} (a node that has no single run's meters). */
    public static void members(MeterRegistry registry, String node, java.util.function.Supplier<Number> up) {
        Gauge.builder("cluster.members", up).description("cluster members up").tag("node", node).register(registry);
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

    /** The last round's reconstruction error: mean squared error per entry of its rows, before their encoder steps. */
    public void roundMse(double mse) {
        if (!mseRegistered) {
            Gauge.builder("cluster.train.mse", this.mse, r -> r.get()).description("mean squared reconstruction error per entry of"
                    + " the last round's rows, before their encoder steps (coordinator)").tags(base).register(registry);
            mseRegistered = true;
        }
        this.mse.set(mse);
    }

    private final java.util.concurrent.atomic.AtomicReference<Double> mse = new java.util.concurrent.atomic.AtomicReference<>(Double.NaN);
    private volatile boolean mseRegistered;

    /** A worker's completed round, as the coordinator received it: its rows and its compute time. */
    public void workerRound(String worker, long rowCount, double seconds) {
        PerWorker w = perWorker.computeIfAbsent(worker, name -> {
            var ref = new java.util.concurrent.atomic.AtomicReference<>(Double.NaN);
            return new PerWorker(Counter.builder("cluster.worker.rows").description("rows a worker trained")
                    .tags(base).tag("worker", name).register(registry),
                    Gauge.builder("cluster.worker.round.seconds", ref, r -> r.get()).description("compute time of a worker's last round")
                            .tags(base).tag("worker", name).register(registry), ref);
        });
        w.rows().increment(rowCount);
        w.seconds().set(seconds);
    }

    /** Drops a worker's per-worker meters (it left the cluster). */
    public void workerGone(String worker) {
        queues.remove(worker);
        Gauge q = queueGauges.remove(worker);
        if (q != null) {
            registry.remove(q);
        }
        PerWorker w = perWorker.remove(worker);
        if (w != null) {
            registry.remove(w.rows());
            registry.remove(w.roundSeconds());
        }
    }

    /** This node's ingest queue: rows not yet trained and the bytes they hold. */
    public void ingestQueue(long rowCount, long bytes) {
        ingestRows.set(rowCount);
        ingestBytes.set(bytes);
    }

    /** A worker's queue as it reported it to the coordinator. */
    public void workerQueue(String worker, long rowCount) {
        queues.computeIfAbsent(worker, w -> {
            AtomicLong v = new AtomicLong();
            queueGauges.put(w, Gauge.builder("cluster.worker.queued.rows", v, AtomicLong::get)
                    .description("rows waiting in a worker's ingest queue, as it last reported").tags(base).tag("worker", w)
                    .register(registry));
            return v;
        }).set(rowCount);
    }

    /** The run's live-ingest ledger at the coordinator. */
    public void ledger(long accepted, long trained, long queued, long lostRows) {
        ledger[0].set(accepted);
        ledger[1].set(trained);
        ledger[2].set(queued);
        ledger[3].set(lostRows);
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
