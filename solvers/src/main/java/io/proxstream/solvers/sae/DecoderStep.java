package io.proxstream.solvers.sae;

/**
 * The decoder block of PAM-SGD: what it keeps of the rows seen (statistics, stored codes) and how it
 * turns that into a new decoder. Two implementations:
 * <ul>
 *   <li>{@link DecoderStatistics}: the exact step, a Cholesky solve of the m × m normal equations
 *       (m² doubles of memory, O(m³) per solve), the reference;</li>
 *   <li>{@link IterativeDecoder}: the large-dictionary step, preconditioned conjugate gradients on the
 *       same equations with products formed from the stored sparse codes of a window of recent rows
 *       (O(m·d + window) memory, no m × m matrix).</li>
 * </ul>
 * Both forget with a factor γ per batch and write everything they need to continue bit-for-bit into a
 * {@link TrainerState}.
 */
public interface DecoderStep {

    /** {@code exact} or {@code cg}: the name the configuration and the checkpoints use. */
    String kind();

    int latents();

    int inputDim();

    /** The (forgetting-weighted) number of rows the step knows of. */
    double count();

    /** Multiplies the weight of every row seen so far by {@code gamma ∈ (0, 1]}. */
    void forget(double gamma);

    /** Adds a minibatch: its codes (not modified, may be kept) and its rows ({@code rows × d}, copied if kept). */
    void accumulate(SparseCodes codes, float[] xs, int rows);

    /** Forgets everything. */
    void clear();

    /**
     * Replaces the model's decoder by the step's solution of
     * {@code min_{W,b} Σ w_i‖z_i W + b − x_i‖² + ρ‖W‖² + μ_D‖W − W_prev‖²}.
     *
     * @throws ArithmeticException if the solution is not finite (the model is then unchanged)
     */
    DecoderStatistics.SolveReport solveInto(SaeModel model, double rho, double muDec, boolean holdUnfired);

    /** Adds the step's state to a checkpoint. */
    void saveTo(TrainerState.Builder b);

    /** Loads a state written by {@link #saveTo} of the same kind and shape; a missing or misshapen entry is an error. */
    void loadFrom(TrainerState s);
}
