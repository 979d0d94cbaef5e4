package io.proxstream.protocol.config;

import java.util.List;

/**
 * The PAM-SGD decoder step (spec/sae.md, Large dictionaries).
 *
 * @param step       {@code exact}: Cholesky of the m × m statistics (m² doubles; at most 46 340 latents);
 *                   {@code cg}: conjugate gradients on products from the stored codes of a window of rows, no m × m
 *                   matrix; {@code auto}: exact while m ≤ 8 192, cg above
 * @param window     cg: rows whose codes and values are kept exactly (older rows live on in a per-latent model)
 * @param iterations cg: most products per update (the first update, from the initial decoder, may take 4×)
 * @param tolerance  cg: an update stops once its residual is this fraction of its starting residual
 */
public record DecoderConfig(String step, int window, int iterations, double tolerance) {
    /** The values of {@code trainer.decoder.step}. */
    public static final List<String> STEPS = List.of("auto", "exact", "cg");

    public DecoderConfig {
        Checks.oneOf("trainer.decoder.step", step, STEPS.toArray(String[]::new));
        if (window < 0) {
            throw new IllegalArgumentException("trainer.decoder.window must be >= 0 rows, got " + window);
        }
        Checks.positive("trainer.decoder.iterations", iterations);
        Checks.unitInterval("trainer.decoder.tolerance", tolerance, false, true);
    }

    public static DecoderConfig defaults() {
        return new DecoderConfig("auto", 65_536, 8, 1e-3);
    }
}
