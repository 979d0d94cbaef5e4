package io.proxstream.actors.stream;

import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;

/**
 * Cuts chunks of any size into minibatches of exactly {@code batchRows} rows (the last one of a
 * finite stream may be shorter), stopping after {@code limit} rows in total (0 = no limit). A chunk
 * that is exactly one minibatch passes through without a copy (chunks are owned by the stream once
 * emitted, so its array becomes the minibatch's). Control tokens are passed on at once, ahead of
 * the rows of a partial minibatch. Holds
 * at most one chunk and one partial minibatch, and pulls upstream only when downstream wants a
 * minibatch that the rows held cannot fill: back-pressure passes through unchanged.
 */
public final class Rebatch extends GraphStage<FlowShape<Chunk, Minibatch>> {
    private final Inlet<Chunk> in = Inlet.create("Rebatch.in");
    private final Outlet<Minibatch> out = Outlet.create("Rebatch.out");
    private final FlowShape<Chunk, Minibatch> shape = FlowShape.of(in, out);
    private final int batchRows;
    private final long limit;

    public Rebatch(int batchRows, long limit) {
        if (batchRows <= 0) {
            throw new IllegalArgumentException("batchRows must be positive, got " + batchRows);
        }
        if (limit < 0) {
            throw new IllegalArgumentException("limit must be >= 0, got " + limit);
        }
        this.batchRows = batchRows;
        this.limit = limit;
    }

    @Override
    public FlowShape<Chunk, Minibatch> shape() {
        return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes inheritedAttributes) {
        return new GraphStageLogic(shape) {
            private Chunk current;
            private Runnable pendingControl;
            private int used;
            private float[] partial;
            private int partialRows;
            private int cols = -1;
            private long emitted;

            {
                setHandler(in, new AbstractInHandler() {
                    @Override
                    public void onPush() {
                        Chunk c = grab(in);
                        if (c.isControl()) {
                            // a control token overtakes the rows of a partial minibatch (not trained yet)
                            if (isAvailable(out)) {
                                push(out, new Minibatch(null, 0, 0, c.control()));
                            } else {
                                pendingControl = c.control();
                            }
                            if (!isClosed(in) && !hasBeenPulled(in) && isAvailable(out)) {
                                pull(in);
                            }
                            return;
                        }
                        current = c;
                        used = 0;
                        if (cols < 0) {
                            cols = current.cols();
                        } else if (current.cols() != cols) {
                            failStage(new IllegalStateException("Rebatch got rows of width " + current.cols()
                                    + " after " + cols + " (validate before rebatching)"));
                            return;
                        }
                        fill();
                    }

                    @Override
                    public void onUpstreamFinish() {
                        if (current == null && pendingControl == null) {
                            flushAndComplete();
                        }
                    }
                });
                setHandler(out, new AbstractOutHandler() {
                    @Override
                    public void onPull() {
                        fill();
                    }
                });
            }

            private long remaining() {
                return limit == 0 ? Long.MAX_VALUE : limit - emitted;
            }

            /** Moves rows from the current chunk into the partial batch; emits when full. */
            private void fill() {
                if (pendingControl != null) {
                    if (isAvailable(out)) {
                        push(out, new Minibatch(null, 0, 0, pendingControl));
                        pendingControl = null;
                    }
                    return;
                }
                if (remaining() <= 0) {
                    completeStage();
                    return;
                }
                if (current != null && partial == null && used == 0 && current.rows() == batchRows
                        && current.data().length == batchRows * cols && remaining() >= batchRows && isAvailable(out)) {
                    // a chunk that is exactly one minibatch passes through without a copy
                    push(out, new Minibatch(current.data(), batchRows, cols));
                    emitted += batchRows;
                    current = null;
                    if (remaining() <= 0) {
                        completeStage();
                    }
                    return;
                }
                if (current != null) {
                    if (partial == null) {
                        partial = new float[batchRows * cols];
                        partialRows = 0;
                    }
                    int want = (int) Math.min(batchRows - partialRows, remaining() - partialRows);
                    int take = Math.min(want, current.rows() - used);
                    System.arraycopy(current.data(), used * cols, partial, partialRows * cols, take * cols);
                    partialRows += take;
                    used += take;
                    if (used == current.rows()) {
                        current = null;
                    }
                    boolean full = partialRows == batchRows || emitted + partialRows == (limit == 0 ? -1 : limit);
                    if (full && isAvailable(out)) {
                        emitPartial();
                        if (remaining() <= 0) {
                            completeStage();
                            return;
                        }
                    }
                    if (current != null) {
                        return; // rows left over: wait for the next pull
                    }
                    if (full) {
                        return; // a full batch waits for demand
                    }
                }
                if (isClosed(in)) {
                    flushAndComplete();
                } else if (!hasBeenPulled(in)) {
                    pull(in);
                }
            }

            private void emitPartial() {
                float[] x = partialRows == batchRows ? partial : java.util.Arrays.copyOf(partial, partialRows * cols);
                push(out, new Minibatch(x, partialRows, cols));
                emitted += partialRows;
                partial = null;
                partialRows = 0;
            }

            private void flushAndComplete() {
                if (partial != null && partialRows > 0) {
                    float[] x = java.util.Arrays.copyOf(partial, partialRows * cols);
                    emit(out, new Minibatch(x, partialRows, cols));
                    emitted += partialRows;
                    partial = null;
                }
                completeStage();
            }
        };
    }
}
