package io.proxstream.solvers.nn;

import io.proxstream.solvers.inverse.LinearOperator;

/**
 * A fixed linear map {@code x ↦ s·A x} as a layer (backward: {@code s·Aᵀ g}): feeds the data-space
 * critic of ACNCR the normalised sinogram {@code A x / ‖A‖}. No parameters.
 */
public final class OperatorLayer implements Layer {
    private final LinearOperator a;
    private final float scale;
    private final Shape in;
    private final Shape out;

    public OperatorLayer(LinearOperator a, double scale, Shape in, Shape out) {
        if (in.size() != a.domainSize() || out.size() != a.rangeSize()) {
            throw new IllegalArgumentException("operator maps " + a.domainSize() + " -> " + a.rangeSize() + " values, shapes given "
                    + in + " -> " + out);
        }
        this.a = a;
        this.scale = (float) scale;
        this.in = in;
        this.out = out;
    }

    @Override
    public Shape inputShape() {
        return in;
    }

    @Override
    public Shape outputShape() {
        return out;
    }

    @Override
    public float[] forward(float[] x) {
        requireInput(x);
        float[] y = a.apply(x);
        for (int i = 0; i < y.length; i++) {
            y[i] *= scale;
        }
        return y;
    }

    @Override
    public float[] backward(float[] g) {
        float[] dx = a.adjoint(g);
        for (int i = 0; i < dx.length; i++) {
            dx[i] *= scale;
        }
        return dx;
    }
}
