package io.proxstream.solvers.nn;

/** The shape of one sample: channels × height × width (a vector is c × 1 × 1). */
public record Shape(int c, int h, int w) {
    public Shape {
        if (c < 1 || h < 1 || w < 1) {
            throw new IllegalArgumentException("shape must be positive, got " + c + "x" + h + "x" + w);
        }
    }

    public int size() {
        return c * h * w;
    }

    @Override
    public String toString() {
        return c + "x" + h + "x" + w;
    }
}
