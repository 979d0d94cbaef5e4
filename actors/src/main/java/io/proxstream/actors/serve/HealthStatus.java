package io.proxstream.actors.serve;

import io.proxstream.solvers.sae.LatentHealth;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The newest latent-health evaluation of a served run on its held-out rows, as the status shows it
 * (see {@link LatentHealth} for the definitions).
 *
 * @param samples     training vectors the model had seen when it was evaluated
 * @param rows        held-out rows evaluated
 * @param density     latents per log10 firing-density bucket: "none" (fired on no held-out row), "-7" … "-1"
 * @param dense       latents firing on more than {@code denseFraction} of the rows
 * @param denseFraction the run's dense threshold
 * @param shrinkage   mean ‖x̂‖/‖x‖
 * @param maxCosine   largest cosine similarity between two decoder atoms
 * @param cosineAtoms atoms compared with all others (= latents when exact; fewer: a sample, so a lower bound)
 * @param fvu         held-out FVU
 * @param mse         held-out MSE per entry
 * @param l0          held-out L0
 * @param millis      time the evaluation took (training waited for it)
 */
public record HealthStatus(long samples, int rows, Map<String, Long> density, int dense, double denseFraction,
                           double shrinkage, double maxCosine, int cosineAtoms, double fvu, double mse, double l0, double millis) {

    static HealthStatus of(LatentHealth.Result r, long samples, double denseFraction, double millis) {
        Map<String, Long> density = new LinkedHashMap<>();
        String[] labels = LatentHealth.Result.labels();
        for (int i = 0; i < labels.length; i++) {
            density.put(labels[i], r.buckets()[i]);
        }
        return new HealthStatus(samples, r.rows(), density, r.dense(), denseFraction, r.shrinkage(), r.maxCosine(),
                r.cosineAtoms(), r.fvu(), r.mse(), r.l0(), millis);
    }
}
