package io.proxstream.solvers.sae;

import java.util.Arrays;
import java.util.Locale;

/**
 * The sparsifier σ that turns pre-activations {@code a = x W_enc + b_enc} into a code.
 *
 * <ul>
 *   <li>{@link #TOPK}: keep the k largest pre-activations and apply ReLU to them (the convention of
 *       the large SAE libraries; Gao et al. 2024, "Scaling and evaluating sparse autoencoders").</li>
 *   <li>{@link #TOPK_ABS}: keep the k entries of largest |a|, signed (the convention of the SplInterp
 *       paper's code, Budd et al. 2025, arXiv 2505.11836).</li>
 *   <li>{@link #RELU}: ReLU on every latent, usually with an L1 penalty on the code.</li>
 * </ul>
 */
public enum Sparsifier {
    TOPK("topk"),
    TOPK_ABS("topk-abs"),
    RELU("relu");

    private final String id;

    Sparsifier(String id) {
        this.id = id;
    }

    /** The name used on the command line and in saved models. */
    public String id() {
        return id;
    }

    /** True for the sparsifiers that keep a fixed number k of latents per row. */
    public boolean isTopK() {
        return this != RELU;
    }

    /** Parses a name as written by {@link #id()}; the error lists the valid names. */
    public static Sparsifier fromId(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (Sparsifier s : values()) {
            if (s.id.equals(n)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown sparsifier '" + name + "'; valid: "
                + Arrays.stream(values()).map(Sparsifier::id).toList());
    }
}
