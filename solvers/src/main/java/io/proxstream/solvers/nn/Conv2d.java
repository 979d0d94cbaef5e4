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
        if (cols == null) {
            // kept between calls: the same geometry writes the same entries every time, so the padding's stay zero
            cols = new float[rows * pixels];
        }
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
     * ({@code x += cols}). For each tap the output columns that land inside the image form one range,
     * computed once, so the inner loop has no test and at stride 1 is a contiguous copy or add (which
     * the JIT vectorises); the per-pixel test it replaces made this walk the largest cost of a critic's
     * step at 128² (JFR: more samples than the GEMMs and the ray transform together).
     */
    private void transfer(float[] x, float[] cols, boolean accumulate) {
        int pixels = out.h() * out.w();
        int ow = out.w();
        for (int c = 0; c < in.c(); c++) {
            for (int ky = 0; ky < k; ky++) {
                for (int kx = 0; kx < k; kx++) {
                    int r = (c * k + ky) * k + kx;
                    // ix = ox·stride − pad + kx inside [0, w)  ⇔  oxLo ≤ ox < oxHi
                    int oxLo = Math.max(0, ceilDiv(pad - kx, stride));
                    int oxHi = Math.min(ow, Math.floorDiv(in.w() - 1 + pad - kx, stride) + 1);
                    if (oxLo >= oxHi) {
                        continue;
                    }
                    int len = oxHi - oxLo;
                    for (int oy = 0; oy < out.h(); oy++) {
                        int iy = oy * stride - pad + ky;
                        if (iy < 0 || iy >= in.h()) {
                            continue;
                        }
                        int xi = (c * in.h() + iy) * in.w() + oxLo * stride - pad + kx;
                        int ci = r * pixels + oy * ow + oxLo;
                        if (stride == 1) {
                            if (accumulate) {
                                for (int t = 0; t < len; t++) {
                                    x[xi + t] += cols[ci + t];
                                }
                            } else {
                                System.arraycopy(x, xi, cols, ci, len);
                            }
                        } else if (accumulate) {
                            for (int t = 0; t < len; t++) {
                                x[xi + t * stride] += cols[ci + t];
                            }
                        } else {
                            for (int t = 0; t < len; t++) {
                                cols[ci + t] = x[xi + t * stride];
                            }
                        }
                    }
                }
            }
        }
    }

    /** ⌈a / b⌉ for b > 0 and any sign of a. */
    private static int ceilDiv(int a, int b) {
        return -Math.floorDiv(-a, b);
    }
}
