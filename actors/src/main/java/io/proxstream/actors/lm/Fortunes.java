package io.proxstream.actors.lm;

import io.proxstream.actors.train.DataPaths;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The text corpus for real activations: the fortune cookies of Debian's {@code fortunes} and
 * {@code fortunes-min} packages (BSD licence), fetched into {@code data/fortunes} by
 * {@code ./proxstream setup}. Each file holds texts separated by lines of a single {@code %}.
 */
public final class Fortunes {
    private Fortunes() {
    }

    /** The fortunes directory, or an error naming the command that fetches it. */
    public static Path directory() {
        Path dir = DataPaths.dataDir().resolve("fortunes");
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("the fortunes text corpus is missing in " + dir + "; run ./proxstream setup");
        }
        return dir;
    }

    /** All texts of all files in {@code dir} (name order), whitespace collapsed, empty ones dropped. */
    public static List<String> load(Path dir) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().contains(".")).sorted().toList();
        }
        if (files.isEmpty()) {
            throw new IOException("no fortune files in " + dir + "; run ./proxstream setup");
        }
        List<String> out = new ArrayList<>();
        for (Path f : files) {
            String all = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
            out.addAll(split(all));
        }
        return out;
    }

    /** Splits a fortune file into its texts. */
    static List<String> split(String file) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (String line : file.split("\n", -1)) {
            if (line.equals("%")) {
                add(out, cur);
                cur.setLength(0);
            } else {
                cur.append(line).append(' ');
            }
        }
        add(out, cur);
        return out;
    }

    private static void add(List<String> out, StringBuilder cur) {
        String t = cur.toString().replaceAll("\\s+", " ").strip();
        if (!t.isEmpty()) {
            out.add(t);
        }
    }
}
