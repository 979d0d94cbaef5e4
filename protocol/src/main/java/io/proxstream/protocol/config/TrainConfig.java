package io.proxstream.protocol.config;

import java.util.Objects;

/**
 * Everything a training run needs; echoed as {@code config.json} into its run directory, from which
 * the run can be re-created ({@code --config DIR/config.json}).
 *
 * @param run         run name (meter tag)
 * @param source      the data
 * @param sae         the model
 * @param trainer     the algorithm
 * @param batchSize   minibatch rows
 * @param maxSamples  stop after this many training vectors (0 = no limit)
 * @param maxSeconds  stop after this much wall time (0 = no limit)
 * @param reportEvery training vectors between metric reports (CSV row, meters, progress line)
 * @param deadWindow  a latent is dead if it did not fire in this many samples
 * @param evalRows    held-out rows evaluated at the end (synthetic and file sources)
 * @param seed        seed of initialisation and synthetic data
 * @param host        interface the HTTP server binds
 * @param port        HTTP port of /metrics and /health (0 = any free port, printed; -1 = no server)
 * @param out         run directory (empty = runs/train-TIMESTAMP)
 * @param maxAbs      largest |value| a row may hold; a row with a larger one is dropped by validation and counted as
 *                    {@code too_large_value} (default {@link RunConfig#DEFAULT_MAX_ABS}, as for served runs)
 */
public record TrainConfig(String run, SourceConfig source, SaeConfig sae, TrainerConfig trainer, int batchSize,
                          long maxSamples, double maxSeconds, long reportEvery, long deadWindow, int evalRows,
                          long seed, String host, int port, String out, double maxAbs) {
    public TrainConfig {
        Objects.requireNonNull(run, "run");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(sae, "sae");
        Objects.requireNonNull(trainer, "trainer");
        if (!run.matches("[A-Za-z0-9_.-]{1,64}")) {
            throw new IllegalArgumentException("run must be 1-64 characters of [A-Za-z0-9_.-], got '" + run + "'");
        }
        Checks.positive("batchSize", batchSize);
        Checks.nonNegative("maxSamples", maxSamples);
        Checks.nonNegative("maxSeconds", maxSeconds);
        Checks.nonNegative("reportEvery", reportEvery);
        Checks.positive("deadWindow", deadWindow);
        Checks.nonNegative("evalRows", evalRows);
        if (port < -1 || port > 65535) {
            throw new IllegalArgumentException("port must be -1 (off), 0 (any) or 1-65535, got " + port);
        }
        Objects.requireNonNull(host, "host");
        out = out == null ? "" : out;
        Checks.maxAbs(maxAbs);
    }

    /**
     * The report interval in vectors: {@code reportEvery} if set, else about 20 reports over
     * {@code maxSamples} (at least one minibatch, at most 10 000 vectors), else 10 000.
     */
    public long effectiveReportEvery() {
        if (reportEvery > 0) {
            return reportEvery;
        }
        if (maxSamples > 0) {
            return Math.max(batchSize, Math.min(10_000, maxSamples / 20));
        }
        return 10_000;
    }

    /** The main job: a TopK SAE trained by PAM-SGD on the planted-dictionary stream for about a minute. */
    public static TrainConfig defaults() {
        return new TrainConfig("train", SourceConfig.syntheticDefaults(), SaeConfig.defaults(), TrainerConfig.defaults(),
                256, 0, 60, 0, 1_000_000, 8192, 42, "127.0.0.1", 0, "", RunConfig.DEFAULT_MAX_ABS);
    }
}
