package io.proxstream.monitoring.report;

import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.RuntimeJsonMappingException;
import com.fasterxml.jackson.databind.SequenceWriter;
import com.fasterxml.jackson.dataformat.csv.CsvGenerator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.Closeable;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A CSV file (RFC 4180, through Jackson's CSV module) written row by row and flushed after each row, so
 * that a run killed mid-way leaves every completed row readable; and the reader of such files. Numbers
 * are written with {@link Locale#ROOT} (doubles with 8 significant digits); a field is quoted only when
 * it holds a comma, a quote or a line break.
 */
public final class CsvTable implements Closeable {
    private static final CsvMapper CSV = CsvMapper.builder()
            .enable(CsvGenerator.Feature.STRICT_CHECK_FOR_QUOTING)
            .enable(CsvParser.Feature.WRAP_AS_ARRAY)
            .build();

    private final Writer file;
    private final SequenceWriter out;
    private final int columns;

    public CsvTable(Path file, List<String> header) throws IOException {
        this(file, header, false);
    }

    private CsvTable(Path file, List<String> header, boolean append) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        this.file = append ? Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND)
                : Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        this.columns = header.size();
        this.out = CSV.writer(CsvSchema.emptySchema().withLineSeparator(System.lineSeparator())).writeValues(this.file);
        if (!append) {
            write(header.toArray(String[]::new));
        }
    }

    /**
     * Continues a table: the complete rows of {@code file} (if it exists and has this header) are kept — rewritten
     * to a temporary file that atomically replaces it, so a torn last line is dropped and never glued to the next
     * row — and new rows are appended. Returns the kept rows with the open table.
     */
    public static Continued continueOrCreate(Path file, List<String> header) throws IOException {
        List<Map<String, String>> kept = new ArrayList<>();
        if (Files.isRegularFile(file)) {
            List<Map<String, String>> rows = read(file);
            if (!rows.isEmpty() && !rows.get(0).keySet().equals(new java.util.LinkedHashSet<>(header))) {
                throw new IOException(file + ": columns " + rows.get(0).keySet() + ", expected " + header + "; move it away to start afresh");
            }
            kept.addAll(rows);
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (CsvTable t = new CsvTable(tmp, header)) {
            for (Map<String, String> r : kept) {
                t.write(header.stream().map(h -> r.get(h) == null ? "" : r.get(h)).toArray(String[]::new));
            }
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new Continued(new CsvTable(file, header, true), List.copyOf(kept));
    }

    /** A continued table and the rows it already held. */
    public record Continued(CsvTable table, List<Map<String, String>> rows) {
    }

    /** Appends a row of numbers or strings. */
    public void row(Object... values) throws IOException {
        if (values.length != columns) {
            throw new IllegalArgumentException("row has " + values.length + " values, header has " + columns);
        }
        write(Arrays.stream(values).map(CsvTable::format).toArray(String[]::new));
    }

    private void write(String[] fields) throws IOException {
        out.write(fields);
        out.flush();
        file.flush();
    }

    static String format(Object v) {
        if (v instanceof Double d) {
            return Double.isNaN(d) ? "NaN" : String.format(Locale.ROOT, "%.8g", d);
        }
        if (v instanceof Float f) {
            return format((double) f);
        }
        return String.valueOf(v);
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    /**
     * The rows of a CSV file with a header line, each as column → field, in order. A last line cut short
     * (a run killed while writing it) or any line that does not parse ends the rows: what precedes it is
     * returned.
     */
    public static List<Map<String, String>> read(Path file) throws IOException {
        List<Map<String, String>> rows = new ArrayList<>();
        try (MappingIterator<String[]> it = CSV.readerFor(String[].class).readValues(file.toFile())) {
            if (!it.hasNextValue()) {
                return rows;
            }
            String[] header = it.nextValue();
            while (true) {
                String[] f;
                try {
                    if (!it.hasNextValue()) {
                        break;
                    }
                    f = it.nextValue();
                } catch (RuntimeJsonMappingException | IOException e) {
                    break;
                }
                if (f.length != header.length) {
                    break;
                }
                Map<String, String> row = new LinkedHashMap<>();
                for (int i = 0; i < header.length; i++) {
                    row.put(header[i], f[i]);
                }
                rows.add(row);
            }
        }
        return rows;
    }
}
