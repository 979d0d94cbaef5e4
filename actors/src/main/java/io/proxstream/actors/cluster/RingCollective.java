package io.proxstream.actors.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * Runs {@link RingAllReduce} over Artery: one of these per node, its peers the other nodes' ones in a ring the caller
 * names. The pieces go straight from node to node ({@link ChunkSerializer} writes their floats into Artery's buffer),
 * reduced and forwarded as they arrive, so all links carry their share at once and no node carries N arrays.
 *
 * <p>An operation is named by a number every participant agrees on (the caller's, e.g. the round). A piece that arrives
 * before this node was told of its operation (a fast predecessor) waits, up to one operation's worth. An operation
 * ends with {@link Outcome}: the sum, or the reason it failed — a piece off the schedule, or the deadline passed
 * (a peer that died or was cut off: the caller decides what the round becomes). The actor's state (the running
 * operations) is touched only in its message handling; the arithmetic is a few float adds per received float, done
 * in the handler.
 */
public final class RingCollective extends AbstractBehavior<RingCollective.Command> {

    /** What the actor takes. */
    public interface Command {
    }

    /**
     * Runs all-reduce {@code op} of {@code data} as participant {@code index} of {@code ring}; the answer goes to {@code replyTo}.
     * Local only (it carries the caller's array, which holds the sum at the end).
     */
    public record Run(long op, List<ActorRef<Command>> ring, int index, float[] data, int pieceFloats, Duration deadline,
                      ActorRef<Outcome> replyTo) implements Command, NoSerializationVerificationNeeded {
    }

    /** A piece from the predecessor (remote; {@link ChunkSerializer}). */
    public record Piece(long op, boolean gather, int step, int segment, int offset, float[] values) implements Command {
    }

    /** How operation {@code op} ended: {@code data} holds the sum, or {@code error} says why not (then data is null). */
    public record Outcome(long op, float[] data, String error) implements NoSerializationVerificationNeeded {
        public boolean ok() {
            return error == null;
        }
    }

    private record Expired(long op) implements Command, NoSerializationVerificationNeeded {
    }

    /** Give operation {@code op} up now, for {@code why} (a participant is known gone): as its deadline would, sooner. */
    public record Abort(long op, String why) implements Command, NoSerializationVerificationNeeded {
    }

    /** Floats per piece that keep a message far below Artery's 256 KiB frame. */
    public static final int PIECE_FLOATS = Chunks.MAX_CHUNK / 4;

    private static final class Running {
        final Run run;
        final RingAllReduce ring;
        final ActorRef<Command> successor;

        Running(Run run) {
            this.run = run;
            this.ring = new RingAllReduce(run.ring().size(), run.index(), run.data(), run.pieceFloats());
            this.successor = run.ring().get((run.index() + 1) % run.ring().size());
        }
    }

    private final TimerScheduler<Command> timers;
    private final Map<Long, Running> running = new HashMap<>();
    /** Pieces of operations not yet started here, per operation. */
    private final Map<Long, List<Piece>> early = new HashMap<>();
    private long earlyFloats;
    /** The most floats held for operations not started here (a fast peer's one operation; beyond it, a peer misbehaves). */
    private final long earlyLimit;
    /** Half of Artery's outbound queue: the most messages one operation may put on a link. */
    private final int queueLimit;

    public static Behavior<Command> create(long earlyLimitFloats) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(t -> new RingCollective(ctx, t, earlyLimitFloats)));
    }

    private RingCollective(ActorContext<Command> ctx, TimerScheduler<Command> timers, long earlyLimit) {
        super(ctx);
        this.timers = timers;
        this.earlyLimit = earlyLimit;
        String key = "pekko.remote.artery.advanced.outbound-message-queue-size";
        com.typesafe.config.Config c = ctx.getSystem().settings().config();
        this.queueLimit = (c.hasPath(key) ? c.getInt(key) : 3072) / 2;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Run.class, this::onRun)
                .onMessage(Piece.class, this::onPiece)
                .onMessage(Expired.class, this::onExpired)
                .onMessage(Abort.class, a -> {
                    Running op = running.get(a.op());
                    if (op != null) {
                        fail(op, "ring all-reduce " + a.op() + " given up: " + a.why());
                    }
                    return this;
                })
                .build();
    }

    private Behavior<Command> onRun(Run r) {
        if (running.containsKey(r.op())) {
            r.replyTo().tell(new Outcome(r.op(), null, "operation " + r.op() + " is already running here"));
            return this;
        }
        Running op;
        try {
            op = new Running(r);
        } catch (IllegalArgumentException e) {
            r.replyTo().tell(new Outcome(r.op(), null, e.getMessage()));
            return this;
        }
        // Artery drops what does not fit its outbound queue: the schedule's messages on one link must stay well inside it
        if (op.ring.piecesSent() > queueLimit) {
            r.replyTo().tell(new Outcome(r.op(), null, "ring all-reduce of " + r.data().length + " floats in pieces of " + r.pieceFloats()
                    + " sends up to " + op.ring.piecesSent() + " messages on one link; Artery's outbound queue"
                    + " (pekko.remote.artery.advanced.outbound-message-queue-size) holds " + 2 * queueLimit + " and drops beyond it:"
                    + " use larger pieces or split the array"));
            return this;
        }
        // pieces held for earlier operations that never started here are dropped: operations are numbered in order
        early.keySet().removeIf(o -> {
            if (o < r.op()) {
                early.get(o).forEach(p -> earlyFloats -= p.values().length);
                return true;
            }
            return false;
        });
        running.put(r.op(), op);
        timers.startSingleTimer(r.op(), new Expired(r.op()), r.deadline());
        for (RingAllReduce.Piece p : op.ring.start()) {
            send(op, p);
        }
        List<Piece> waiting = early.remove(r.op());
        if (waiting != null) {
            for (Piece p : waiting) {
                earlyFloats -= p.values().length;
                if (!apply(op, p)) {
                    return this;
                }
            }
        }
        finishIfDone(op);
        return this;
    }

    private Behavior<Command> onPiece(Piece p) {
        Running op = running.get(p.op());
        if (op == null) {
            if (earlyFloats + p.values().length > earlyLimit) {
                getContext().getLog().warn("ring piece of operation {} dropped: {} floats already wait for operations not started here",
                        p.op(), earlyFloats);
                return this;
            }
            early.computeIfAbsent(p.op(), k -> new ArrayList<>()).add(p);
            earlyFloats += p.values().length;
            return this;
        }
        if (apply(op, p)) {
            finishIfDone(op);
        }
        return this;
    }

    /** Applies a piece; false (and the operation failed) when it is off the schedule. */
    private boolean apply(Running op, Piece p) {
        List<RingAllReduce.Piece> next;
        try {
            next = op.ring.receive(new RingAllReduce.Piece(p.gather(), p.step(), p.segment(), p.offset(), p.values()));
        } catch (IllegalArgumentException e) {
            fail(op, "a piece off the schedule: " + e.getMessage());
            return false;
        }
        for (RingAllReduce.Piece q : next) {
            send(op, q);
        }
        return true;
    }

    private void send(Running op, RingAllReduce.Piece p) {
        op.successor.tell(new Piece(op.run.op(), p.gather(), p.step(), p.segment(), p.offset(), p.values()));
    }

    private void finishIfDone(Running op) {
        if (op.ring.done()) {
            running.remove(op.run.op());
            timers.cancel(op.run.op());
            op.run.replyTo().tell(new Outcome(op.run.op(), op.run.data(), null));
        }
    }

    private void fail(Running op, String why) {
        running.remove(op.run.op());
        timers.cancel(op.run.op());
        op.run.replyTo().tell(new Outcome(op.run.op(), null, why));
    }

    private Behavior<Command> onExpired(Expired e) {
        Running op = running.get(e.op());
        if (op != null) {
            fail(op, "ring all-reduce " + e.op() + " passed its deadline of " + op.run.deadline() + " (a peer died or is cut off)");
        }
        List<Piece> waiting = early.remove(e.op());
        if (waiting != null) {
            waiting.forEach(p -> earlyFloats -= p.values().length);
        }
        return this;
    }
}
