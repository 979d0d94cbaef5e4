package io.proxstream.protocol.config;

import java.util.Objects;

/**
 * The autoencoder's shape (its input width comes from the source).
 *
 * @param latents    m
 * @param sparsifier {@code topk}, {@code topk-abs} or {@code relu}
 * @param k          active latents per row (TopK)
 * @param l1         L1 penalty weight on codes
 * @param init       {@code unit} (atoms on the unit sphere, encoder = decoderᵀ) or {@code paper}
 */
public record SaeConfig(int latents, String sparsifier, int k, double l1, String init) {
    /** The values of {@code sae.sparsifier} (the command line offers and checks the same). */
    public static final java.util.List<String> SPARSIFIERS = java.util.List.of("topk", "topk-abs", "relu");
    /** The values of {@code sae.init}. */
    public static final java.util.List<String> INITS = java.util.List.of("unit", "paper");

    public SaeConfig {
        Objects.requireNonNull(sparsifier, "sae.sparsifier");
        Objects.requireNonNull(init, "sae.init");
        Checks.positive("sae.latents", latents);
        Checks.oneOf("sae.sparsifier", sparsifier, SPARSIFIERS.toArray(String[]::new));
        if (!sparsifier.equals("relu") && (k < 1 || k > latents)) {
            throw new IllegalArgumentException("sae.k must be in [1, latents=" + latents + "], got " + k);
        }
        Checks.nonNegative("sae.l1", l1);
        Checks.oneOf("sae.init", init, INITS.toArray(String[]::new));
    }

    public static SaeConfig defaults() {
        return new SaeConfig(1024, "topk", 8, 0.0, "unit");
    }
}
