package io.proxstream.protocol.config;

import java.util.Objects;

/**
 * Where training vectors come from.
 *
 * @param kind        {@code synthetic} (planted dictionary), {@code mnist}, {@code npy}, {@code safetensors}, or
 *                    {@code minilm} (the residual stream of all-MiniLM-L6-v2 run live over the fortunes corpus)
 * @param path        file for {@code npy}/{@code safetensors}; data directory for {@code mnist} (empty = default)
 * @param tensor      tensor name inside a .safetensors file (empty = its only tensor)
 * @param dim         synthetic: input width d
 * @param features    synthetic: planted features n_gt
 * @param baseRate    synthetic: expected firings scale (p_i = decay^i · baseRate / features)
 * @param decay       synthetic: decay of the firing probabilities
 * @param noise       synthetic: Gaussian noise standard deviation
 * @param chunkRows   rows per element the source emits
 * @param epochs      file sources: passes over the file (0 = repeat until the budget ends)
 * @param block       minilm: the block whose output (the residual stream after it) is streamed, 0–5
 * @param maxTokens   minilm: texts are cut to this many tokens
 */
public record SourceConfig(String kind, String path, String tensor, int dim, int features, double baseRate,
                           double decay, double noise, int chunkRows, int epochs, int block, int maxTokens) {
    public SourceConfig {
        Objects.requireNonNull(kind, "source.kind");
        Checks.oneOf("source.kind", kind, "synthetic", "mnist", "npy", "safetensors", "minilm");
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
        if (block < 0 || block > 5) {
            throw new IllegalArgumentException("source.block must be in [0, 5] (MiniLM has 6 blocks), got " + block);
        }
        if (maxTokens < 3 || maxTokens > 512) {
            throw new IllegalArgumentException("source.maxTokens must be in [3, 512], got " + maxTokens);
        }
    }

    /** The spec's synthetic benchmark: 512 planted features in 256 dimensions. */
    public static SourceConfig syntheticDefaults() {
        return new SourceConfig("synthetic", "", "", 256, 512, 5.0, 0.99, 0.0, 1024, 0, 3, 128);
    }
}
