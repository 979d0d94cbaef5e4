package io.proxstream.actors.experiments;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ValidationLedgerTest {

    /**
     * A search point's scores come back exactly (so a resumed run chooses what an uninterrupted one does), a torn last
     * row is dropped, and another key, value or budget list is another point.
     */
    @Test
    void scoresComeBackExactlyATornRowIsDroppedAndKeysSeparatePoints(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("validation-ledger.csv");
        double lambda = 734.4271982341;
        double[] psnr = {28.123456789012345, 28.2, Math.PI * 9};
        double[] ssim = {0.61, 0.6234567890123456, 0.7};
        int[] budgets = {10, 25, 50};
        try (ValidationLedger l = ValidationLedger.open(file)) {
            l.add("awcr-gd", "key A; critic crc32c 0000abcd", lambda, budgets, psnr, ssim);
            l.add("awcr-gd", "key A; critic crc32c 0000abcd", 2203.0, budgets, ssim, psnr);
        }
        Files.writeString(file, "awcr-gd,\"key A; crit", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        try (ValidationLedger l = ValidationLedger.open(file)) {
            assertEquals(2, l.size(), "the torn row is not a score");
            double[][] got = l.get("awcr-gd", "key A; critic crc32c 0000abcd", lambda, budgets);
            assertArrayEquals(psnr, got[0], 0.0);
            assertArrayEquals(ssim, got[1], 0.0);
            assertNull(l.get("awcr-gd", "key A; critic crc32c 0000abce", lambda, budgets), "another critic");
            assertNull(l.get("awcr-pd", "key A; critic crc32c 0000abcd", lambda, budgets), "another method");
            assertNull(l.get("awcr-gd", "key A; critic crc32c 0000abcd", Math.nextUp(lambda), budgets), "another value");
            assertNull(l.get("awcr-gd", "key A; critic crc32c 0000abcd", lambda, new int[] {10, 25}), "other budgets");
        }
    }
}
