package io.proxstream.solvers.sae;

/**
 * Gradient buffers of an SAE's parameters, in the layout of {@link SaeModel}.
 *
 * <p>The weight gradients are row-sparse: only rows with {@link #touched} set hold a gradient; the
 * others are zero and their stale contents must not be read. Bias gradients are dense.
 */
public final class SaeGradients {
    public final float[] wEnc;
    public final float[] bEnc;
    /** Null when the decoder is tied or not trained by gradient. */
    public final float[] wDec;
    /** Null when the decoder is not trained by gradient. */
    public final float[] bDec;
    public final boolean[] touched;

    public SaeGradients(SaeSpec spec, boolean decoder) {
        int m = spec.latents();
        int d = spec.inputDim();
        wEnc = new float[m * d];
        bEnc = new float[m];
        wDec = decoder && !spec.tied() ? new float[m * d] : null;
        bDec = decoder ? new float[d] : null;
        touched = new boolean[m];
    }
}
