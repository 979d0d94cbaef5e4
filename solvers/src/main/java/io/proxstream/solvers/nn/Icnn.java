package io.proxstream.solvers.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Input-convex network (Amos, Xu, Kolter 2017; the ACR / AWCR critics, spec/inverse.md):
 * <pre>
 *   z₀ = φ(Wₓ₀ u),   z_{l+1} = φ(W_z,l z_l + Wₓ,l+1 u),   R(u) = mean(W_out z_L)
 * </pre>
 * with convolutions for every W, φ = LeakyReLU(slope) (convex and non-decreasing), and the
 * hidden-to-hidden W_z,l and the output W_out non-negative — kept so by {@link #project()} after
 * every update. A non-negative combination of convex non-decreasing functions of convex functions
 * is convex, so R is convex in u.
 */
public final class Icnn implements Layer {
    private final Shape in;
    private final List<Conv2d> wx = new ArrayList<>();
    private final List<Conv2d> wz = new ArrayList<>();
    private final List<Activation> act = new ArrayList<>();
    private final Conv2d out;
    private final SpatialMean mean;

    /**
     * @param layers   number of hidden layers L ≥ 1
     * @param channels channels of every hidden layer
     * @param kernel   odd kernel size (same padding)
     */
    public Icnn(Shape in, int layers, int channels, int kernel, double slope, long seed) {
        if (layers < 1 || channels < 1 || kernel % 2 == 0) {
            throw new IllegalArgumentException("ICNN: need layers >= 1, channels >= 1 and an odd kernel");
        }
        this.in = in;
        SplittableRandom r = new SplittableRandom(seed);
        Shape hidden = new Shape(channels, in.h(), in.w());
        int pad = kernel / 2;
        for (int l = 0; l < layers; l++) {
            wx.add(new Conv2d(in, channels, kernel, 1, pad, r.nextLong()));
            act.add(Activation.leakyRelu(hidden, slope));
            if (l > 0) {
                Conv2d z = new Conv2d(hidden, channels, kernel, 1, pad, r.nextLong());
                Init.uniform(z.weight().value(), 0, 2.0 / (channels * kernel * kernel), r);
                java.util.Arrays.fill(z.bias().value(), 0f);
                wz.add(z);
            }
        }
        out = new Conv2d(hidden, 1, 1, 1, 0, r.nextLong());
        Init.uniform(out.weight().value(), 0, 2.0 / channels, r);
        mean = new SpatialMean(out.outputShape());
    }

    @Override
    public Shape inputShape() {
        return in;
    }

    @Override
    public Shape outputShape() {
        return new Shape(1, 1, 1);
    }

    /** Clamps the weights that must stay non-negative (W_z and W_out; biases are free). */
    public void project() {
        for (Conv2d z : wz) {
            clamp(z.weight().value());
        }
        clamp(out.weight().value());
    }

    private static void clamp(float[] w) {
        for (int i = 0; i < w.length; i++) {
            w[i] = Math.max(0f, w[i]);
        }
    }

    /** The hidden-to-hidden convolutions (for tests and inspection). */
    public List<Conv2d> hiddenToHidden() {
        return wz;
    }

    @Override
    public List<Param> params() {
        List<Param> p = new ArrayList<>();
        for (Conv2d c : wx) {
            p.addAll(c.params());
        }
        for (Conv2d c : wz) {
            p.addAll(c.params());
        }
        p.addAll(out.params());
        return p;
    }

    @Override
    public float[] forward(float[] u) {
        requireInput(u);
        float[] z = act.get(0).forward(wx.get(0).forward(u));
        for (int l = 1; l < wx.size(); l++) {
            float[] a = wz.get(l - 1).forward(z);
            float[] b = wx.get(l).forward(u);
            for (int i = 0; i < a.length; i++) {
                a[i] += b[i];
            }
            z = act.get(l).forward(a);
        }
        return mean.forward(out.forward(z));
    }

    @Override
    public float[] backward(float[] g) {
        float[] gz = out.backward(mean.backward(g));
        float[] gu = new float[in.size()];
        for (int l = wx.size() - 1; l >= 0; l--) {
            float[] ga = act.get(l).backward(gz);
            float[] gx = wx.get(l).backward(ga);
            for (int i = 0; i < gu.length; i++) {
                gu[i] += gx[i];
            }
            if (l > 0) {
                gz = wz.get(l - 1).backward(ga);
            }
        }
        return gu;
    }

    /** R(u) as a number. */
    public double value(float[] u) {
        return forward(u)[0];
    }
}
