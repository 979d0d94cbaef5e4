package io.proxstream.actors.serve;

/**
 * A served run as the {@code /runs} API shows it.
 *
 * @param name            run name
 * @param state           a {@link RunState} name
 * @param algorithm       trainer
 * @param inputDim        accepted width
 * @param latents         dictionary size
 * @param sparsifier      sparsifier id
 * @param k               TopK k
 * @param samples         vectors trained on (resumed runs count from their checkpoint)
 * @param loss            training loss of the last report window
 * @param fvu             training FVU of the last window
 * @param l0              L0 of the last window
 * @param deadLatents     dead latents
 * @param vectorsPerSecond training throughput of the last window
 * @param ingestedRows    rows accepted by the ingest endpoints since start
 * @param rejectedBatches batches rejected at ingest since start
 * @param busyReplies     pushes answered 503 since start
 * @param queuedBytes     bytes waiting for training
 * @param checkpointSamples samples of the newest checkpoint written (or resumed from)
 * @param checkpoint      its file name
 * @param resumedFrom     the checkpoint this process resumed from, or empty
 * @param error           why the run failed, or empty
 * @param checkpointFailures checkpoint writes that failed (full disk, I/O error) since start; the previous
 *                        checkpoint stays intact and the run keeps training
 * @param checkpointError the last such failure, or empty
 * @param holdout         fraction of valid rows held out for latent health (0: off)
 * @param heldOutRows     valid rows kept out of training for latent health since start (ingested = trained + held
 *                        out + rejected + queued)
 * @param health          the newest latent-health evaluation on the held-out rows, or null before the first
 */
public record RunStatus(String name, String state, String algorithm, int inputDim, int latents, String sparsifier, int k,
                        long samples, double loss, double fvu, double l0, int deadLatents, double vectorsPerSecond,
                        long ingestedRows, long rejectedBatches, long busyReplies, long queuedBytes,
                        long checkpointSamples, String checkpoint, String resumedFrom, String error, long checkpointFailures,
                        String checkpointError, double holdout, long heldOutRows, HealthStatus health) {

    /** The same status with fresher counters. */
    public RunStatus withLive(long trained, long ingested, long rejected, long busy, long queued, long heldOut) {
        return new RunStatus(name, state, algorithm, inputDim, latents, sparsifier, k, trained, loss, fvu, l0, deadLatents,
                vectorsPerSecond, ingested, rejected, busy, queued, checkpointSamples, checkpoint, resumedFrom, error,
                checkpointFailures, checkpointError, holdout, heldOut, health);
    }
}
