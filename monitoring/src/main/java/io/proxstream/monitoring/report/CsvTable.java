package io.proxstream.monitoring.report;

import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * A CSV file written row by row and flushed after each row, so that a run killed mid-way leaves
 * every completed row readable. Numbers are written with {@link Locale#ROOT}.
 */
public final class CsvTable implements Closeable {
    private final BufferedWriter out;
    private final int columns;

    public CsvTable(Path file, List<String> header) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        columns = header.size();
        out.write(String.join(",", header));
        out.newLine();
        out.flush();
    }

    /** Appends a row of numbers or strings (strings containing commas or quotes are quoted). */
    public void row(Object... values) throws IOException {
        if (values.length != columns) {
            throw new IllegalArgumentException("row has " + values.length + " values, header has " + columns);
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < values.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(format(values[i]));
        }
        out.write(sb.toString());
        out.newLine();
        out.flush();
    }

    static String format(Object v) {
        if (v instanceof Double d) {
            return Double.isNaN(d) ? "NaN" : String.format(Locale.ROOT, "%.8g", d);
        }
        if (v instanceof Float f) {
            return format((double) f);
        }
        String s = String.valueOf(v);
        if (s.contains(",") || s.contains("\"") || s.contains("\n")) {
            return "\"" + s.replace("\"", "\"\"") + "\"";
        }
        return s;
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
