package io.proxstream.actors.cluster;

import java.io.NotSerializableException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.serialization.ByteBufferSerializer;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * The wire form of the bulk messages ({@link Protocol.ModelChunk}, {@link Protocol.ResultChunk}, the ring's
 * {@link RingCollective.Piece}, the shard workers' {@link ShardWorker.Exchange}, {@link ShardWorker.Correction} and
 * {@link ShardWorker.ShardState}): a few header fields
 * and the chunk's bytes, written straight into Artery's buffer ({@link ByteBufferSerializer}) instead of through
 * Jackson CBOR, which copied every chunk twice more on each side. Bound in {@code proxstream-cluster.conf}; every
 * other cluster message stays CBOR. A malformed payload fails with the reason (Artery then drops it and logs).
 */
public final class ChunkSerializer extends SerializerWithStringManifest implements ByteBufferSerializer {
    /** Serializer id: any unused value above 40 (Pekko's own ids are below). */
    public static final int ID = 7_311_201;
    private static final String MODEL = "M";
    private static final String RESULT = "R";
    private static final String PIECE = "P";
    private static final String EXCHANGE = "X";
    private static final String CORRECTION = "C";
    private static final String STATE = "S";

    public ChunkSerializer(ExtendedActorSystem system) {
        // the system is not needed
    }

    @Override
    public int identifier() {
        return ID;
    }

    @Override
    public String manifest(Object o) {
        if (o instanceof Protocol.ModelChunk) {
            return MODEL;
        }
        if (o instanceof Protocol.ResultChunk) {
            return RESULT;
        }
        if (o instanceof RingCollective.Piece) {
            return PIECE;
        }
        if (o instanceof ShardWorker.Exchange) {
            return EXCHANGE;
        }
        if (o instanceof ShardWorker.Correction) {
            return CORRECTION;
        }
        if (o instanceof ShardWorker.ShardState) {
            return STATE;
        }
        throw new IllegalArgumentException("ChunkSerializer cannot serialise " + o.getClass().getName());
    }

    /** The serialised size of a message. */
    private static int size(Object o) {
        if (o instanceof Protocol.ModelChunk m) {
            return 8 + 4 + 4 + 4 + m.data().length;
        }
        if (o instanceof RingCollective.Piece p) {
            return 8 + 1 + 4 + 4 + 4 + 4 + 4 * p.values().length;
        }
        if (o instanceof ShardWorker.Exchange x) {
            return 8 + 4 + 4 + 4 + 4 + x.data().length;
        }
        if (o instanceof ShardWorker.Correction c) {
            return 8 + 4 + 4 + 4 + 4 + 4 + c.data().length;
        }
        if (o instanceof ShardWorker.ShardState st) {
            return 8 + 4 + 4 + 4 + 4 + 4 + st.data().length;
        }
        Protocol.ResultChunk r = (Protocol.ResultChunk) o;
        return 8 + 4 + 4 + 4 + r.worker().getBytes(StandardCharsets.UTF_8).length + 4 + r.data().length;
    }

    @Override
    public byte[] toBinary(Object o) {
        ByteBuffer b = ByteBuffer.allocate(size(o));
        toBinary(o, b);
        return b.array();
    }

    @Override
    public void toBinary(Object o, ByteBuffer buf) {
        ByteOrder order = buf.order();
        buf.order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (o instanceof Protocol.ModelChunk m) {
                buf.putLong(m.round()).putInt(m.index()).putInt(m.count()).putInt(m.data().length).put(m.data());
            } else if (o instanceof Protocol.ResultChunk r) {
                byte[] w = r.worker().getBytes(StandardCharsets.UTF_8);
                buf.putLong(r.round()).putInt(r.index()).putInt(r.count()).putInt(w.length).put(w).putInt(r.data().length).put(r.data());
            } else if (o instanceof ShardWorker.Exchange x) {
                buf.putLong(x.round()).putInt(x.index()).putInt(x.count()).putInt(x.from()).putInt(x.data().length).put(x.data());
            } else if (o instanceof ShardWorker.Correction c) {
                buf.putLong(c.round()).putInt(c.index()).putInt(c.count()).putInt(c.from()).putInt(c.range()).putInt(c.data().length)
                        .put(c.data());
            } else if (o instanceof ShardWorker.ShardState st) {
                buf.putLong(st.transfer()).putInt(st.index()).putInt(st.count()).putInt(st.from()).putInt(st.range()).putInt(st.data().length)
                        .put(st.data());
            } else if (o instanceof RingCollective.Piece p) {
                buf.putLong(p.op()).put((byte) (p.gather() ? 1 : 0)).putInt(p.step()).putInt(p.segment()).putInt(p.offset())
                        .putInt(p.values().length);
                buf.asFloatBuffer().put(p.values());
                buf.position(buf.position() + 4 * p.values().length);
            } else {
                throw new IllegalArgumentException("ChunkSerializer cannot serialise " + o.getClass().getName());
            }
        } finally {
            buf.order(order);
        }
    }

    @Override
    public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
        return fromBinary(ByteBuffer.wrap(bytes), manifest);
    }

    @Override
    public Object fromBinary(ByteBuffer buf, String manifest) throws NotSerializableException {
        ByteOrder order = buf.order();
        buf.order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (PIECE.equals(manifest)) {
                return piece(buf);
            }
            long round = buf.getLong();
            int index = buf.getInt();
            int count = buf.getInt();
            return switch (manifest) {
                case MODEL -> new Protocol.ModelChunk(round, index, count, bytes(buf, "model chunk"));
                case RESULT -> {
                    String worker = new String(bytes(buf, "worker name"), StandardCharsets.UTF_8);
                    yield new Protocol.ResultChunk(round, worker, index, count, bytes(buf, "result chunk"));
                }
                case EXCHANGE -> new ShardWorker.Exchange(round, buf.getInt(), index, count, bytes(buf, "shard exchange part"));
                case CORRECTION -> {
                    int from = buf.getInt();
                    int range = buf.getInt();
                    yield new ShardWorker.Correction(round, from, range, index, count, bytes(buf, "shard correction part"));
                }
                case STATE -> {
                    int from = buf.getInt();
                    int range = buf.getInt();
                    yield new ShardWorker.ShardState(round, from, range, index, count, bytes(buf, "shard state part"));
                }
                default -> throw new NotSerializableException("ChunkSerializer: unknown manifest '" + manifest + "'");
            };
        } catch (BufferUnderflowException e) {
            throw new NotSerializableException("ChunkSerializer: truncated " + switch (manifest) {
                case MODEL -> "model chunk";
                case RESULT -> "result chunk";
                case EXCHANGE -> "shard exchange part";
                case CORRECTION -> "shard correction part";
                case STATE -> "shard state part";
                default -> "ring piece";
            });
        } finally {
            buf.order(order);
        }
    }

    private static RingCollective.Piece piece(ByteBuffer buf) throws NotSerializableException {
        long op = buf.getLong();
        byte gather = buf.get();
        int step = buf.getInt();
        int segment = buf.getInt();
        int offset = buf.getInt();
        int n = buf.getInt();
        if (gather != 0 && gather != 1 || n < 0 || (long) n * 4 > buf.remaining()) {
            throw new NotSerializableException("ChunkSerializer: ring piece declares " + n + " floats (phase byte " + gather + "), "
                    + buf.remaining() + " bytes remain");
        }
        float[] v = new float[n];
        buf.asFloatBuffer().get(v);
        buf.position(buf.position() + 4 * n);
        return new RingCollective.Piece(op, gather == 1, step, segment, offset, v);
    }

    private static byte[] bytes(ByteBuffer buf, String what) throws NotSerializableException {
        int n = buf.getInt();
        if (n < 0 || n > buf.remaining()) {
            throw new NotSerializableException("ChunkSerializer: " + what + " declares " + n + " bytes, " + buf.remaining() + " remain");
        }
        byte[] out = new byte[n];
        buf.get(out);
        return out;
    }
}
