package io.proxstream.protocol.config;

import java.util.Objects;

/**
 * Where training vectors come from.
 *
 * @param kind        {@code synthetic} (planted dictionary), {@code mnist}, {@code npy} or {@code safetensors}
 * @param path        file for {@code npy}/{@code safetensors}; data directory for {@code mnist} (empty = default)
 * @param tensor      tensor name inside a .safetensors file (empty = its only tensor)
 * @param dim         synthetic: input width d
 * @param features    synthetic: planted features n_gt
 * @param baseRate    synthetic: expected firings scale (p_i = decay^i · baseRate / features)
 * @param decay       synthetic: decay of the firing probabilities
 * @param noise       synthetic: Gaussian noise standard deviation
 * @param chunkRows   rows per element the source emits
 * @param epochs      file sources: passes over the file (0 = repeat until the budget ends)
 */
public record SourceConfig(String kind, String path, String tensor, int dim, int features, double baseRate,
                           double decay, double noise, int chunkRows, int epochs) {
    public SourceConfig {
        Objects.requireNonNull(kind, "source.kind");
        Checks.oneOf("source.kind", kind, "synthetic", "mnist", "npy", "safetensors");
        path = path == null ? "" : path;
        tensor = tensor == null ? "" : tensor;
        if ((kind.equals("npy") || kind.equals("safetensors")) && path.isBlank()) {
            throw new IllegalArgumentException("source.path is required for a " + kind + " source");
        }
        Checks.positive("source.dim", dim);
        Checks.positive("source.features", features);
        Checks.positive("source.baseRate", baseRate);
        Checks.unitInterval("source.decay", decay, true, false);
        Checks.nonNegative("source.noise", noise);
        Checks.positive("source.chunkRows", chunkRows);
        Checks.nonNegative("source.epochs", epochs);
    }

    /** The spec's synthetic benchmark: 512 planted features in 256 dimensions. */
    public static SourceConfig syntheticDefaults() {
        return new SourceConfig("synthetic", "", "", 256, 512, 5.0, 0.99, 0.0, 1024, 0);
    }
}
