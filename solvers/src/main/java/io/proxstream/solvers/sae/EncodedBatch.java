package io.proxstream.solvers.sae;

/**
 * What the encoder stage of a trainer hands to its decoder-statistics stage: the minibatch, the
 * codes the statistics must accumulate (an independent copy, or null for trainers without decoder
 * statistics) and the step's measurements.
 *
 * @param x      the minibatch rows ({@code rows × d}); not modified by either stage
 * @param rows   rows in the minibatch
 * @param codes  codes for the decoder statistics, or null
 * @param result measurements of the step; the decoder stage records its solve there
 */
public record EncodedBatch(float[] x, int rows, SparseCodes codes, StepResult result) {
}
