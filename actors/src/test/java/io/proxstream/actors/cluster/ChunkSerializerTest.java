package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.NotSerializableException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.junit.jupiter.api.Test;

/** The bulk messages' serializer: exact round trips through bytes and through a buffer, bound by the cluster settings. */
class ChunkSerializerTest {
    private final ChunkSerializer s = new ChunkSerializer(null);

    @Test
    void modelAndResultChunksRoundTripExactlyAndTruncationIsRefusedWithTheReason() throws Exception {
        byte[] data = new byte[70_001];
        new java.util.Random(3).nextBytes(data);
        Protocol.ModelChunk m = new Protocol.ModelChunk(12_345_678_901L, 7, 9, data);
        Protocol.ModelChunk m2 = (Protocol.ModelChunk) s.fromBinary(s.toBinary(m), s.manifest(m));
        assertEquals(m.round(), m2.round());
        assertEquals(7, m2.index());
        assertEquals(9, m2.count());
        assertArrayEquals(data, m2.data());
        Protocol.ResultChunk r = new Protocol.ResultChunk(3, "proxstream@10.0.0.2:2551 é", 0, 1, data);
        ByteBuffer buf = ByteBuffer.allocate(200_000);
        buf.put((byte) 42); // Artery writes after its own header: the serializer must not assume position 0
        s.toBinary(r, buf);
        buf.flip();
        buf.get();
        Protocol.ResultChunk r2 = (Protocol.ResultChunk) s.fromBinary(buf, s.manifest(r));
        assertEquals(r.worker(), r2.worker());
        assertArrayEquals(data, r2.data());
        assertEquals(0, buf.remaining());
        byte[] cut = Arrays.copyOf(s.toBinary(m), 1000);
        NotSerializableException e = assertThrows(NotSerializableException.class, () -> s.fromBinary(cut, "M"));
        assertTrue(e.getMessage().contains("declares"), e.getMessage());
        assertThrows(NotSerializableException.class, () -> s.fromBinary(new byte[5], "R"));
        assertThrows(NotSerializableException.class, () -> s.fromBinary(s.toBinary(m), "Z"));
    }

    @Test
    void ringPiecesRoundTripTheirFloatsBitForBitAndTruncationIsRefused() throws Exception {
        float[] v = {1.5f, -0f, Float.MIN_VALUE, Float.MAX_VALUE, Float.intBitsToFloat(0x7fc01234), 3e-20f};
        RingCollective.Piece p = new RingCollective.Piece(9_876_543_210L, true, 6, 3, 123_456, v);
        ByteBuffer buf = ByteBuffer.allocate(200);
        buf.put((byte) 7);
        s.toBinary(p, buf);
        buf.flip();
        buf.get();
        RingCollective.Piece q = (RingCollective.Piece) s.fromBinary(buf, s.manifest(p));
        assertEquals(0, buf.remaining(), "the piece's bytes are consumed whole");
        assertEquals(p.op(), q.op());
        assertTrue(q.gather());
        assertEquals(6, q.step());
        assertEquals(3, q.segment());
        assertEquals(123_456, q.offset());
        for (int i = 0; i < v.length; i++) {
            assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(q.values()[i]), "float " + i);
        }
        byte[] cut = Arrays.copyOf(s.toBinary(p), 30);
        NotSerializableException e = assertThrows(NotSerializableException.class, () -> s.fromBinary(cut, "P"));
        assertTrue(e.getMessage().contains("ring piece"), e.getMessage());
    }

    @Test
    void shardExchangeAndCorrectionPartsRoundTripExactlyAndTruncationIsRefused() throws Exception {
        byte[] data = new byte[50_003];
        new java.util.Random(5).nextBytes(data);
        ShardWorker.Exchange x = new ShardWorker.Exchange(8_000_000_001L, 5, 2, 9, data);
        ByteBuffer buf = ByteBuffer.allocate(60_000);
        buf.put((byte) 1);
        s.toBinary(x, buf);
        buf.flip();
        buf.get();
        ShardWorker.Exchange x2 = (ShardWorker.Exchange) s.fromBinary(buf, s.manifest(x));
        assertEquals(0, buf.remaining());
        assertEquals(x.round(), x2.round());
        assertEquals(5, x2.from());
        assertEquals(2, x2.index());
        assertEquals(9, x2.count());
        assertArrayEquals(data, x2.data());
        ShardWorker.Correction c = new ShardWorker.Correction(77, 3, 6, 1, 4, data);
        ShardWorker.Correction c2 = (ShardWorker.Correction) s.fromBinary(s.toBinary(c), s.manifest(c));
        assertEquals(77, c2.round());
        assertEquals(3, c2.from());
        assertEquals(6, c2.range());
        assertEquals(1, c2.index());
        assertEquals(4, c2.count());
        assertArrayEquals(data, c2.data());
        byte[] cut = Arrays.copyOf(s.toBinary(c), 2000);
        NotSerializableException e = assertThrows(NotSerializableException.class, () -> s.fromBinary(cut, s.manifest(c)));
        assertTrue(e.getMessage().contains("shard correction part"), e.getMessage());
        NotSerializableException e2 = assertThrows(NotSerializableException.class, () -> s.fromBinary(new byte[10], s.manifest(x)));
        assertTrue(e2.getMessage().contains("shard exchange part"), e2.getMessage());
        ShardWorker.ShardState st = new ShardWorker.ShardState(12, 1, 2, 300, 1400, data);
        ShardWorker.ShardState st2 = (ShardWorker.ShardState) s.fromBinary(s.toBinary(st), s.manifest(st));
        assertEquals(List.of(12L, 1, 2, 300, 1400), List.of(st2.transfer(), st2.from(), st2.range(), st2.index(), st2.count()));
        assertArrayEquals(data, st2.data());
        NotSerializableException e3 = assertThrows(NotSerializableException.class,
                () -> s.fromBinary(Arrays.copyOf(s.toBinary(st), 100), s.manifest(st)));
        assertTrue(e3.getMessage().contains("shard state part"), e3.getMessage());
    }

    @Test
    void theClusterSettingsBindTheChunksToItAndEverythingElseStaysCbor() {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "chunks",
                ClusterNode.config("127.0.0.1", 0, java.util.List.of("127.0.0.1:0"), java.util.List.of("worker"), java.time.Duration.ofSeconds(5)));
        try {
            Serialization ser = SerializationExtension.get(system);
            assertEquals(ChunkSerializer.ID, ser.findSerializerFor(new Protocol.ModelChunk(0, 0, 1, new byte[1])).identifier());
            assertEquals(ChunkSerializer.ID, ser.findSerializerFor(new Protocol.ResultChunk(0, "w", 0, 1, new byte[1])).identifier());
            assertEquals(ChunkSerializer.ID, ser.findSerializerFor(new RingCollective.Piece(0, false, 0, 0, 0, new float[1])).identifier());
            assertEquals(ChunkSerializer.ID, ser.findSerializerFor(new ShardWorker.Exchange(0, 0, 0, 1, new byte[1])).identifier());
            assertEquals(ChunkSerializer.ID, ser.findSerializerFor(new ShardWorker.Correction(0, 0, 0, 0, 1, new byte[1])).identifier());
            assertEquals(ChunkSerializer.ID, ser.findSerializerFor(new ShardWorker.ShardState(0, 0, 0, 0, 1, new byte[1])).identifier());
            assertTrue(ser.findSerializerFor(new Protocol.RoundSettled(1, java.util.List.of(), -1)).getClass().getName().contains("Jackson"));
        } finally {
            system.terminate();
        }
    }
}
