package io.proxstream.solvers.nn;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code Σ_i w_i f_i(x)} for scalar-valued layers f_i of the same input: how a regulariser is put
 * together from parts (ACR = ICNN + quadratic; ACNCR = ½ data-space IWCNN + ½ image ICNN).
 */
public final class WeightedSum implements Layer {
    private final List<Layer> parts;
    private final double[] weights;

    public WeightedSum(List<Layer> parts, double[] weights) {
        if (parts.isEmpty() || parts.size() != weights.length) {
            throw new IllegalArgumentException("need one weight per part, got " + parts.size() + " parts and " + weights.length
                    + " weights");
        }
        for (int i = 0; i < parts.size(); i++) {
            Layer l = parts.get(i);
            if (l.outputShape().size() != 1) {
                throw new IllegalArgumentException("part " + i + " (" + l.getClass().getSimpleName() + ") is not scalar: "
                        + l.outputShape());
            }
            if (!l.inputShape().equals(parts.get(0).inputShape())) {
                throw new IllegalArgumentException("part " + i + " expects " + l.inputShape() + ", part 0 " + parts.get(0).inputShape());
            }
        }
        this.parts = List.copyOf(parts);
        this.weights = weights.clone();
    }

    public List<Layer> parts() {
        return parts;
    }

    @Override
    public Shape inputShape() {
        return parts.get(0).inputShape();
    }

    @Override
    public Shape outputShape() {
        return new Shape(1, 1, 1);
    }

    @Override
    public List<Param> params() {
        List<Param> out = new ArrayList<>();
        for (Layer l : parts) {
            out.addAll(l.params());
        }
        return out;
    }

    @Override
    public float[] forward(float[] x) {
        double s = 0;
        for (int i = 0; i < parts.size(); i++) {
            s += weights[i] * parts.get(i).forward(x)[0];
        }
        return new float[] {(float) s};
    }

    @Override
    public float[] backward(float[] g) {
        float[] dx = new float[inputShape().size()];
        for (int i = 0; i < parts.size(); i++) {
            float[] d = parts.get(i).backward(new float[] {(float) (weights[i] * g[0])});
            for (int j = 0; j < dx.length; j++) {
                dx[j] += d[j];
            }
        }
        return dx;
    }
}
