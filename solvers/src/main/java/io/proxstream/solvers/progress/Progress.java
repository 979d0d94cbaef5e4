package io.proxstream.solvers.progress;

import java.util.Map;
import java.util.Objects;

/**
 * An immutable progress record pushed by a solver to its listener.
 *
 * @param iteration iteration or step counter of the solver (batches for trainers)
 * @param objective the main objective value (loss, energy) at this iteration
 * @param scalars   further named values (residuals, FVU, L0, ...); iteration order is preserved
 */
public record Progress(long iteration, double objective, Map<String, Double> scalars) {
    public Progress {
        Objects.requireNonNull(scalars, "scalars");
        scalars = Map.copyOf(scalars);
    }
}
