package io.proxstream.solvers.sae;

/**
 * A trainer that only counts what it is given: for measuring ingest and stream overhead without
 * training cost ({@code algo = discard}). The model is never changed.
 */
public final class DiscardTrainer implements SaeTrainer {
    private final SaeModel model;
    private volatile long samples;

    public DiscardTrainer(SaeModel model) {
        this.model = model;
    }

    @Override
    public SaeModel model() {
        return model;
    }

    @Override
    public String algorithm() {
        return "discard";
    }

    @Override
    public EncodedBatch encoderStage(float[] x, int rows) {
        samples += rows;
        return new EncodedBatch(x, rows, null, new StepResult(model.spec().latents()));
    }

    @Override
    public StepResult decoderStage(EncodedBatch batch) {
        return batch.result();
    }

    @Override
    public long samplesSeen() {
        return samples;
    }

    @Override
    public TrainerState snapshot() {
        TrainerState.Builder b = new TrainerState.Builder(algorithm());
        model.saveTo(b);
        return b.put("samples", samples).build();
    }

    @Override
    public void restore(TrainerState state) {
        state.requireAlgorithm(algorithm());
        model.loadFrom(state);
        samples = state.counter("samples");
    }

    @Override
    public void close() {
    }
}
