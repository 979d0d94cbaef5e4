package io.proxstream.actors.cluster;

import io.proxstream.solvers.sae.TrainerState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The wire form of trainer states between nodes: a compact binary encoding of a
 * {@link TrainerState} (names, then raw little-endian float32 / float64 arrays and counters), cut
 * into chunks no larger than {@link #MAX_CHUNK} bytes so that every message stays well under
 * Artery's frame size (256 KiB by default), and put back together in any order.
 */
public final class Chunks {
    /** Bytes per chunk: with the message envelope far below Artery's default 256 KiB frame. */
    public static final int MAX_CHUNK = 128 * 1024;

    private Chunks() {
    }

    public static byte[] encode(TrainerState s) {
        try (ByteArrayOutputStream bos = new ByteArrayOutputStream(); DataOutputStream out = new DataOutputStream(bos)) {
            out.writeUTF(s.algorithm());
            out.writeInt(s.floats().size());
            for (Map.Entry<String, float[]> e : s.floats().entrySet()) {
                out.writeUTF(e.getKey());
                float[] a = e.getValue();
                out.writeInt(a.length);
                ByteBuffer b = ByteBuffer.allocate(4 * a.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(a);
                out.write(b.array());
            }
            out.writeInt(s.doubles().size());
            for (Map.Entry<String, double[]> e : s.doubles().entrySet()) {
                out.writeUTF(e.getKey());
                double[] a = e.getValue();
                out.writeInt(a.length);
                ByteBuffer b = ByteBuffer.allocate(8 * a.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asDoubleBuffer().put(a);
                out.write(b.array());
            }
            out.writeInt(s.longs().size());
            for (Map.Entry<String, long[]> e : s.longs().entrySet()) {
                out.writeUTF(e.getKey());
                out.writeInt(e.getValue().length);
                for (long v : e.getValue()) {
                    out.writeLong(v);
                }
            }
            out.flush();
            return bos.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Decodes {@link #encode}'s bytes; a truncated or malformed payload fails with the reason. */
    public static TrainerState decode(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            TrainerState.Builder b = new TrainerState.Builder(in.readUTF());
            int nf = count(in);
            for (int i = 0; i < nf; i++) {
                String name = in.readUTF();
                float[] a = new float[count(in)];
                byte[] raw = in.readNBytes(4 * a.length);
                if (raw.length != 4 * a.length) {
                    throw new IllegalArgumentException("state payload truncated in " + name);
                }
                ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(a);
                b.put(name, a);
            }
            int nd = count(in);
            for (int i = 0; i < nd; i++) {
                String name = in.readUTF();
                double[] a = new double[count(in)];
                byte[] raw = in.readNBytes(8 * a.length);
                if (raw.length != 8 * a.length) {
                    throw new IllegalArgumentException("state payload truncated in " + name);
                }
                ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(a);
                b.put(name, a);
            }
            int nc = count(in);
            for (int i = 0; i < nc; i++) {
                String name = in.readUTF();
                long[] a = new long[count(in)];
                for (int j = 0; j < a.length; j++) {
                    a[j] = in.readLong();
                }
                b.put(name, a);
            }
            return b.build();
        } catch (IOException e) {
            throw new IllegalArgumentException("malformed state payload: " + e, e);
        }
    }

    private static int count(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > (1 << 28)) {
            throw new IllegalArgumentException("malformed state payload: count " + n);
        }
        return n;
    }

    /** Splits bytes into chunks of at most {@link #MAX_CHUNK}. */
    public static List<byte[]> split(byte[] bytes) {
        List<byte[]> out = new ArrayList<>();
        for (int from = 0; from < bytes.length || out.isEmpty(); from += MAX_CHUNK) {
            out.add(Arrays.copyOfRange(bytes, from, Math.min(bytes.length, from + MAX_CHUNK)));
        }
        return out;
    }

    /** Collects the chunks of one transfer (index 0..count-1, any order). */
    public static final class Assembler {
        private final Map<Integer, byte[]> parts = new LinkedHashMap<>();
        private int count = -1;

        /** Adds a chunk; returns true when all have arrived. */
        public boolean add(int index, int total, byte[] data) {
            if (total < 1 || index < 0 || index >= total || (count >= 0 && count != total)) {
                throw new IllegalArgumentException("chunk " + index + " of " + total + " does not fit a transfer of " + count);
            }
            count = total;
            parts.put(index, data);
            return parts.size() == count;
        }

        /** Chunks received so far. */
        public int received() {
            return parts.size();
        }

        public boolean complete() {
            return count > 0 && parts.size() == count;
        }

        public byte[] bytes() {
            if (!complete()) {
                throw new IllegalStateException("transfer incomplete: " + parts.size() + " of " + count + " chunks");
            }
            int n = 0;
            for (byte[] p : parts.values()) {
                n += p.length;
            }
            byte[] out = new byte[n];
            int at = 0;
            for (int i = 0; i < count; i++) {
                byte[] p = parts.get(i);
                System.arraycopy(p, 0, out, at, p.length);
                at += p.length;
            }
            return out;
        }
    }
}
