package io.proxstream.actors.serve;

import io.proxstream.protocol.format.ElementType;
import io.proxstream.protocol.format.Safetensors;
import io.proxstream.solvers.sae.TrainerState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A run's checkpoints: {@code DIR/ckpt-<samples>.safetensors}, each holding a complete
 * {@link TrainerState} (parameters, optimiser moments, decoder statistics, counters, the
 * dead-latent tracker) as F32/F64/I64 tensors with a CRC-32C of the data in the header. Written
 * atomically and durably (temporary file, fsync, rename, fsync of the directory), streamed with 64-bit
 * sizes (a checkpoint may exceed 2 GiB). "Newest" means last written (file time), ties broken by the
 * sample count, so a run that was restarted from fewer samples does not lose its new checkpoints to
 * older ones with larger numbers; {@link #write} keeps the newest {@code keep} and never deletes the
 * file it just wrote. Loading takes the newest checkpoint that reads back whole and matches its
 * checksum, reporting the ones it skipped, after deleting the temporary files of interrupted writes.
 */
public final class CheckpointStore {
    public static final String FORMAT = "proxstream-checkpoint/1";
    private static final String PREFIX = "ckpt-";
    private static final String SUFFIX = ".safetensors";

    private final Path dir;
    private final int keep;

    public CheckpointStore(Path dir, int keep) {
        this.dir = dir;
        this.keep = keep;
    }

    /** A checkpoint read back. */
    public record Loaded(Path file, TrainerState state, Map<String, String> metadata) {
    }

    public Path directory() {
        return dir;
    }

    /** Writes a checkpoint for {@code samples} and deletes all but the newest {@code keep}. */
    public Path write(long samples, TrainerState state, Map<String, String> metadata) throws IOException {
        Files.createDirectories(dir);
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("samples", Long.toString(samples));
        Path file = dir.resolve(String.format("%s%015d%s", PREFIX, samples, SUFFIX));
        writeFile(file, state, meta);
        int kept = 1;
        for (Path p : list()) {
            if (!p.equals(file) && ++kept > keep) {
                Files.deleteIfExists(p);
            }
        }
        return file;
    }

    /** Writes one state as a checkpoint file (the format {@link #read} reads back, checksummed) at {@code file}. */
    public static void writeFile(Path file, TrainerState state, Map<String, String> metadata) throws IOException {
        Map<String, Safetensors.Array> arrays = new LinkedHashMap<>();
        state.floats().forEach((k, v) -> arrays.put("f:" + k, Safetensors.Array.of(v)));
        state.doubles().forEach((k, v) -> arrays.put("d:" + k, Safetensors.Array.of(v)));
        state.longs().forEach((k, v) -> arrays.put("l:" + k, Safetensors.Array.of(v)));
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("format", FORMAT);
        meta.put("algorithm", state.algorithm());
        Safetensors.writeArrays(file, arrays, meta);
    }

    /** Checkpoint files, newest first: by last-modified time, then by sample count. */
    public List<Path> list() throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        record Entry(Path path, long time, long samples) {
        }
        List<Entry> entries = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (n.startsWith(PREFIX) && n.endsWith(SUFFIX)) {
                    long samples;
                    try {
                        samples = Long.parseLong(n.substring(PREFIX.length(), n.length() - SUFFIX.length()));
                    } catch (NumberFormatException e) {
                        samples = -1;
                    }
                    try {
                        entries.add(new Entry(p, Files.getLastModifiedTime(p).toMillis(), samples));
                    } catch (java.nio.file.NoSuchFileException gone) {
                        // pruned meanwhile
                    }
                }
            }
        }
        entries.sort(Comparator.comparingLong(Entry::time).thenComparingLong(Entry::samples).reversed());
        return entries.stream().map(Entry::path).toList();
    }

    /** Deletes the temporary files that interrupted checkpoint writes left; returns how many. */
    public int removeStaleTemporaries() throws IOException {
        return io.proxstream.protocol.format.AtomicFiles.removeStale(dir);
    }

    /**
     * The newest checkpoint that reads back intact; {@code skipped} hears about each one that did not.
     * Temporary files of interrupted writes are deleted first.
     */
    public Optional<Loaded> loadLatest(Consumer<String> skipped) throws IOException {
        removeStaleTemporaries();
        for (Path p : list()) {
            try {
                return Optional.of(read(p));
            } catch (IOException | RuntimeException e) {
                skipped.accept(p.getFileName() + ": " + e.getMessage());
            }
        }
        return Optional.empty();
    }

    /** Reads one checkpoint file (checksum verified). */
    public static Loaded read(Path p) throws IOException {
        Safetensors.Contents c = Safetensors.readArrays(p);
        String format = c.metadata().get("format");
        if (format == null || !format.startsWith("proxstream-checkpoint/")) {
            throw new IOException(p + ": not a proxstream checkpoint (format " + format + "; this build reads " + FORMAT + ")");
        }
        if (!FORMAT.equals(format)) {
            throw new IOException(p + ": checkpoint format " + format + ", this build reads " + FORMAT
                    + " only (written by another version of proxstream)");
        }
        if (!c.metadata().containsKey(Safetensors.CHECKSUM_KEY)) {
            throw new IOException(p + ": checkpoint without checksum");
        }
        Map<String, float[]> f = new LinkedHashMap<>();
        Map<String, double[]> d = new LinkedHashMap<>();
        Map<String, long[]> l = new LinkedHashMap<>();
        for (Map.Entry<String, Safetensors.Array> e : c.arrays().entrySet()) {
            String k = e.getKey();
            Safetensors.Array a = e.getValue();
            if (k.startsWith("f:") && a.type() == ElementType.F32) {
                f.put(k.substring(2), (float[]) a.data());
            } else if (k.startsWith("d:") && a.type() == ElementType.F64) {
                d.put(k.substring(2), (double[]) a.data());
            } else if (k.startsWith("l:") && a.type() == ElementType.I64) {
                l.put(k.substring(2), (long[]) a.data());
            } else {
                throw new IOException(p + ": unexpected entry '" + k + "' of type " + a.type());
            }
        }
        return new Loaded(p, new TrainerState(c.metadata().get("algorithm"), f, d, l), c.metadata());
    }

    /** Merges the entries of several states of one trainer (e.g. trainer and metrics window). */
    public static TrainerState merge(TrainerState a, TrainerState b) {
        Map<String, float[]> f = new LinkedHashMap<>(a.floats());
        f.putAll(b.floats());
        Map<String, double[]> d = new LinkedHashMap<>(a.doubles());
        d.putAll(b.doubles());
        Map<String, long[]> l = new LinkedHashMap<>(a.longs());
        l.putAll(b.longs());
        return new TrainerState(a.algorithm(), f, d, l);
    }

    static List<String> names(List<Path> ps) {
        List<String> out = new ArrayList<>();
        ps.forEach(p -> out.add(p.getFileName().toString()));
        return out;
    }
}
