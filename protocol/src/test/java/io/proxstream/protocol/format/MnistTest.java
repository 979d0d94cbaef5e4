package io.proxstream.protocol.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MnistTest {
    @TempDir
    Path tmp;

    @Test
    void readsTheNpmJsonLayout() throws IOException {
        for (int c = 0; c < 10; c++) {
            StringBuilder sb = new StringBuilder("{ \"data\": [");
            int images = c == 3 ? 2 : 1;
            for (int i = 0; i < images * 784; i++) {
                sb.append(i == 0 ? "" : ",").append(i == 5 ? (c + 1) / 10.0 : 0);
            }
            Files.writeString(tmp.resolve(c + ".json"), sb.append("] }").toString());
        }
        Mnist.Images im = Mnist.readJsonDigits(tmp);
        assertEquals(11, im.rows());
        assertEquals(784, im.cols());
        assertEquals(3, im.labels()[3]);
        assertEquals(3, im.labels()[4]);
        assertEquals(9, im.labels()[10]);
        assertEquals(0.4f, im.pixels()[3 * 784 + 5], 1e-7f);
        Files.writeString(tmp.resolve("7.json"), "{ \"data\": [1, 2, 3] }");
        IOException e = assertThrows(IOException.class, () -> Mnist.readJsonDigits(tmp));
        assertTrue(e.getMessage().contains("7.json") && e.getMessage().contains("784"), e.getMessage());
        Files.delete(tmp.resolve("7.json"));
        e = assertThrows(IOException.class, () -> Mnist.readJsonDigits(tmp));
        assertTrue(e.getMessage().contains("./proxstream setup"), e.getMessage());
    }

    @Test
    void readsGzippedIdx() throws IOException {
        Path img = tmp.resolve("t-images-idx3-ubyte.gz");
        Path lab = tmp.resolve("t-labels-idx1-ubyte");
        try (DataOutputStream o = new DataOutputStream(new GZIPOutputStream(Files.newOutputStream(img)))) {
            o.writeInt(0x803);
            o.writeInt(2);
            o.writeInt(2);
            o.writeInt(2);
            o.write(new byte[] {0, (byte) 255, 51, 0, 1, 2, 3, 4});
        }
        try (DataOutputStream o = new DataOutputStream(Files.newOutputStream(lab))) {
            o.writeInt(0x801);
            o.writeInt(2);
            o.write(new byte[] {7, 1});
        }
        Mnist.Images im = Mnist.readIdx(img, lab);
        assertEquals(2, im.rows());
        assertEquals(4, im.cols());
        assertArrayEquals(new int[] {7, 1}, im.labels());
        assertEquals(1f, im.pixels()[1], 0f);
        assertEquals(0.2f, im.pixels()[2], 1e-7f);
        IOException e = assertThrows(IOException.class, () -> Mnist.readIdx(lab, lab));
        assertTrue(e.getMessage().contains("magic"), e.getMessage());
    }
}
