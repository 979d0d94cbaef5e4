package io.proxstream.solvers.nn;

/**
 * {@code w‖x‖²} with a fixed weight w ≥ 0: the small quadratic of the adversarial convex regulariser
 * (ACR), which makes it strongly convex. No parameters.
 */
public final class SquaredNorm implements Layer {
    private final Shape in;
    private final double weight;
    private float[] x;

    public SquaredNorm(Shape in, double weight) {
        if (!(weight >= 0) || Double.isInfinite(weight)) {
            throw new IllegalArgumentException("squared-norm weight must be finite and >= 0, got " + weight);
        }
        this.in = in;
        this.weight = weight;
    }

    public double weight() {
        return weight;
    }

    @Override
    public Shape inputShape() {
        return in;
    }

    @Override
    public Shape outputShape() {
        return new Shape(1, 1, 1);
    }

    @Override
    public float[] forward(float[] input) {
        requireInput(input);
        x = input.clone();
        double s = 0;
        for (float v : x) {
            s += (double) v * v;
        }
        return new float[] {(float) (weight * s)};
    }

    @Override
    public float[] backward(float[] g) {
        float[] dx = new float[x.length];
        float c = (float) (2 * weight * g[0]);
        for (int i = 0; i < dx.length; i++) {
            dx[i] = c * x[i];
        }
        return dx;
    }
}
