package io.proxstream.solvers.sae;

import java.util.Objects;

/**
 * Shape and sparsifier of a sparse autoencoder.
 *
 * @param inputDim   d, width of the input vectors
 * @param latents    m, number of latents (dictionary size)
 * @param sparsifier σ
 * @param k          active latents per row for the TopK sparsifiers (ignored by {@code relu})
 * @param l1         weight λ of the penalty λ·mean_rows(‖z‖₁) added to the loss (0 = none)
 * @param tied       whether the decoder is the encoder's transpose ({@code W_dec = W_encᵀ})
 */
public record SaeSpec(int inputDim, int latents, Sparsifier sparsifier, int k, double l1, boolean tied) {
    public SaeSpec {
        Objects.requireNonNull(sparsifier, "sparsifier");
        if (inputDim <= 0) {
            throw new IllegalArgumentException("inputDim must be positive, got " + inputDim);
        }
        if (latents <= 0) {
            throw new IllegalArgumentException("latents must be positive, got " + latents);
        }
        if (sparsifier.isTopK() && (k < 1 || k > latents)) {
            throw new IllegalArgumentException("k must be in [1, latents=" + latents + "] for "
                    + sparsifier.id() + ", got " + k);
        }
        if (!(l1 >= 0) || Double.isInfinite(l1)) {
            throw new IllegalArgumentException("l1 must be finite and >= 0, got " + l1);
        }
    }

    /** A TopK SAE with the untied decoder and no L1 term. */
    public static SaeSpec topK(int inputDim, int latents, int k) {
        return new SaeSpec(inputDim, latents, Sparsifier.TOPK, k, 0.0, false);
    }

    /** Same spec with another tying. */
    public SaeSpec withTied(boolean t) {
        return new SaeSpec(inputDim, latents, sparsifier, k, l1, t);
    }
}
