package io.proxstream.solvers.nn;

import java.util.List;

/**
 * A differentiable map of one sample. {@link #forward} keeps what {@link #backward} needs; backward
 * takes ∂L/∂output, adds ∂L/∂θ into the parameters' gradients and returns ∂L/∂input. One instance
 * serves one thread.
 */
public interface Layer {
    Shape inputShape();

    Shape outputShape();

    float[] forward(float[] x);

    float[] backward(float[] gradOut);

    default List<Param> params() {
        return List.of();
    }

    /** Checks an input's length against the layer's input shape. */
    default void requireInput(float[] x) {
        if (x.length != inputShape().size()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " expects " + inputShape() + " = " + inputShape().size()
                    + " values, got " + x.length);
        }
    }
}
