package io.proxstream.actors.serve;

import io.proxstream.protocol.format.FormatException;
import io.proxstream.protocol.ingest.IngestFrame;
import java.nio.ByteOrder;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentMap;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TCP ingest endpoint: length-prefixed frames ({@link IngestFrame}), one reply per frame. A
 * connection's next frame is read only after the previous one is queued for training (waiting
 * for room as long as it takes), so a producer that outruns training is slowed by TCP flow
 * control. A malformed frame gets a {@code rejected} reply and the connection stays usable; a
 * frame whose length field is out of bounds breaks the framing and gets a {@code fatal} reply,
 * after which the server closes the connection.
 */
public final class TcpIngest {
    private static final Logger LOG = LoggerFactory.getLogger(TcpIngest.class);

    private TcpIngest() {
    }

    /** Binds {@code host:port}; completes with the bound port. */
    public static CompletionStage<Tcp.ServerBinding> bind(ActorSystem<?> system, String host, int port, long maxFrameBytes,
                                                          ConcurrentMap<String, RunHandle> registry) {
        return Tcp.get(system).bind(host, port)
                .to(org.apache.pekko.stream.javadsl.Sink.foreach(conn -> conn.handleWith(connection(maxFrameBytes, registry), system)))
                .run(system);
    }

    /** A complete frame body, or the end of a connection whose framing broke. */
    private record Frame(ByteString body, String fatal) {
    }

    static Flow<ByteString, ByteString, NotUsed> connection(long maxFrameBytes, ConcurrentMap<String, RunHandle> registry) {
        long maxBody = maxFrameBytes + IngestFrame.FIXED_PREFIX + 64 + 8;
        return Flow.<ByteString>create()
                .statefulMap(() -> ByteString.emptyByteString(),
                        (buf, chunk) -> split(buf.concat(chunk), maxBody),
                        buf -> java.util.Optional.empty())
                .mapConcat(frames -> frames)
                .takeWhile(f -> f.fatal() == null, true)
                .mapAsync(1, f -> f.fatal() != null
                        ? reply(IngestFrame.FATAL, 0, f.fatal())
                        : handle(f.body(), registry));
    }

    /** Cuts complete frames off {@code buf}; returns the remainder and the frames (a fatal one ends the list). */
    private static org.apache.pekko.japi.Pair<ByteString, java.util.List<Frame>> split(ByteString buf, long maxBody) {
        java.util.List<Frame> out = new java.util.ArrayList<>();
        while (buf.size() >= 4) {
            long len = buf.slice(0, 4).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL;
            if (len > maxBody) {
                LOG.warn("TCP ingest: closing a connection whose frame declares {} bytes (limit {})", len, maxBody);
                out.add(new Frame(null, "broken framing: a frame of " + len + " bytes exceeds the limit of " + maxBody
                        + "; closing the connection"));
                return org.apache.pekko.japi.Pair.create(ByteString.emptyByteString(), out);
            }
            if (buf.size() < 4 + len) {
                break;
            }
            out.add(new Frame(buf.slice(4, (int) (4 + len)).compact(), null));
            buf = buf.drop((int) (4 + len));
        }
        return org.apache.pekko.japi.Pair.create(buf, out);
    }

    private static CompletionStage<ByteString> handle(ByteString body, ConcurrentMap<String, RunHandle> registry) {
        IngestFrame.Request req;
        try {
            req = IngestFrame.decode(body.asByteBuffer());
        } catch (FormatException e) {
            return reply(IngestFrame.REJECTED, 0, e.getMessage());
        }
        RunHandle h = registry.get(req.run());
        if (h == null) {
            return reply(IngestFrame.REJECTED, 0, "no run '" + req.run() + "'");
        }
        long bytes = 4L * req.rows() * req.cols();
        if (bytes > h.budgetBytes()) {
            h.reject(RunHandle.Outcome.TOO_LARGE, "too_large", "");
            return reply(IngestFrame.REJECTED, 0, "batch of " + bytes + " bytes exceeds the run's queue of " + h.budgetBytes() + " bytes");
        }
        // waits for room as long as training takes (TCP flow control is the back-pressure), and ends when the run
        // stops taking data
        return h.reserve(bytes, -1)
                .thenCompose(ok -> ok ? h.accept("tcp", req.data(), req.rows(), req.cols(), bytes, body.size())
                        : CompletableFuture.completedFuture(new RunHandle.PushResult(RunHandle.Outcome.NOT_ACCEPTING, 0,
                                "run '" + req.run() + "' is not accepting data")))
                .thenApply(r -> ByteString.fromByteBuffer(IngestFrame.reply(
                        r.outcome() == RunHandle.Outcome.ACCEPTED ? IngestFrame.ACCEPTED : IngestFrame.REJECTED, r.rows(), r.reason())));
    }

    private static CompletionStage<ByteString> reply(byte status, int rows, String reason) {
        return CompletableFuture.completedFuture(ByteString.fromByteBuffer(IngestFrame.reply(status, rows, reason)));
    }
}
