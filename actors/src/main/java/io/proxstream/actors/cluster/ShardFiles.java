package io.proxstream.actors.cluster;

import io.proxstream.protocol.format.Npy;
import io.proxstream.protocol.format.RowReader;
import io.proxstream.protocol.format.Safetensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Training data in files every node can read (a shared mount): a directory's {@code .npy} and {@code .safetensors}
 * files in name order, or one file; each file is one shard, a 2-D float table of rows × the run's input width (a
 * {@code .safetensors} file holds exactly one tensor). The coordinator lists the shards and their rows when it starts;
 * workers read the rows they are assigned by position.
 */
public final class ShardFiles {
    private ShardFiles() {
    }

    /** One shard: its file and the rows it declares. */
    public record Shard(String file, long rows) {
    }

    /**
     * The shards under {@code data}: checks that there is at least one, that every file opens as a 2-D table of
     * {@code dim} columns and that its size matches its header. Errors name the file and the reason.
     */
    public static List<Shard> list(Path data, int dim) throws IOException {
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(data)) {
            try (Stream<Path> s = Files.list(data)) {
                s.filter(p -> Files.isRegularFile(p) && isData(p)).sorted().forEach(files::add);
            }
            if (files.isEmpty()) {
                throw new IOException("training data " + data + ": the directory holds no .npy or .safetensors file");
            }
        } else if (Files.isRegularFile(data) && isData(data)) {
            files.add(data);
        } else {
            throw new IOException("training data " + data + ": not a directory nor a .npy/.safetensors file");
        }
        List<Shard> out = new ArrayList<>();
        for (Path f : files) {
            try (RowReader r = open(f)) {
                if (r.cols() != dim) {
                    throw new IOException("training data " + f + ": rows of " + r.cols() + " values, the run's input width is " + dim);
                }
                out.add(new Shard(f.toString(), r.rows()));
            }
        }
        return out;
    }

    private static boolean isData(Path p) {
        String n = p.getFileName().toString();
        return n.endsWith(".npy") || n.endsWith(".safetensors");
    }

    /** Opens a shard for reading its rows. */
    public static RowReader open(Path file) throws IOException {
        return file.getFileName().toString().endsWith(".safetensors") ? Safetensors.openRows(file, null) : Npy.open(file);
    }

    /**
     * A 64-bit digest (FNV-1a) of a shard's file name, kept in checkpoints so that a run resumed over a changed listing
     * is refused instead of reading other files at the old offsets.
     */
    public static long nameDigest(String file) {
        long h = 0xcbf29ce484222325L;
        for (byte b : Path.of(file).getFileName().toString().getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }
}
