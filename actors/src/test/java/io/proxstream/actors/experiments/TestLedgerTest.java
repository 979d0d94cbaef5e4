package io.proxstream.actors.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.actors.image.ImagePipeline;
import io.proxstream.actors.image.ImageTask;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TestLedgerTest {
    private static final ImageTask A = new ImageTask("ellipses-2001", new float[64], 8, 8, 0);
    private static final ImageTask B = new ImageTask("ellipses-2002", new float[64], 8, 8, 1);

    private static ImagePipeline.Result result(ImageTask t, double psnr, ImagePipeline.Checkpoint best) {
        return new ImagePipeline.Result(t, "awcr-pd", null, new int[0], null, 25, false, 1.5, psnr, 0.8, List.of(), List.of(), best);
    }

    /** A killed evaluation resumes: recorded images come back with their scores, a torn last row is dropped, keys keep runs apart. */
    @Test
    void scoresSurviveAReopenATornRowIsDroppedAndKeysSeparateRuns(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("test-ledger.csv");
        try (TestLedger l = TestLedger.open(file)) {
            l.add("λ = 734, 25 iterations; critic crc32c 0000abcd", result(A, 32.123456789, new ImagePipeline.Checkpoint(40, 33.5, 0.91)));
            l.add("λ = 734, 25 iterations; critic crc32c 0000abcd", result(B, 30.0, null));
            // what this run sees is what a resumed run will read (8 significant digits)
            assertEquals(32.123457, l.get("awcr-pd", "λ = 734, 25 iterations; critic crc32c 0000abcd", A).psnr(), 1e-12);
        }
        Files.writeString(file, "awcr-pd,\"λ = 734, 25 iter", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        try (TestLedger l = TestLedger.open(file)) {
            assertEquals(2, l.size(), "the torn row is not a score");
            ImagePipeline.Result a = l.get("awcr-pd", "λ = 734, 25 iterations; critic crc32c 0000abcd", A);
            assertEquals(32.123457, a.psnr(), 1e-12);
            assertEquals(25, a.iterations());
            assertEquals(new ImagePipeline.Checkpoint(40, 33.5, 0.91), a.best());
            assertNull(l.get("awcr-pd", "λ = 734, 25 iterations; critic crc32c 0000abcd", B).best());
            assertNull(l.get("awcr-pd", "λ = 734, 25 iterations; critic crc32c 9999ffff", A), "another critic: solved again");
            assertNull(l.get("awcr-gd", "λ = 734, 25 iterations; critic crc32c 0000abcd", A), "another method: solved again");
            l.add("λ = 1, 10 iterations", result(A, 20, null));
        }
        List<String> lines = Files.readAllLines(file);
        assertEquals(4, lines.size(), "header and three rows, no torn fragment glued to a row: " + lines);
        assertTrue(lines.get(0).startsWith("method,key,id,psnr"), lines.get(0));
        // a file with other columns is not silently overwritten
        Path other = dir.resolve("other.csv");
        Files.writeString(other, "a,b\n1,2\n");
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> TestLedger.open(other));
        assertTrue(e.getMessage().contains("other.csv") && e.getMessage().contains("move it away"), e.getMessage());
        assertEquals("a,b\n1,2\n", Files.readString(other));
    }
}
