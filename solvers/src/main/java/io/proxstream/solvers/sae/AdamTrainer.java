package io.proxstream.solvers.sae;

import java.util.Objects;

/**
 * Adam on all parameters of an SAE: the faithful baseline of the SplInterp paper when the model is
 * tied ({@code W_dec = W_encᵀ}, learned {@code b_dec}), or plain untied Adam otherwise.
 * Gradients come from {@link SparseStep}, so a step costs one dense GEMM plus O(B·k·d).
 */
public final class AdamTrainer implements SaeTrainer {
    private final SaeModel model;
    private final SparseStep sparse;
    private final SaeGradients grads;
    private final Adam adam;
    private final Adam.State wEncState;
    private final Adam.State bEncState;
    private final Adam.State wDecState;
    private final Adam.State bDecState;
    /** Written by the training thread, read by monitors: volatile. */
    private volatile long samples;

    public AdamTrainer(SaeModel model, Adam.Options options) {
        this.model = Objects.requireNonNull(model, "model");
        SaeSpec spec = model.spec();
        int md = spec.latents() * spec.inputDim();
        this.sparse = new SparseStep(spec);
        this.grads = new SaeGradients(spec, true);
        this.adam = new Adam(options);
        this.wEncState = new Adam.State(md);
        this.bEncState = new Adam.State(spec.latents());
        this.wDecState = spec.tied() ? null : new Adam.State(md);
        this.bDecState = new Adam.State(spec.inputDim());
    }

    @Override
    public SaeModel model() {
        return model;
    }

    @Override
    public String algorithm() {
        return model.spec().tied() ? "adam-tied" : "adam";
    }

    @Override
    public long samplesSeen() {
        return samples;
    }

    @Override
    public EncodedBatch encoderStage(float[] x, int rows) {
        sparse.forward(model, x, rows);
        StepResult result = StepResult.of(sparse);
        sparse.backward(model, x, grads, true, true);
        SaeSpec spec = model.spec();
        int d = spec.inputDim();
        adam.beginStep();
        adam.update(model.encoderWeights(), grads.wEnc, grads.touched, d, wEncState, null, 0f, 1f);
        adam.update(model.encoderBias(), grads.bEnc, null, spec.latents(), bEncState, null, 0f, 1f);
        if (!spec.tied()) {
            adam.update(model.decoderWeights(), grads.wDec, grads.touched, d, wDecState, null, 0f, 1f);
        }
        adam.update(model.decoderBias(), grads.bDec, null, d, bDecState, null, 0f, 1f);
        model.encoderChanged();
        samples += rows;
        return new EncodedBatch(x, rows, null, result);
    }

    /** Adam has no decoder statistics: the decoder was updated by gradient in the encoder stage. */
    @Override
    public StepResult decoderStage(EncodedBatch batch) {
        return batch.result();
    }

    @Override
    public TrainerState snapshot() {
        TrainerState.Builder b = new TrainerState.Builder(algorithm());
        model.saveTo(b);
        Adam.saveMoments(b, "adam.W_enc", wEncState);
        Adam.saveMoments(b, "adam.b_enc", bEncState);
        if (wDecState != null) {
            Adam.saveMoments(b, "adam.W_dec", wDecState);
        }
        Adam.saveMoments(b, "adam.b_dec", bDecState);
        b.put("adam.steps", adam.steps()).put("samples", samples);
        return b.build();
    }

    @Override
    public void restore(TrainerState s) {
        s.requireAlgorithm(algorithm());
        model.loadFrom(s);
        Adam.loadMoments(s, "adam.W_enc", wEncState);
        Adam.loadMoments(s, "adam.b_enc", bEncState);
        if (wDecState != null) {
            Adam.loadMoments(s, "adam.W_dec", wDecState);
        }
        Adam.loadMoments(s, "adam.b_dec", bDecState);
        adam.setSteps(s.counter("adam.steps"));
        samples = s.counter("samples");
    }

    @Override
    public void close() {
        sparse.close();
    }
}
