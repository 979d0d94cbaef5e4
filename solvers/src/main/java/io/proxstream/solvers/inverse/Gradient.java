package io.proxstream.solvers.inverse;

import io.proxstream.solvers.parallel.Parallel;

/**
 * The forward-difference gradient of an {@code h × w} image into a {@code [2, h, w]} field
 * (component 0: along columns, x; component 1: along rows), zero across the last column / row
 * (Neumann boundary). The adjoint is minus the matching backward-difference divergence, so that
 * ⟨∇x, p⟩ = ⟨x, −div p⟩ exactly (Chambolle 2004).
 */
public final class Gradient implements LinearOperator {
    private final int h;
    private final int w;

    public Gradient(int h, int w) {
        if (h <= 0 || w <= 0) {
            throw new IllegalArgumentException("image must be at least 1x1, got " + h + "x" + w);
        }
        this.h = h;
        this.w = w;
    }

    @Override
    public int[] domainShape() {
        return new int[] {h, w};
    }

    @Override
    public int[] rangeShape() {
        return new int[] {2, h, w};
    }

    @Override
    public void apply(float[] x, float[] out) {
        Vectors.requireLength("image", x, h * w);
        Vectors.requireLength("gradient field", out, 2 * h * w);
        int hw = h * w;
        Parallel.forRange(h, 16, (from, to) -> {
            for (int i = from; i < to; i++) {
                for (int j = 0; j < w; j++) {
                    int p = i * w + j;
                    out[p] = j + 1 < w ? x[p + 1] - x[p] : 0f;
                    out[hw + p] = i + 1 < h ? x[p + w] - x[p] : 0f;
                }
            }
        });
    }

    @Override
    public void adjoint(float[] g, float[] out) {
        Vectors.requireLength("gradient field", g, 2 * h * w);
        Vectors.requireLength("image", out, h * w);
        int hw = h * w;
        Parallel.forRange(h, 16, (from, to) -> {
            for (int i = from; i < to; i++) {
                for (int j = 0; j < w; j++) {
                    int p = i * w + j;
                    float gx = j + 1 < w ? g[p] : 0f;
                    float gxl = j > 0 ? g[p - 1] : 0f;
                    float gy = i + 1 < h ? g[hw + p] : 0f;
                    float gyu = i > 0 ? g[hw + p - w] : 0f;
                    out[p] = -(gx - gxl) - (gy - gyu);
                }
            }
        });
    }
}
