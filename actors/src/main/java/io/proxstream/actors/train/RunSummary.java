package io.proxstream.actors.train;

/**
 * The outcome of a training run, also written as {@code summary.json}.
 *
 * @param run             run name
 * @param algorithm       trainer
 * @param samples         training vectors consumed
 * @param seconds         wall time of the stream
 * @param vectorsPerSecond samples / seconds
 * @param trainFvu        FVU of the last report window
 * @param trainL0         L0 of the last report window
 * @param deadLatents     dead latents at the end
 * @param evalMse         held-out MSE (NaN without an evaluation set)
 * @param evalFvu         held-out FVU (NaN without an evaluation set)
 * @param evalL0          held-out L0 (NaN without an evaluation set)
 * @param mmcs            mean max cosine similarity with planted features (NaN unless synthetic)
 * @param decoderSolves   closed-form decoder solves
 * @param rejected        input rows rejected by validation
 * @param model           path of the saved model
 */
public record RunSummary(String run, String algorithm, long samples, double seconds, double vectorsPerSecond,
                         double trainFvu, double trainL0, int deadLatents, double evalMse, double evalFvu, double evalL0,
                         double mmcs, long decoderSolves, long rejected, String model) {
}
