package io.proxstream.protocol.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Fixtures under resources/npy were written by NumPy 2.4 ({@code np.save}). */
class NpyTest {
    @TempDir
    Path tmp;

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(NpyTest.class.getResource("/npy/" + name).toURI());
    }

    private static float[] expected() {
        float[] e = new float[12];
        for (int i = 0; i < 12; i++) {
            e[i] = i / 8f - 0.5f;
        }
        return e;
    }

    @Test
    void readsNumpyFilesOfEveryFloatTypeAndByteOrder() throws Exception {
        for (String f : new String[] {"f4_3x4.npy", "f8be_3x4.npy", "f2_3x4.npy", "f4_v2.npy"}) {
            try (RowReader r = Npy.open(fixture(f))) {
                assertEquals(3, r.rows(), f);
                assertEquals(4, r.cols(), f);
            }
            assertArrayEquals(expected(), Npy.readAll(fixture(f)), 0f, f);
        }
    }

    @Test
    void streamsInChunks() throws Exception {
        try (RowReader r = Npy.open(fixture("f4_3x4.npy"))) {
            float[] buf = new float[8];
            assertEquals(2, r.read(buf, 2));
            assertEquals(4 / 8f - 0.5f, buf[4], 0f);
            assertEquals(7 / 8f - 0.5f, buf[7], 0f);
            assertEquals(1, r.read(buf, 2));
            assertEquals(8 / 8f - 0.5f, buf[0], 0f);
            assertEquals(0, r.read(buf, 2));
        }
    }

    @Test
    void writerProducesExactlyWhatNumpyWrites() throws Exception {
        Path out = tmp.resolve("ours.npy");
        Npy.write(out, expected(), 3, 4);
        assertArrayEquals(Files.readAllBytes(fixture("f4_3x4.npy")), Files.readAllBytes(out));
    }

    @Test
    void rejectsWhatItCannotReadWithTheReason() throws Exception {
        assertMessage(fixture("i4_3x4.npy"), "not a float type");
        assertMessage(fixture("f4_1d.npy"), "expected 2-D");
        assertMessage(fixture("f4_fortran.npy"), "Fortran");
        byte[] good = Files.readAllBytes(fixture("f4_3x4.npy"));
        Path truncated = tmp.resolve("truncated.npy");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length - 5));
        assertMessage(truncated, "truncated");
        Path garbage = tmp.resolve("garbage.npy");
        Files.writeString(garbage, "hello, this is not numpy at all");
        assertMessage(garbage, "bad magic");
        Path empty = tmp.resolve("empty.npy");
        Files.write(empty, new byte[3]);
        assertMessage(empty, "truncated");
    }

    private static void assertMessage(Path p, String fragment) {
        IOException e = assertThrows(IOException.class, () -> Npy.open(p).close());
        assertTrue(e.getMessage().contains(fragment) && e.getMessage().contains(p.getFileName().toString()),
                "message '" + e.getMessage() + "' should name the file and say '" + fragment + "'");
    }

    @Test
    void streamingWriterRefusesAWrongRowCount() {
        Path out = tmp.resolve("short.npy");
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(out, o -> {
            try (Npy.Writer w = new Npy.Writer(o, 2)) {
                w.declareRows(3);
                w.writeRows(new float[] {1, 2}, 1);
            }
        }));
        assertTrue(!Files.exists(out), "a failed write leaves no file behind");
    }
}
