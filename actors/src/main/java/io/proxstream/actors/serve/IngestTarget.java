package io.proxstream.actors.serve;

import java.util.concurrent.CompletionStage;

/**
 * Where the TCP ingest ({@link TcpIngest}) puts a run's frames: a served run ({@link RunHandle}) or a run's queue on a
 * cluster node. The frame's bytes are reserved first (back-pressure: a full queue delays the reservation, and TCP flow
 * control slows the producer), then the decoded batch is validated and queued or rejected with a reason.
 */
public interface IngestTarget {
    /** The largest batch this target can take (its queue), in bytes. */
    long budgetBytes();

    /** A rejection counted under {@code reason}. */
    RunHandle.PushResult reject(RunHandle.Outcome outcome, String reason, String message);

    /** Reserves {@code bytes}; false after {@code timeoutMillis} (negative: as long as it takes) or when the target closes. */
    CompletionStage<Boolean> reserve(long bytes, long timeoutMillis);

    /** Validates and queues a batch whose {@code reserved} bytes were reserved (released again if it is rejected). */
    CompletionStage<RunHandle.PushResult> accept(String transport, float[] data, int rows, int cols, long reserved, long payloadBytes);
}
