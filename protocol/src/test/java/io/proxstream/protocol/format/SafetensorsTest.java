package io.proxstream.protocol.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path tmp;

    @Test
    void roundTripsTensorsAndMetadata() throws IOException {
        Map<String, Safetensors.Tensor> t = new LinkedHashMap<>();
        t.put("W_enc", new Safetensors.Tensor(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
        t.put("b_dec", new Safetensors.Tensor(new long[] {3}, new float[] {-1, 0.5f, 7}));
        Path p = tmp.resolve("m.safetensors");
        Safetensors.write(p, t, Map.of("k", "32"));
        Map<String, Safetensors.Tensor> back = Safetensors.readAll(p);
        assertEquals(t.keySet(), back.keySet());
        assertArrayEquals(t.get("W_enc").data(), back.get("W_enc").data());
        assertArrayEquals(new long[] {2, 3}, back.get("W_enc").shape());
        assertArrayEquals(t.get("b_dec").data(), back.get("b_dec").data());
        assertEquals(Map.of("k", "32"), Safetensors.readMetadata(p));
        // header length is a multiple of 8, as the reference implementation writes it
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0, b.getLong(0) % 8);
        try (RowReader r = Safetensors.openRows(p, "W_enc")) {
            float[] row = new float[3];
            assertEquals(1, r.read(row, 1));
            assertArrayEquals(new float[] {1, 2, 3}, row);
        }
    }

    /** A file built byte by byte following the published format, with F16 and BF16 tensors. */
    @Test
    void theSameContentGivesTheSameBytesWhateverTheMetadataMapOrder() throws IOException {
        Map<String, Safetensors.Tensor> t = new LinkedHashMap<>();
        t.put("w", new Safetensors.Tensor(new long[] {2}, new float[] {1, 2}));
        Map<String, String> forward = new LinkedHashMap<>();
        Map<String, String> backward = new LinkedHashMap<>();
        for (int i = 0; i < 12; i++) {
            forward.put("key" + i, "v" + i);
            backward.put("key" + (11 - i), "v" + (11 - i));
        }
        Path a = tmp.resolve("a.safetensors");
        Path b = tmp.resolve("b.safetensors");
        Safetensors.write(a, t, forward);
        Safetensors.write(b, t, backward);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        assertEquals(forward, Safetensors.readMetadata(a));
    }

    @Test
    void readsHalfPrecisionTensors() throws IOException {
        String json = "{\"h\":{\"dtype\":\"F16\",\"shape\":[1,3],\"data_offsets\":[0,6]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[6,10]}}";
        ByteBuffer buf = ByteBuffer.allocate(8 + json.length() + 10).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(json.length()).put(json.getBytes(StandardCharsets.UTF_8));
        buf.putShort((short) 0x3c00).putShort((short) 0xc000).putShort((short) 0x3555); // 1, -2, 0.333252
        buf.putShort((short) 0x3f80).putShort((short) 0xc0a0); // 1, -5
        Path p = tmp.resolve("half.safetensors");
        Files.write(p, buf.array());
        Map<String, Safetensors.Tensor> t = Safetensors.readAll(p);
        assertArrayEquals(new float[] {1f, -2f, 0.33325195f}, t.get("h").data(), 0f);
        assertArrayEquals(new float[] {1f, -5f}, t.get("b").data(), 0f);
    }

    @Test
    void rejectsBrokenFilesWithTheReason() throws IOException {
        Map<String, Safetensors.Tensor> t = Map.of("x", new Safetensors.Tensor(new long[] {4, 2}, new float[8]));
        Path good = tmp.resolve("good.safetensors");
        Safetensors.write(good, t, Map.of());
        byte[] bytes = Files.readAllBytes(good);
        Path cut = tmp.resolve("cut.safetensors");
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length - 4));
        assertMessage(cut, "truncated");
        Path tiny = tmp.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2});
        assertMessage(tiny, "truncated");
        Path huge = tmp.resolve("huge.safetensors");
        Files.write(huge, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        assertMessage(huge, "out of range");
        String badJson = "{\"x\": [1,";
        Path bad = tmp.resolve("bad.safetensors");
        Files.write(bad, ByteBuffer.allocate(8 + badJson.length()).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(badJson.length()).put(badJson.getBytes(StandardCharsets.UTF_8)).array());
        assertMessage(bad, "not valid JSON");
        String wrongOffsets = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}";
        Path wo = tmp.resolve("wo.safetensors");
        Files.write(wo, ByteBuffer.allocate(8 + wrongOffsets.length() + 16).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(wrongOffsets.length()).put(wrongOffsets.getBytes(StandardCharsets.UTF_8)).array());
        assertMessage(wo, "inconsistent");
        String ints = "{\"x\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        Path ip = tmp.resolve("ints.safetensors");
        Files.write(ip, ByteBuffer.allocate(8 + ints.length() + 4).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(ints.length()).put(ints.getBytes(StandardCharsets.UTF_8)).array());
        assertMessage(ip, "dtype I32");
        IOException e = assertThrows(IOException.class, () -> Safetensors.openRows(good, "nope").close());
        assertTrue(e.getMessage().contains("no tensor 'nope'"), e.getMessage());
    }

    private static void assertMessage(Path p, String fragment) {
        IOException e = assertThrows(IOException.class, () -> Safetensors.readAll(p));
        assertTrue(e.getMessage().contains(fragment) && e.getMessage().contains(p.getFileName().toString()),
                "message '" + e.getMessage() + "' should name the file and say '" + fragment + "'");
    }

    @Test
    void exactTypedArraysRoundTripAndCorruptionIsDetected() throws IOException {
        Map<String, Safetensors.Array> a = new LinkedHashMap<>();
        a.put("f", new Safetensors.Array(ElementType.F32, new long[] {2, 2}, new float[] {1, -2, 3.5f, Float.MIN_VALUE}));
        a.put("d", Safetensors.Array.of(new double[] {Math.PI, -1e-300, 1e300}));
        a.put("l", Safetensors.Array.of(new long[] {Long.MAX_VALUE, -7}));
        Path p = tmp.resolve("ckpt.safetensors");
        Safetensors.writeArrays(p, a, Map.of("algorithm", "pam"));
        Safetensors.Contents back = Safetensors.readArrays(p);
        assertArrayEquals((float[]) a.get("f").data(), (float[]) back.arrays().get("f").data(), 0f);
        assertArrayEquals(new long[] {2, 2}, back.arrays().get("f").shape());
        assertArrayEquals((double[]) a.get("d").data(), (double[]) back.arrays().get("d").data(), 0.0);
        assertArrayEquals((long[]) a.get("l").data(), (long[]) back.arrays().get("l").data());
        assertEquals("pam", back.metadata().get("algorithm"));
        assertTrue(back.metadata().containsKey(Safetensors.CHECKSUM_KEY));

        byte[] bytes = Files.readAllBytes(p);
        byte[] flipped = bytes.clone();
        flipped[flipped.length - 3] ^= 0x10;
        Path bad = tmp.resolve("flipped.safetensors");
        Files.write(bad, flipped);
        IOException e = assertThrows(IOException.class, () -> Safetensors.readArrays(bad));
        assertTrue(e.getMessage().contains("checksum mismatch") && e.getMessage().contains("flipped.safetensors"), e.getMessage());
        Path cut = tmp.resolve("cut.safetensors");
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length - 9));
        e = assertThrows(IOException.class, () -> Safetensors.readArrays(cut));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    /**
     * A tensor over 2 GiB (2^28 + 1000 doubles) written from a generator and read back through the
     * streamed visitor: no buffer of its size anywhere (the test JVM's heap is 2 GiB), offsets past
     * 2^31, the checksum verified. Mostly zeros, so the file is sparse where the file system allows.
     */
    @Test
    void aTensorOverTwoGibibytesRoundTripsThroughAStreamedGenerator() throws IOException {
        long n = (1L << 28) + 1000;
        Safetensors.Elements gen = i -> i % (1 << 24) == 7 || i == n - 1 ? i + 0.5 : 0.0; // 18 non-zeros: a sparse file
        Path p = tmp.resolve("big.safetensors");
        Map<String, Safetensors.Streamed> t = new LinkedHashMap<>();
        t.put("small", Safetensors.Streamed.ofLongs(new long[] {3}, i -> -i));
        t.put("zz", Safetensors.Streamed.ofDoubles(ElementType.F64, new long[] {n}, gen));
        Safetensors.writeStreamed(p, t, Map.of("k", "v"));
        assertTrue(Files.size(p) > 8L * n, "file holds the data: " + Files.size(p));
        long[] seen = new long[2];
        long[] wrong = new long[1];
        Safetensors.Header h = Safetensors.readStreamed(p, new Safetensors.Visitor() {
            @Override
            public void value(Safetensors.Info info, long i, double v) {
                seen[1]++;
                if (v != gen.get(i)) {
                    wrong[0]++;
                }
            }

            @Override
            public void value(Safetensors.Info info, long i, long v) {
                seen[0]++;
                if (v != -i) {
                    wrong[0]++;
                }
            }
        });
        assertEquals(3, seen[0]);
        assertEquals(n, seen[1]);
        assertEquals(0, wrong[0]);
        assertEquals(24 + 8 * n, h.tensors().get("zz").end(), "offsets past 2^31");
        assertEquals("v", h.metadata().get("k"));
        Files.delete(p);
    }
}
