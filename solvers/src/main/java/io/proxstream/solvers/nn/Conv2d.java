package io.proxstream.solvers.nn;

import io.proxstream.solvers.linalg.Gemm;
import io.proxstream.solvers.linalg.NativeFloats;
import java.nio.FloatBuffer;
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
    /** The last forward's im2col matrix (inC·k·k × output pixels), off-heap: the weight gradient needs it and BLAS reads it in place. */
    private NativeFloats cols;
    /** W on its way to BLAS (forward, and Wᵀ·g in the backward pass). */
    private NativeFloats weights;
    /** ∂W on its way to and from BLAS (the weight gradient accumulates into it). */
    private NativeFloats weightGrads;
    /** The output (forward) and the output gradient (backward) as BLAS operands. */
    private NativeFloats outputs;
    /** Wᵀ·g of a backward, used once and shared by the layers a thread runs (one network runs on one thread at a time). */
    private static final ThreadLocal<NativeFloats> SCRATCH = ThreadLocal.withInitial(NativeFloats::new);

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
            cols = new NativeFloats().ensure((long) rows * pixels);
            weights = new NativeFloats();
            weightGrads = new NativeFloats();
            outputs = new NativeFloats();
        }
        transfer(x, cols.buffer(), false, null);
        weights.ensure(weight.value().length).buffer().put(0, weight.value());
        FloatBuffer yb = outputs.ensure(out.size()).buffer();
        for (int o = 0; o < out.c(); o++) {
            float b = bias.value()[o];
            for (int p = 0; p < pixels; p++) {
                yb.put(o * pixels + p, b);
            }
        }
        Gemm.sgemm(false, false, out.c(), pixels, rows, 1f, weights, rows, cols, pixels, 1f, outputs, pixels);
        float[] y = new float[out.size()];
        yb.get(0, y);
        return y;
    }

    @Override
    public float[] backward(float[] g) {
        if (cols == null) {
            throw new IllegalStateException("backward before forward");
        }
        int rows = in.c() * k * k;
        int pixels = out.h() * out.w();
        // ∂W += g·colsᵀ, with g and ∂W passed through native memory (cols is there already)
        outputs.buffer().put(0, g, 0, out.size());
        weightGrads.ensure(weight.grad().length).buffer().put(0, weight.grad());
        Gemm.sgemm(false, true, out.c(), rows, pixels, 1f, outputs, pixels, cols, pixels, 1f, weightGrads, rows);
        weightGrads.buffer().get(0, weight.grad());
        for (int o = 0; o < out.c(); o++) {
            double s = 0;
            for (int p = 0; p < pixels; p++) {
                s += g[o * pixels + p];
            }
            bias.grad()[o] += (float) s;
        }
        weights.buffer().put(0, weight.value());   // the forward put it there; copied again in case W changed since
        NativeFloats dcols = SCRATCH.get().ensure((long) rows * pixels);
        Gemm.sgemm(true, false, rows, pixels, out.c(), 1f, weights, rows, outputs, pixels, 0f, dcols, pixels);
        float[] dx = new float[in.size()];
        transfer(dx, dcols.buffer(), true, new float[out.w()]);
        return dx;
    }

    /**
     * Walks every (kernel tap, output pixel) pair that falls inside the image: im2col
     * ({@code cols ← x}, zero padding left as zeros) or, with {@code accumulate}, its adjoint col2im
     * ({@code x += cols}). For each tap the output columns that land inside the image form one range,
     * computed once, so the inner loop has no test and at stride 1 is one bulk copy (im2col) or a
     * copy into {@code run} and a contiguous add (col2im); the per-pixel test this replaced made the walk
     * the largest cost of a critic's step at 128² (JFR: more samples than the GEMMs and the ray transform).
     */
    private void transfer(float[] x, FloatBuffer cols, boolean accumulate, float[] run) {
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
                        if (accumulate) {
                            cols.get(ci, run, 0, len);
                            if (stride == 1) {
                                for (int t = 0; t < len; t++) {
                                    x[xi + t] += run[t];
                                }
                            } else {
                                for (int t = 0; t < len; t++) {
                                    x[xi + t * stride] += run[t];
                                }
                            }
                        } else if (stride == 1) {
                            cols.put(ci, x, xi, len);
                        } else {
                            for (int t = 0; t < len; t++) {
                                cols.put(ci + t, x[xi + t * stride]);
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
