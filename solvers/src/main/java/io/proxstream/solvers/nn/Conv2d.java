package io.proxstream.solvers.nn;

import io.proxstream.solvers.linalg.Gemm;
import java.util.List;
import java.util.SplittableRandom;

/**
 * 2-D convolution (cross-correlation, as in the deep-learning libraries) with stride and zero
 * padding, by im2col and one GEMM: {@code out = W · cols + b}, W {@code outC × (inC·k·k)}. Backward:
 * {@code ∂W += g · colsᵀ}, {@code ∂b += Σ g}, {@code ∂x = col2im(Wᵀ · g)}.
 */
public final class Conv2d implements Layer {
    private final Shape in;
    private final Shape out;
    private final int k;
    private final int stride;
    private final int pad;
    private final Param weight;
    private final Param bias;
    private float[] cols;

    public Conv2d(Shape in, int outChannels, int kernel, int stride, int pad, long seed) {
        if (kernel < 1 || stride < 1 || pad < 0) {
            throw new IllegalArgumentException("conv: need kernel >= 1, stride >= 1, pad >= 0");
        }
        int oh = (in.h() + 2 * pad - kernel) / stride + 1;
        int ow = (in.w() + 2 * pad - kernel) / stride + 1;
        if (oh < 1 || ow < 1) {
            throw new IllegalArgumentException("conv: kernel " + kernel + " does not fit a " + in + " input with pad " + pad);
        }
        this.in = in;
        this.out = new Shape(outChannels, oh, ow);
        this.k = kernel;
        this.stride = stride;
        this.pad = pad;
        int fan = in.c() * kernel * kernel;
        weight = new Param("conv.weight", outChannels * fan);
        bias = new Param("conv.bias", outChannels);
        Init.heUniform(weight.value(), fan, new SplittableRandom(seed));
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

    public Param bias() {
        return bias;
    }

    @Override
    public List<Param> params() {
        return List.of(weight, bias);
    }

    @Override
    public float[] forward(float[] x) {
        requireInput(x);
        int rows = in.c() * k * k;
        int pixels = out.h() * out.w();
        cols = new float[rows * pixels];
        transfer(x, cols, false);
        float[] y = new float[out.size()];
        for (int o = 0; o < out.c(); o++) {
            java.util.Arrays.fill(y, o * pixels, (o + 1) * pixels, bias.value()[o]);
        }
        Gemm.sgemm(false, false, out.c(), pixels, rows, 1f, weight.value(), rows, cols, pixels, 1f, y, pixels);
        return y;
    }

    @Override
    public float[] backward(float[] g) {
        if (cols == null) {
            throw new IllegalStateException("backward before forward");
        }
        int rows = in.c() * k * k;
        int pixels = out.h() * out.w();
        Gemm.sgemm(false, true, out.c(), rows, pixels, 1f, g, pixels, cols, pixels, 1f, weight.grad(), rows);
        for (int o = 0; o < out.c(); o++) {
            double s = 0;
            for (int p = 0; p < pixels; p++) {
                s += g[o * pixels + p];
            }
            bias.grad()[o] += (float) s;
        }
        float[] dcols = new float[rows * pixels];
        Gemm.sgemm(true, false, rows, pixels, out.c(), 1f, weight.value(), rows, g, pixels, 0f, dcols, pixels);
        float[] dx = new float[in.size()];
        transfer(dx, dcols, true);
        return dx;
    }

    /**
     * Walks every (kernel tap, output pixel) pair that falls inside the image: im2col
     * ({@code cols ← x}, zero padding left as zeros) or, with {@code accumulate}, its adjoint col2im
     * ({@code x += cols}).
     */
    private void transfer(float[] x, float[] cols, boolean accumulate) {
        int pixels = out.h() * out.w();
        for (int c = 0; c < in.c(); c++) {
            for (int ky = 0; ky < k; ky++) {
                for (int kx = 0; kx < k; kx++) {
                    int r = (c * k + ky) * k + kx;
                    for (int oy = 0; oy < out.h(); oy++) {
                        int iy = oy * stride - pad + ky;
                        if (iy < 0 || iy >= in.h()) {
                            continue;
                        }
                        for (int ox = 0; ox < out.w(); ox++) {
                            int ix = ox * stride - pad + kx;
                            if (ix >= 0 && ix < in.w()) {
                                int xi = (c * in.h() + iy) * in.w() + ix;
                                int ci = r * pixels + oy * out.w() + ox;
                                if (accumulate) {
                                    x[xi] += cols[ci];
                                } else {
                                    cols[ci] = x[xi];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
