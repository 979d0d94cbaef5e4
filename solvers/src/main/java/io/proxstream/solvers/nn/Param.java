package io.proxstream.solvers.nn;

/** A trainable array with its accumulated gradient. */
public final class Param {
    private final String name;
    private final float[] value;
    private final float[] grad;

    public Param(String name, int size) {
        this.name = name;
        this.value = new float[size];
        this.grad = new float[size];
    }

    public String name() {
        return name;
    }

    public float[] value() {
        return value;
    }

    public float[] grad() {
        return grad;
    }

    public void zeroGrad() {
        java.util.Arrays.fill(grad, 0f);
    }
}
