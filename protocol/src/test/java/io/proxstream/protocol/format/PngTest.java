package io.proxstream.protocol.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PngTest {
    @TempDir
    Path tmp;

    @Test
    void greyAndRgbRoundTripToEightBits() throws IOException {
        int h = 5;
        int w = 7;
        float[] g = new float[h * w];
        float[] rgb = new float[3 * h * w];
        for (int i = 0; i < h * w; i++) {
            g[i] = i / (float) (h * w - 1);
            rgb[i] = g[i];
            rgb[h * w + i] = 1 - g[i];
            rgb[2 * h * w + i] = 0.5f;
        }
        Png.writeGrey(tmp.resolve("g.png"), g, h, w, 0, 1);
        Png.Image back = Png.readGrey(tmp.resolve("g.png"));
        assertEquals(h, back.h());
        assertEquals(w, back.w());
        for (int i = 0; i < h * w; i++) {
            assertEquals(g[i], back.data()[i], 0.5 / 255 + 1e-6);
        }
        Png.writeRgb(tmp.resolve("c.png"), rgb, h, w);
        Png.Image c = Png.readRgb(tmp.resolve("c.png"));
        for (int i = 0; i < 3 * h * w; i++) {
            assertEquals(rgb[i], c.data()[i], 0.5 / 255 + 1e-6);
        }
        // colour read as grey: luminance weights
        Png.Image cg = Png.readGrey(tmp.resolve("c.png"));
        assertEquals(0.2125 * c.data()[3] + 0.7154 * c.data()[h * w + 3] + 0.0721 * c.data()[2 * h * w + 3], cg.data()[3], 1e-6);
    }

    @Test
    void unreadableFilesAreRefusedByName() throws IOException {
        Files.writeString(tmp.resolve("x.png"), "not an image");
        IOException e = assertThrows(IOException.class, () -> Png.readGrey(tmp.resolve("x.png")));
        assertTrue(e.getMessage().contains("x.png"), e.getMessage());
        e = assertThrows(IOException.class, () -> Png.readGrey(tmp.resolve("missing.png")));
        assertTrue(e.getMessage().contains("no such image file"), e.getMessage());
    }
}
