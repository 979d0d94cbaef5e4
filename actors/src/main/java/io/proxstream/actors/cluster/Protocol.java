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
    public sealed interface WorkerCommand permits ModelChunk, StartRound, WorkerInternal {
    }

    /** What the coordinator accepts. */
    public sealed interface CoordinatorCommand permits ResultChunk, RoundDone, CoordinatorInternal {
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
    }

    /** Part {@code index} of {@code count} of the model of round {@code round}. */
    public record ModelChunk(long round, int index, int count, byte[] data) implements WorkerCommand, CborSerializable {
    }

    /**
     * Start a round once the model's {@code chunks} chunks are in: train on the assigned slices and
     * reply to {@code coordinator}. The run's configuration travels with it, so workers need no
     * training flags of their own.
     */
    public record StartRound(long round, DataParallelPam.Config config, List<Assignment> assignments, int chunks,
                             ActorRef<CoordinatorCommand> coordinator)
            implements WorkerCommand, CborSerializable {
    }

    /** Part {@code index} of {@code count} of a worker's result (encoder and decoder statistics) of a round. */
    public record ResultChunk(long round, String worker, int index, int count, byte[] data) implements CoordinatorCommand, CborSerializable {
    }

    /**
     * A worker finished its round: {@code rows} trained on, mean squared error seen before its
     * encoder steps, compute seconds and the bytes of its result.
     */
    public record RoundDone(long round, String worker, List<Assignment> assignments, long rows, double mse, double seconds, int chunks,
                            long bytes) implements CoordinatorCommand, CborSerializable {
    }
}
