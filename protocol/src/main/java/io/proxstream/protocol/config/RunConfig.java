package io.proxstream.protocol.config;

import java.util.Objects;

/**
 * A training run served by {@code proxstream serve}: one SAE trained continuously on the batches
 * pushed to it. Stored as {@code run.json} in the run's directory; a restarted server recreates
 * the run from it and resumes from the newest good checkpoint.
 *
 * @param name            run name: URL path segment, directory name and meter tag
 * @param inputDim        width d of the vectors the run accepts (batches of another width are rejected)
 * @param sae             the model
 * @param trainer         the algorithm
 * @param batchSize       minibatch rows
 * @param checkpointEvery training vectors between checkpoints
 * @param keepCheckpoints how many checkpoints to keep (older ones are deleted)
 * @param reportEvery     vectors per report window (meters, history, dashboard)
 * @param deadWindow      a latent is dead if silent for this many vectors
 * @param queueBytes      bytes of pushed batches that may wait for training; pushes beyond it wait or are
 *                        answered busy (the memory bound of the run's ingest)
 * @param seed            initialisation seed
 * @param initFrom        SAELens-layout directory (cfg.json + sae_weights.safetensors) to start from, or empty
 * @param maxAbs          largest |value| a pushed batch may hold; a batch with a larger one is refused whole (422,
 *                        {@code too_large_value}). Default {@value #DEFAULT_MAX_ABS}: real residual streams stay far
 *                        below (the "massive activations" of large language models reach a few thousand, Sun et al.
 *                        2024), while values near float32's range (3e38, 1e30) overflow the squared sums of
 *                        training; raise it for data on another scale.
 * @param health          latent-health monitoring: the held-out reservoir and its evaluation ({@link HealthConfig})
 */
public record RunConfig(String name, int inputDim, SaeConfig sae, TrainerConfig trainer, int batchSize,
                        long checkpointEvery, int keepCheckpoints, long reportEvery, long deadWindow, long queueBytes,
                        long seed, String initFrom, double maxAbs, HealthConfig health) {
    /** See {@code maxAbs}. */
    public static final double DEFAULT_MAX_ABS = 1e5;

    public RunConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(sae, "sae");
        Objects.requireNonNull(trainer, "trainer");
        if (!name.matches("[A-Za-z0-9_.-]{1,64}") || name.startsWith(".")) {
            throw new IllegalArgumentException("run name must be 1-64 characters of [A-Za-z0-9_.-], not starting with '.', got '"
                    + name + "'");
        }
        Checks.positive("inputDim", inputDim);
        Checks.positive("batchSize", batchSize);
        Checks.positive("checkpointEvery", checkpointEvery);
        Checks.positive("keepCheckpoints", keepCheckpoints);
        Checks.positive("reportEvery", reportEvery);
        Checks.positive("deadWindow", deadWindow);
        Checks.positive("queueBytes", queueBytes);
        initFrom = initFrom == null ? "" : initFrom;
        Checks.maxAbs(maxAbs);
        health = health == null ? HealthConfig.defaults() : health;
        if ((long) health.rows() * inputDim > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("health.rows " + health.rows() + " x inputDim " + inputDim
                    + " values exceed one Java array (2^31 - 9); lower health.rows");
        }
    }

    /** A run with the default latent-health settings ({@link HealthConfig#defaults()}). */
    public RunConfig(String name, int inputDim, SaeConfig sae, TrainerConfig trainer, int batchSize, long checkpointEvery,
                     int keepCheckpoints, long reportEvery, long deadWindow, long queueBytes, long seed, String initFrom,
                     double maxAbs) {
        this(name, inputDim, sae, trainer, batchSize, checkpointEvery, keepCheckpoints, reportEvery, deadWindow, queueBytes,
                seed, initFrom, maxAbs, HealthConfig.defaults());
    }

    /** The same run with other latent-health settings. */
    public RunConfig withHealth(HealthConfig h) {
        return new RunConfig(name, inputDim, sae, trainer, batchSize, checkpointEvery, keepCheckpoints, reportEvery, deadWindow,
                queueBytes, seed, initFrom, maxAbs, h);
    }

    /** A run of width {@code inputDim} with the defaults of {@code train}, checkpointing every 200k vectors. */
    public static RunConfig defaults(String name, int inputDim) {
        return new RunConfig(name, inputDim, SaeConfig.defaults(), TrainerConfig.defaults(), 256, 200_000, 3, 10_000,
                1_000_000, 64L << 20, 42, "", DEFAULT_MAX_ABS);
    }
}
