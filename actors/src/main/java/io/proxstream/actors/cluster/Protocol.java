package io.proxstream.actors.cluster;

import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The messages of data-parallel training between the coordinator (a cluster singleton) and the
 * workers. Cross-node messages are records serialised with Jackson CBOR ({@link CborSerializable});
 * payloads travel as chunks of at most {@link Chunks#MAX_CHUNK} bytes, sent before the message
 * that refers to them (Artery keeps the order between one sender and one receiver).
 */
public final class Protocol {
    private Protocol() {
    }

    /** What a worker accepts. */
    public sealed interface WorkerCommand permits ModelChunk, StartRound, RoundSettled, RunFinished, LedgerRecorded, WorkerInternal {
    }

    /** What the coordinator accepts. */
    public sealed interface CoordinatorCommand permits ResultChunk, RoundDone, RoundFailed, WorkerStatus, Wake, StopRun, GetStatus, Export, CoordinatorInternal {
    }

    /** Messages an actor sends itself; never cross nodes. */
    public non-sealed interface WorkerInternal extends WorkerCommand {
    }

    /** Messages the coordinator sends itself; never cross nodes. */
    public non-sealed interface CoordinatorInternal extends CoordinatorCommand {
    }

    /**
     * A slice of a shard: rows {@code [offset, offset + rows)} of shard {@code shard}, which is the file {@code file}
     * (on a path every node sees) or, when that is empty, the shard of the synthetic stream.
     */
    public record Assignment(int shard, long offset, int rows, String file) implements CborSerializable {
        public Assignment {
            java.util.Objects.requireNonNull(file, "file");
        }

        /** A slice of the synthetic stream. */
        public Assignment(int shard, long offset, int rows) {
            this(shard, offset, rows, "");
        }

        /** The {@link #file} of a live assignment: up to {@link #rows} rows from the worker's own ingest queue. */
        public static final String LIVE = "live:";

        /** Up to {@code rows} rows (whole minibatches) of the rows the worker's node received on its ingest endpoint. */
        public static Assignment live(int rows) {
            return new Assignment(-1, 0, rows, LIVE);
        }

        public boolean isLive() {
            return LIVE.equals(file);
        }
    }

    /**
     * A live worker's ingest ledger ({@link LiveRows.Ledger}), from the node's process {@code incarnation}: rows accepted, trained (in a checkpointed model), queued
     * (not yet trained, leased ones included), waiting (not leased), and the bytes its queue holds of its budget. Sent
     * every 250 ms and with every result.
     */
    public record WorkerStatus(String worker, long incarnation, long accepted, long trained, long queued, long available,
                               long heldBytes, long budgetBytes, ActorRef<WorkerCommand> replyTo)
            implements CoordinatorCommand, CborSerializable {
        static WorkerStatus of(String worker, LiveRows.Ledger l, ActorRef<WorkerCommand> replyTo) {
            return new WorkerStatus(worker, l.incarnation(), l.accepted(), l.trained(), l.queued(), l.available(), l.heldBytes(),
                    l.budgetBytes(), replyTo);
        }
    }

    /**
     * The coordinator wrote down (in its ledger file, which a coordinator resuming after a crash reads) that the node of
     * the worker it tells accepted {@code accepted} rows: the node answers the pushes within that count.
     */
    public record LedgerRecorded(long accepted) implements WorkerCommand, CborSerializable {
    }

    /**
     * The coordinator settled round {@code round}: it merged the results of {@code included} (the others' live rows go
     * back to their queues), and its latest checkpoint holds every round up to {@code durableRound} (-1: none yet).
     */
    public record RoundSettled(long round, List<String> included, long durableRound) implements WorkerCommand, CborSerializable {
    }

    /** Part {@code index} of {@code count} of the model of round {@code round}. */
    public record ModelChunk(long round, int index, int count, byte[] data) implements WorkerCommand, CborSerializable {
    }

    /**
     * Start a round once the model's {@code chunks} chunks are in: train on the assigned slices and
     * reply to {@code coordinator}. The run's configuration travels with it, so workers need no
     * training flags of their own. The model's decoder is that of ({@code decoderEpoch}, {@code decoderVersion}); the
     * chunks carry it when {@code decoderIncluded}, and otherwise only the encoder: the worker holds that decoder from an
     * earlier round (the coordinator knows it does because the worker finished a round with it), and a worker that does
     * not fails the round saying so, after which the coordinator sends the whole model again.
     */
    public record StartRound(long round, DataParallelPam.Config config, List<Assignment> assignments, int chunks,
                             ActorRef<CoordinatorCommand> coordinator, boolean decoderIncluded, long decoderEpoch,
                             long decoderVersion)
            implements WorkerCommand, CborSerializable {
    }

    /** Part {@code index} of {@code count} of a worker's result (encoder and decoder statistics) of a round. */
    public record ResultChunk(long round, String worker, int index, int count, byte[] data) implements CoordinatorCommand, CborSerializable {
    }

    /**
     * A worker finished its round: {@code rows} trained on, mean squared error seen before its
     * encoder steps, compute seconds and the bytes of its result; {@code modelSeconds} from the model's first chunk to its
     * start (the broadcast as this worker saw it), {@code codecSeconds} decoding the model and encoding the result.
     */
    public record RoundDone(long round, String worker, List<Assignment> assignments, long rows, double mse, double seconds, int chunks,
                            long bytes, double modelSeconds, double codecSeconds) implements CoordinatorCommand, CborSerializable {
        /** Without the timings of the model's arrival and of the worker's (de)serialisation. */
        public RoundDone(long round, String worker, List<Assignment> assignments, long rows, double mse, double seconds, int chunks,
                         long bytes) {
            this(round, worker, assignments, rows, mse, seconds, chunks, bytes, 0, 0);
        }
    }

    /**
     * A worker could not compute its round: {@code shard} is the shard it could not read ({@code -1}: another reason), so
     * the coordinator gives that shard to other workers from then on.
     */
    public record RoundFailed(long round, String worker, int shard, String reason) implements CoordinatorCommand, CborSerializable {
    }

    /**
     * The run reached its end and its final checkpoint holds every round up to {@code durableRound}: live workers count
     * those rows trained, stop taking rows (their ingest answers 409) and answer waiting acknowledgements.
     */
    public record RunFinished(long rounds, long rows, long durableRound) implements WorkerCommand, CborSerializable {
    }

    /**
     * Starts a run's coordinator if it is not running (a sharded entity started by its first message): every node of a
     * {@code serve --cluster} sends it each second for every unfinished run, so a coordinator whose node died starts again
     * on another (from its checkpoint) as soon as its shard is reallocated. Ignored by a running coordinator.
     */
    public record Wake(String from) implements CoordinatorCommand, CborSerializable {
    }

    /** Ends the run after the round in flight: final checkpoint, summary and model, as when it reaches its rows. */
    public record StopRun(String reason) implements CoordinatorCommand, CborSerializable {
    }

    /** Asks for the run's status (JSON). */
    public record GetStatus(ActorRef<RunView> replyTo) implements CoordinatorCommand, CborSerializable {
    }

    /** Asks the coordinator to write the SAELens export of its current model to the run's {@code export/}; answers its status. */
    public record Export(ActorRef<RunView> replyTo) implements CoordinatorCommand, CborSerializable {
    }

    /** A JSON document about a run (its status, or an error under {@code error}). */
    public record RunView(String json) implements CborSerializable {
    }
}
