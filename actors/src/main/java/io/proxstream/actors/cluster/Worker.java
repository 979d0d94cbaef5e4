package io.proxstream.actors.cluster;

import io.proxstream.monitoring.ClusterMeters;
import io.proxstream.solvers.sae.TrainerState;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * A training worker: registers with the receptionist, receives the model of a round in chunks and
 * its data slices, runs the encoder step and the decoder statistics off the actor thread (on the
 * training dispatcher) and sends back its result in chunks.
 */
public final class Worker extends AbstractBehavior<Protocol.WorkerCommand> {
    public static final ServiceKey<Protocol.WorkerCommand> KEY = ServiceKey.create(Protocol.WorkerCommand.class, "proxstream-sae-worker");

    private record Computed(long round, Protocol.StartRound start, TrainerState result, double seconds, Throwable error)
            implements Protocol.WorkerInternal {
    }

    private DataParallelPam.WorkerState state;
    private final String name;
    private final Executor training;
    private final ClusterMeters meters;
    private DataParallelPam.Config config;
    private final Map<Long, Chunks.Assembler> models = new HashMap<>();
    private final Map<Long, Protocol.StartRound> starts = new HashMap<>();
    private boolean busy;
    private Protocol.StartRound queued;

    public static Behavior<Protocol.WorkerCommand> create(String name, ClusterMeters meters) {
        return Behaviors.setup(ctx -> {
            ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
            return new Worker(ctx, name, meters);
        });
    }

    private Worker(ActorContext<Protocol.WorkerCommand> ctx, String name, ClusterMeters meters) {
        super(ctx);
        this.name = name;
        this.meters = meters;
        this.training = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("proxstream.training-dispatcher"));
    }

    @Override
    public Receive<Protocol.WorkerCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(Protocol.ModelChunk.class, this::onChunk)
                .onMessage(Protocol.StartRound.class, this::onStart)
                .onMessage(Computed.class, this::onComputed)
                .build();
    }

    private Behavior<Protocol.WorkerCommand> onChunk(Protocol.ModelChunk c) {
        models.computeIfAbsent(c.round(), r -> new Chunks.Assembler()).add(c.index(), c.count(), c.data());
        meters.received(c.data().length);
        return this;
    }

    private Behavior<Protocol.WorkerCommand> onStart(Protocol.StartRound s) {
        // a newer round supersedes anything not yet started (the coordinator gave up on the old one)
        starts.keySet().removeIf(r -> r < s.round());
        models.keySet().removeIf(r -> r < s.round());
        starts.put(s.round(), s);
        if (busy) {
            queued = s;
            return this;
        }
        launch(s);
        return this;
    }

    private void launch(Protocol.StartRound s) {
        Chunks.Assembler a = models.get(s.round());
        if (a == null || !a.complete()) {
            getContext().getLog().warn("worker {}: round {} started with {} model chunks missing", name, s.round(),
                    a == null ? s.chunks() : "some");
            return;
        }
        TrainerState model = Chunks.decode(a.bytes());
        if (config == null || !config.equals(s.config())) {
            if (state != null) {
                state.close();
            }
            config = s.config();
            state = new DataParallelPam.WorkerState(config);
        }
        DataParallelPam.WorkerState st = state;
        busy = true;
        List<Protocol.Assignment> slices = s.assignments();
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
            long t0 = System.nanoTime();
            TrainerState r = st.round(model, slices);
            return new Object[] {r, (System.nanoTime() - t0) / 1e9};
        }, training), (res, err) -> err != null ? new Computed(s.round(), s, null, 0, err)
                : new Computed(s.round(), s, (TrainerState) res[0], (Double) res[1], null));
    }

    private Behavior<Protocol.WorkerCommand> onComputed(Computed c) {
        busy = false;
        starts.remove(c.round());
        models.remove(c.round());
        if (c.error() != null) {
            getContext().getLog().error("worker {}: round {} failed: {}", name, c.round(), c.error().toString());
        } else {
            byte[] bytes = Chunks.encode(c.result());
            List<byte[]> parts = Chunks.split(bytes);
            ActorRef<Protocol.CoordinatorCommand> to = c.start().coordinator();
            for (int i = 0; i < parts.size(); i++) {
                to.tell(new Protocol.ResultChunk(c.round(), name, i, parts.size(), parts.get(i)));
            }
            double mse = c.result().counter("mse_x1e9") / 1e9;
            to.tell(new Protocol.RoundDone(c.round(), name, c.start().assignments(), c.result().counter("rows"), mse, c.seconds(),
                    parts.size(), bytes.length));
            meters.sent(bytes.length);
            meters.compute(c.seconds());
        }
        // the latest start received while busy (a new coordinator may count rounds from its checkpoint, lower than ours)
        if (queued != null) {
            Protocol.StartRound next = queued;
            queued = null;
            launch(next);
        }
        return this;
    }
}
