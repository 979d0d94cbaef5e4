package io.proxstream.solvers.nn;

/** The mean over height and width per channel: c × h × w → c × 1 × 1. */
public final class SpatialMean implements Layer {
    private final Shape in;

    public SpatialMean(Shape in) {
        this.in = in;
    }

    @Override
    public Shape inputShape() {
        return in;
    }

    @Override
    public Shape outputShape() {
        return new Shape(in.c(), 1, 1);
    }

    @Override
    public float[] forward(float[] x) {
        requireInput(x);
        int p = in.h() * in.w();
        float[] y = new float[in.c()];
        for (int c = 0; c < in.c(); c++) {
            double s = 0;
            for (int i = 0; i < p; i++) {
                s += x[c * p + i];
            }
            y[c] = (float) (s / p);
        }
        return y;
    }

    @Override
    public float[] backward(float[] g) {
        int p = in.h() * in.w();
        float[] dx = new float[in.size()];
        for (int c = 0; c < in.c(); c++) {
            java.util.Arrays.fill(dx, c * p, (c + 1) * p, g[c] / p);
        }
        return dx;
    }
}
