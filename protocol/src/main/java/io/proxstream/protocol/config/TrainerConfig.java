package io.proxstream.protocol.config;

import java.util.Objects;

/**
 * How the SAE is trained.
 *
 * @param algo        {@code pam} (PAM-SGD), {@code adam-tied} (faithful baseline), {@code adam} (untied),
 *                    {@code adam-strong} (untied, unit-norm atoms, median b_dec, AuxK), or
 *                    {@code discard} (counts and drops: for measuring ingest)
 * @param lr          Adam step size
 * @param beta1       Adam β₁
 * @param beta2       Adam β₂
 * @param eps         Adam ε
 * @param weightDecay L2 weight decay
 * @param sgdRepeats  PAM: encoder Adam steps per batch
 * @param muEnc       PAM: μ_E of the encoder weight anchor
 * @param nuEnc       PAM: ν_E of the encoder bias anchor
 * @param clipNorm    PAM: gradient-norm clip (0 = off)
 * @param rho         PAM: ridge ρ of the decoder solve
 * @param muDec       PAM: proximal μ_D of the decoder solve
 * @param order       PAM: {@code decoder-first} or {@code encoder-first}
 * @param solveEvery  PAM: batches between decoder solves
 * @param forgetting  PAM: γ of the decoder statistics per batch
 * @param holdUnfired PAM: latents absent from the statistics keep their atom
 * @param decoder     PAM: the decoder step (exact Cholesky, or conjugate gradients without an m × m matrix)
 */
public record TrainerConfig(String algo, double lr, double beta1, double beta2, double eps, double weightDecay,
                            int sgdRepeats, double muEnc, double nuEnc, double clipNorm, double rho, double muDec,
                            String order, int solveEvery, double forgetting, boolean holdUnfired, DecoderConfig decoder) {
    /** The values of {@code trainer.algo} (the command line offers and checks the same). */
    public static final java.util.List<String> ALGORITHMS = java.util.List.of("pam", "adam-tied", "adam", "adam-strong", "discard");
    /** The values of {@code trainer.order}. */
    public static final java.util.List<String> ORDERS = java.util.List.of("decoder-first", "encoder-first");

    public TrainerConfig {
        Objects.requireNonNull(algo, "trainer.algo");
        Objects.requireNonNull(order, "trainer.order");
        Checks.oneOf("trainer.algo", algo, ALGORITHMS.toArray(String[]::new));
        Checks.nonNegative("trainer.lr", lr);
        Checks.unitInterval("trainer.beta1", beta1, false, true);
        Checks.unitInterval("trainer.beta2", beta2, false, true);
        Checks.positive("trainer.eps", eps);
        Checks.nonNegative("trainer.weightDecay", weightDecay);
        Checks.positive("trainer.sgdRepeats", sgdRepeats);
        Checks.nonNegative("trainer.muEnc", muEnc);
        Checks.nonNegative("trainer.nuEnc", nuEnc);
        Checks.nonNegative("trainer.clipNorm", clipNorm);
        Checks.nonNegative("trainer.rho", rho);
        Checks.nonNegative("trainer.muDec", muDec);
        Checks.oneOf("trainer.order", order, ORDERS.toArray(String[]::new));
        Checks.positive("trainer.solveEvery", solveEvery);
        Checks.unitInterval("trainer.forgetting", forgetting, true, false);
        Objects.requireNonNull(decoder, "trainer.decoder");
    }

    /** The settings with the default decoder step ({@link DecoderConfig#defaults()}). */
    public TrainerConfig(String algo, double lr, double beta1, double beta2, double eps, double weightDecay, int sgdRepeats,
                         double muEnc, double nuEnc, double clipNorm, double rho, double muDec, String order, int solveEvery,
                         double forgetting, boolean holdUnfired) {
        this(algo, lr, beta1, beta2, eps, weightDecay, sgdRepeats, muEnc, nuEnc, clipNorm, rho, muDec, order, solveEvery,
                forgetting, holdUnfired, DecoderConfig.defaults());
    }

    /** The same settings with another algorithm. */
    public TrainerConfig withAlgo(String other) {
        return new TrainerConfig(other, lr, beta1, beta2, eps, weightDecay, sgdRepeats, muEnc, nuEnc, clipNorm, rho, muDec, order,
                solveEvery, forgetting, holdUnfired, decoder);
    }

    /** The same settings with another decoder step. */
    public TrainerConfig withDecoder(DecoderConfig other) {
        return new TrainerConfig(algo, lr, beta1, beta2, eps, weightDecay, sgdRepeats, muEnc, nuEnc, clipNorm, rho, muDec, order,
                solveEvery, forgetting, holdUnfired, other);
    }

    public static TrainerConfig defaults() {
        return new TrainerConfig("pam", 1e-3, 0.9, 0.999, 1e-8, 0.0, 1, 0.0, 0.0, 0.0, 1e-6, 0.0,
                "decoder-first", 16, 0.995, true);
    }
}
