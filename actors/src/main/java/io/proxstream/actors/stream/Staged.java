package io.proxstream.actors.stream;

import io.proxstream.solvers.sae.EncodedBatch;

/**
 * What flows between the training stages: a batch after the encoder stage, or a control token.
 *
 * @param batch   the encoded batch (null for control)
 * @param control the control action (null for data)
 */
public record Staged(EncodedBatch batch, Runnable control) {
}
