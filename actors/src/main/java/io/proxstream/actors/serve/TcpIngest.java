package io.proxstream.actors.serve;

import io.proxstream.protocol.format.FormatException;
import io.proxstream.protocol.ingest.IngestFrame;
import java.nio.ByteOrder;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentMap;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.japi.pf.PFBuilder;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.javadsl.Framing;
import org.apache.pekko.stream.scaladsl.Framing.FramingException;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TCP ingest endpoint: length-prefixed frames ({@link IngestFrame}, cut by Pekko Streams'
 * {@code Framing.lengthField}: a little-endian u32 length, then that many bytes), one reply per frame. A
 * connection's next frame is read only after the previous one is queued for training (waiting
 * for room as long as it takes), so a producer that outruns training is slowed by TCP flow
 * control. A malformed frame gets a {@code rejected} reply and the connection stays usable; a
 * frame whose length field is out of bounds breaks the framing and gets a {@code fatal} reply,
 * after which the server closes the connection. A server with a token ({@link ServeAuth}) takes data only on
 * connections that opened with an authentication frame carrying it; any other first frame, or a wrong token, gets a
 * {@code fatal} reply and the connection is closed.
 */
public final class TcpIngest {
    private static final Logger LOG = LoggerFactory.getLogger(TcpIngest.class);

    private TcpIngest() {
    }

    /** Binds {@code host:port}; completes with the bound port. */
    public static CompletionStage<Tcp.ServerBinding> bind(ActorSystem<?> system, String host, int port, long maxFrameBytes,
                                                          ConcurrentMap<String, RunHandle> registry, ServeAuth auth) {
        return bind(system, host, port, maxFrameBytes, registry, auth, null);
    }

    /** Binds TCP ingest, over TLS when {@code tls} is given (a TLS handshake that fails closes that connection only). */
    public static CompletionStage<Tcp.ServerBinding> bind(ActorSystem<?> system, String host, int port, long maxFrameBytes,
                                                          ConcurrentMap<String, RunHandle> registry, ServeAuth auth,
                                                          javax.net.ssl.SSLContext tls) {
        return bind(system, host, port, maxFrameBytes, (java.util.function.Function<String, IngestTarget>) registry::get, auth, tls);
    }

    /** Binds TCP ingest whose frames for run NAME go to {@code runs.apply(NAME)} (null: no such run, rejected). */
    public static CompletionStage<Tcp.ServerBinding> bind(ActorSystem<?> system, String host, int port, long maxFrameBytes,
                                                          java.util.function.Function<String, IngestTarget> runs, ServeAuth auth,
                                                          javax.net.ssl.SSLContext tls) {
        // half-close: a connection whose framing broke stops being read, and is closed once its fatal reply is written
        // (over TLS: the session is not closed when reading stops, only once the replies are written)
        var connections = tls == null ? Tcp.get(system).bind(host, port, 100, java.util.List.of(), true, java.util.Optional.empty())
                : Tcp.get(system).bindWithTls(host, port, () -> ServeTls.serverEngine(tls), 100, java.util.List.of(),
                java.util.Optional.empty(), session -> java.util.Optional.empty(), org.apache.pekko.stream.TLSClosing$.MODULE$.ignoreCancel());
        return connections
                .to(org.apache.pekko.stream.javadsl.Sink.foreach(conn -> conn.handleWith(connection(maxFrameBytes, runs, auth), system)))
                .run(system);
    }

    /** A complete frame body, or the end of a connection whose framing broke. */
    private record Frame(ByteString body, String fatal) {
    }

    static Flow<ByteString, ByteString, NotUsed> connection(long maxFrameBytes, ConcurrentMap<String, RunHandle> registry,
                                                            ServeAuth auth) {
        return connection(maxFrameBytes, (java.util.function.Function<String, IngestTarget>) registry::get, auth);
    }

    static Flow<ByteString, ByteString, NotUsed> connection(long maxFrameBytes, java.util.function.Function<String, IngestTarget> runs,
                                                            ServeAuth auth) {
        // this connection's authentication; the flow is materialised once per connection and its frames are handled
        // one at a time (mapAsync(1)), so a plain flag is enough
        boolean[] authenticated = {!auth.required()};
        // a frame is its u32 length and that many bytes; the limit counts the length field too
        int maxFrame = (int) Math.min(Integer.MAX_VALUE - 8, maxFrameBytes + IngestFrame.FIXED_PREFIX + 64 + 8 + 4);
        return Flow.<ByteString>create()
                .via(new CloseGently())
                .via(Framing.lengthField(4, 0, maxFrame, ByteOrder.LITTLE_ENDIAN))
                .map(frame -> new Frame(frame.drop(4).compact(), null))
                .recover(new PFBuilder<Throwable, Frame>()
                        .match(FramingException.class, e -> {
                            LOG.warn("TCP ingest: closing a connection whose framing broke: {}", e.getMessage());
                            return new Frame(null, "broken framing: " + e.getMessage() + "; closing the connection");
                        })
                        .build())
                .takeWhile(f -> f.fatal() == null, true)
                .mapAsync(1, f -> f.fatal() != null ? reply(IngestFrame.FATAL, 0, f.fatal())
                        : IngestFrame.isAuth(f.body().asByteBuffer()) ? authenticate(f.body(), auth, authenticated)
                        : authenticated[0] ? handle(f.body(), runs)
                        : refuse(auth))
                // a fatal reply is the connection's last
                .takeWhile(r -> r.apply(4) != IngestFrame.FATAL, true);
    }

    private static CompletionStage<ByteString> authenticate(ByteString body, ServeAuth auth, boolean[] authenticated) {
        String token;
        try {
            token = IngestFrame.decodeAuth(body.asByteBuffer());
        } catch (FormatException e) {
            auth.tcpRefused();
            return reply(IngestFrame.FATAL, 0, "malformed authentication frame: " + e.getMessage() + "; closing the connection");
        }
        if (!auth.tcpAllowed(token)) {
            return reply(IngestFrame.FATAL, 0, "wrong token; closing the connection");
        }
        authenticated[0] = true;
        return reply(IngestFrame.ACCEPTED, 0, "");
    }

    private static CompletionStage<ByteString> refuse(ServeAuth auth) {
        auth.tcpRefused();
        return reply(IngestFrame.FATAL, 0, "this server needs an authentication frame (magic 'A') with its token before data;"
                + " closing the connection");
    }

    private static CompletionStage<ByteString> handle(ByteString body, java.util.function.Function<String, IngestTarget> runs) {
        IngestFrame.Request req;
        try {
            req = IngestFrame.decode(body.asByteBuffer());
        } catch (FormatException e) {
            return reply(IngestFrame.REJECTED, 0, e.getMessage());
        }
        IngestTarget h = runs.apply(req.run());
        if (h == null) {
            return reply(IngestFrame.REJECTED, 0, "no run '" + req.run() + "'");
        }
        long bytes = 4L * req.rows() * req.cols();
        // only the frame's size is kept: the frame itself (a copy of the decoded floats) is not held while the push
        // waits for room
        long frameBytes = body.size();
        if (bytes > h.budgetBytes()) {
            h.reject(RunHandle.Outcome.TOO_LARGE, "too_large", "");
            return reply(IngestFrame.REJECTED, 0, "batch of " + bytes + " bytes exceeds the run's queue of " + h.budgetBytes() + " bytes");
        }
        // waits for room as long as training takes (TCP flow control is the back-pressure), and ends when the run
        // stops taking data
        return h.reserve(bytes, -1)
                .thenCompose(ok -> ok ? h.accept("tcp", req.data(), req.rows(), req.cols(), bytes, frameBytes)
                        : CompletableFuture.completedFuture(new RunHandle.PushResult(RunHandle.Outcome.NOT_ACCEPTING, 0,
                                "run '" + req.run() + "' is not accepting data")))
                .thenApply(r -> ByteString.fromByteBuffer(IngestFrame.reply(
                        r.outcome() == RunHandle.Outcome.ACCEPTED ? IngestFrame.ACCEPTED : IngestFrame.REJECTED, r.rows(), r.reason())));
    }

    private static CompletionStage<ByteString> reply(byte status, int rows, String reason) {
        return CompletableFuture.completedFuture(ByteString.fromByteBuffer(IngestFrame.reply(status, rows, reason)));
    }


    /**
     * Passes bytes through, and turns the failed cancellation of a broken framing into a normal one: the TCP
     * stage aborts a connection (RST) when its reading side is cancelled with a failure, which would lose the
     * fatal reply still being written.
     */
    static final class CloseGently extends GraphStage<FlowShape<ByteString, ByteString>> {
        private final Inlet<ByteString> in = Inlet.create("CloseGently.in");
        private final Outlet<ByteString> out = Outlet.create("CloseGently.out");
        private final FlowShape<ByteString, ByteString> shape = FlowShape.of(in, out);

        @Override
        public FlowShape<ByteString, ByteString> shape() {
            return shape;
        }

        @Override
        public GraphStageLogic createLogic(Attributes attributes) {
            return new GraphStageLogic(shape) {
                {
                    setHandler(in, new AbstractInHandler() {
                        @Override
                        public void onPush() {
                            push(out, grab(in));
                        }
                    });
                    setHandler(out, new AbstractOutHandler() {
                        @Override
                        public void onPull() {
                            pull(in);
                        }

                        @Override
                        public void onDownstreamFinish(Throwable cause) {
                            completeStage();
                        }
                    });
                }
            };
        }
    }
}
