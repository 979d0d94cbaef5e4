package io.proxstream.solvers.nn;

/** Elementwise activations: LeakyReLU(slope), SiLU x·σ(x), softplus log(1 + eˣ) (computed stably). */
public final class Activation implements Layer {
    /** Which function. */
    public enum Kind {
        LEAKY_RELU, SILU, SOFTPLUS
    }

    private final Shape shape;
    private final Kind kind;
    private final float slope;
    private float[] x;

    public Activation(Shape shape, Kind kind, double slope) {
        this.shape = shape;
        this.kind = kind;
        this.slope = (float) slope;
    }

    public static Activation leakyRelu(Shape s, double slope) {
        return new Activation(s, Kind.LEAKY_RELU, slope);
    }

    public static Activation silu(Shape s) {
        return new Activation(s, Kind.SILU, 0);
    }

    public static Activation softplus(Shape s) {
        return new Activation(s, Kind.SOFTPLUS, 0);
    }

    @Override
    public Shape inputShape() {
        return shape;
    }

    @Override
    public Shape outputShape() {
        return shape;
    }

    @Override
    public float[] forward(float[] input) {
        requireInput(input);
        x = input.clone();
        float[] y = new float[x.length];
        // one loop per kind: a switch inside the loop kept the JIT from turning LeakyReLU into straight-line code, and it
        // is the most frequent layer of every critic
        switch (kind) {
            case LEAKY_RELU -> {
                for (int i = 0; i < x.length; i++) {
                    float v = x[i];
                    y[i] = v >= 0 ? v : (float) (slope * (double) v);
                }
            }
            case SILU -> {
                for (int i = 0; i < x.length; i++) {
                    double v = x[i];
                    y[i] = (float) (v * sigmoid(v));
                }
            }
            case SOFTPLUS -> {
                for (int i = 0; i < x.length; i++) {
                    y[i] = (float) softplus(x[i]);
                }
            }
            default -> throw new IllegalStateException(kind.toString());
        }
        return y;
    }

    @Override
    public float[] backward(float[] g) {
        float[] dx = new float[x.length];
        switch (kind) {
            case LEAKY_RELU -> {
                for (int i = 0; i < x.length; i++) {
                    dx[i] = x[i] >= 0 ? g[i] : (float) (g[i] * (double) slope);
                }
            }
            case SILU, SOFTPLUS -> {
                for (int i = 0; i < x.length; i++) {
                    dx[i] = (float) (g[i] * derivative(kind, slope, x[i]));
                }
            }
            default -> throw new IllegalStateException(kind.toString());
        }
        return dx;
    }

    public static double sigmoid(double v) {
        if (v >= 0) {
            return 1 / (1 + Math.exp(-v));
        }
        double e = Math.exp(v);   // once (the JIT does not share two calls of exp)
        return e / (1 + e);
    }

    /** softplus(v) = log(1 + eᵛ) without overflow. */
    public static double softplus(double v) {
        return Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    }

    static double derivative(Kind kind, float slope, double v) {
        return switch (kind) {
            case LEAKY_RELU -> v >= 0 ? 1 : slope;
            case SILU -> {
                double s = sigmoid(v);
                yield s * (1 + v * (1 - s));
            }
            case SOFTPLUS -> sigmoid(v);
        };
    }
}
