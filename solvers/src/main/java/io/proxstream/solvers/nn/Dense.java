package io.proxstream.solvers.nn;

import java.util.List;
import java.util.SplittableRandom;

/** Fully connected: {@code y = W x + b}, W {@code out × in}; the input is flattened. */
public final class Dense implements Layer {
    private final Shape in;
    private final Shape out;
    private final Param weight;
    private final Param bias;
    private float[] x;

    public Dense(Shape in, int outputs, long seed) {
        this.in = in;
        this.out = new Shape(outputs, 1, 1);
        weight = new Param("dense.weight", outputs * in.size());
        bias = new Param("dense.bias", outputs);
        Init.heUniform(weight.value(), in.size(), new SplittableRandom(seed));
    }

    @Override
    public Shape inputShape() {
        return in;
    }

    @Override
    public Shape outputShape() {
        return out;
    }

    public Param weight() {
        return weight;
    }

    @Override
    public List<Param> params() {
        return List.of(weight, bias);
    }

    @Override
    public float[] forward(float[] input) {
        requireInput(input);
        x = input.clone();
        int n = in.size();
        float[] y = new float[out.c()];
        for (int o = 0; o < y.length; o++) {
            double s = bias.value()[o];
            for (int i = 0; i < n; i++) {
                s += weight.value()[o * n + i] * x[i];
            }
            y[o] = (float) s;
        }
        return y;
    }

    @Override
    public float[] backward(float[] g) {
        int n = in.size();
        float[] dx = new float[n];
        for (int o = 0; o < out.c(); o++) {
            float go = g[o];
            bias.grad()[o] += go;
            for (int i = 0; i < n; i++) {
                weight.grad()[o * n + i] += go * x[i];
                dx[i] += go * weight.value()[o * n + i];
            }
        }
        return dx;
    }
}
