package io.proxstream.actors.stream;

import java.util.function.LongConsumer;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;

/**
 * A one-element pass-through that measures back-pressure: it pulls upstream as soon as it is empty,
 * and reports for each element how long it waited, ready, for downstream demand. A fast producer
 * in front of a slow consumer shows up as long waits; the buffer never holds more than one element.
 */
public final class BackpressureProbe<T> extends GraphStage<FlowShape<T, T>> {
    private final Inlet<T> in = Inlet.create("BackpressureProbe.in");
    private final Outlet<T> out = Outlet.create("BackpressureProbe.out");
    private final FlowShape<T, T> shape = FlowShape.of(in, out);
    private final LongConsumer waitNanos;

    /** @param waitNanos receives each element's wait in nanoseconds (0 when demand was already there) */
    public BackpressureProbe(LongConsumer waitNanos) {
        this.waitNanos = waitNanos;
    }

    @Override
    public FlowShape<T, T> shape() {
        return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes inheritedAttributes) {
        return new GraphStageLogic(shape) {
            private T held;
            private long since;

            {
                setHandler(in, new AbstractInHandler() {
                    @Override
                    public void onPush() {
                        T elem = grab(in);
                        if (isAvailable(out)) {
                            waitNanos.accept(0L);
                            push(out, elem);
                            pull(in);
                        } else {
                            held = elem;
                            since = System.nanoTime();
                        }
                    }

                    @Override
                    public void onUpstreamFinish() {
                        if (held == null) {
                            completeStage();
                        }
                    }
                });
                setHandler(out, new AbstractOutHandler() {
                    @Override
                    public void onPull() {
                        if (held != null) {
                            waitNanos.accept(System.nanoTime() - since);
                            push(out, held);
                            held = null;
                            if (isClosed(in)) {
                                completeStage();
                            } else if (!hasBeenPulled(in)) {
                                pull(in);
                            }
                        }
                    }
                });
            }

            @Override
            public void preStart() {
                pull(in);
            }
        };
    }
}
