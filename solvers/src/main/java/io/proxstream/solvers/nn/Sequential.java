package io.proxstream.solvers.nn;

import java.util.ArrayList;
import java.util.List;

/** Layers applied in order; each layer's input shape must be the previous one's output shape. */
public final class Sequential implements Layer {
    private final List<Layer> layers;

    public Sequential(List<Layer> layers) {
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("an empty network");
        }
        for (int i = 1; i < layers.size(); i++) {
            if (!layers.get(i).inputShape().equals(layers.get(i - 1).outputShape())) {
                throw new IllegalArgumentException("layer " + i + " (" + layers.get(i).getClass().getSimpleName() + ") expects "
                        + layers.get(i).inputShape() + " but layer " + (i - 1) + " gives " + layers.get(i - 1).outputShape());
            }
        }
        this.layers = List.copyOf(layers);
    }

    public List<Layer> layers() {
        return layers;
    }

    @Override
    public Shape inputShape() {
        return layers.get(0).inputShape();
    }

    @Override
    public Shape outputShape() {
        return layers.get(layers.size() - 1).outputShape();
    }

    @Override
    public List<Param> params() {
        List<Param> out = new ArrayList<>();
        for (Layer l : layers) {
            out.addAll(l.params());
        }
        return out;
    }

    @Override
    public float[] forward(float[] x) {
        float[] v = x;
        for (Layer l : layers) {
            v = l.forward(v);
        }
        return v;
    }

    @Override
    public float[] backward(float[] g) {
        float[] v = g;
        for (int i = layers.size() - 1; i >= 0; i--) {
            v = layers.get(i).backward(v);
        }
        return v;
    }
}
