package io.proxstream.protocol.config;

/**
 * Latent-health monitoring of a served run: a bounded reservoir of ingested rows kept out of
 * training, on which the model is evaluated on a schedule (firing-density distribution, dense
 * latents, shrinkage, decoder cosine, held-out FVU).
 *
 * @param holdout       fraction of valid rows held out of training: every round(1/holdout)-th row goes to the
 *                      reservoir instead of the trainer; 0 turns latent health off. Rows held out are counted in the
 *                      run's status ({@code heldOutRows}): ingested = trained + held out + rejected + queued
 * @param rows          reservoir capacity; once full, each new held-out row replaces a random one, so the set follows
 *                      a drifting stream (a row survives R further arrivals with probability about 1/e)
 * @param everySeconds  seconds between evaluations (each encodes the reservoir once: 2·rows·d·m flops, on the training
 *                      thread between steps, so it costs training that time)
 * @param denseFraction a latent firing on more than this fraction of the held-out rows counts as dense
 * @param cosineFlops   flop budget of the decoder-cosine scan: all pairs if 2·m²·d fits, else a random sample of atoms
 *                      against all
 */
public record HealthConfig(double holdout, int rows, double everySeconds, double denseFraction, double cosineFlops) {
    public HealthConfig {
        Checks.unitInterval("health.holdout", holdout, false, true);
        if (holdout > 0.5) {
            throw new IllegalArgumentException("health.holdout must be at most 0.5 (it is taken from training), got " + holdout);
        }
        Checks.positive("health.rows", rows);
        Checks.positive("health.everySeconds", everySeconds);
        Checks.unitInterval("health.denseFraction", denseFraction, true, true);
        Checks.positive("health.cosineFlops", cosineFlops);
    }

    /** 1 row in 256 held out, up to 4 096 rows, evaluated every two minutes; dense above 10 %. */
    public static HealthConfig defaults() {
        return new HealthConfig(1.0 / 256, 4096, 120, 0.1, 1e11);
    }

    /** Latent health off: nothing is held out. */
    public static HealthConfig off() {
        return new HealthConfig(0, 4096, 120, 0.1, 1e11);
    }

    /** Whether rows are held out and evaluated. */
    public boolean enabled() {
        return holdout > 0;
    }

    /** Every how many valid rows one is held out (0 when off). */
    public long stride() {
        return holdout > 0 ? Math.max(2, Math.round(1 / holdout)) : 0;
    }
}
