package io.proxstream.solvers.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Input weakly convex network (spec/inverse.md): {@code R(x) = ICNN(S(x)) + softplus(p)‖x‖²} with S a
 * smooth map (convolutions each followed by SiLU, so S has a Lipschitz gradient) and a learnable
 * scalar p (initial −9). R is ρ-weakly convex: R + (ρ/2)‖x‖² is convex for some ρ ≥ 0 that the
 * smoothness of S bounds; {@link #weakConvexityEstimate} measures it along random lines.
 */
public final class Iwcnn implements Layer {
    private final Shape in;
    private final Sequential smooth;
    private final Icnn icnn;
    private final Param p = new Param("iwcnn.p", 1);
    private float[] x;

    /**
     * @param smoothChannels channels of the smooth map's convolutions (e.g. {16}; each conv 5×5, stride 1)
     */
    public Iwcnn(Shape in, int[] smoothChannels, int icnnLayers, int icnnChannels, int kernel, long seed) {
        this(in, smoothChannels, icnnLayers, icnnChannels, kernel, 0.2, seed);
    }

    /** As above with the ICNN's LeakyReLU slope (1 makes it kink-free, for gradient checks). */
    Iwcnn(Shape in, int[] smoothChannels, int icnnLayers, int icnnChannels, int kernel, double slope, long seed) {
        this(in, smoothChannels, icnnLayers, icnnChannels, kernel, kernel, slope, seed);
    }

    /** With separate kernel sizes for the ICNN and the smooth map and the ICNN's LeakyReLU slope. */
    public Iwcnn(Shape in, int[] smoothChannels, int icnnLayers, int icnnChannels, int kernel, int smoothKernel, double slope, long seed) {
        this(in, smoothChannels, null, icnnLayers, icnnChannels, kernel, smoothKernel, slope, seed);
    }

    /**
     * As above with a stride per smooth-map convolution ({@code null}: all 1); the ICNN then works on the smooth map's
     * output at its resolution, as in the public sparse-view network.
     */
    public Iwcnn(Shape in, int[] smoothChannels, int[] smoothStrides, int icnnLayers, int icnnChannels, int kernel, int smoothKernel,
                 double slope, long seed) {
        if (smoothStrides != null && smoothStrides.length != smoothChannels.length) {
            throw new IllegalArgumentException("iwcnn: " + smoothChannels.length + " smooth convolutions but " + smoothStrides.length
                    + " strides");
        }
        this.in = in;
        SplittableRandom r = new SplittableRandom(seed);
        List<Layer> s = new ArrayList<>();
        Shape cur = in;
        for (int i = 0; i < smoothChannels.length; i++) {
            int stride = smoothStrides == null ? 1 : smoothStrides[i];
            Conv2d conv = new Conv2d(cur, smoothChannels[i], smoothKernel, stride, smoothKernel / 2, r.nextLong());
            s.add(conv);
            s.add(Activation.silu(conv.outputShape()));
            cur = conv.outputShape();
        }
        smooth = new Sequential(s);
        icnn = new Icnn(cur, icnnLayers, icnnChannels, kernel, slope, r.nextLong());
        p.value()[0] = -9f;
    }

    public Icnn icnn() {
        return icnn;
    }

    /** softplus(p), the weight of ‖x‖². */
    public double quadraticWeight() {
        return Activation.softplus(p.value()[0]);
    }

    public Param quadraticParam() {
        return p;
    }

    @Override
    public Shape inputShape() {
        return in;
    }

    @Override
    public Shape outputShape() {
        return new Shape(1, 1, 1);
    }

    @Override
    public List<Param> params() {
        List<Param> out = new ArrayList<>(smooth.params());
        out.addAll(icnn.params());
        out.add(p);
        return out;
    }

    /** Keeps the ICNN's non-negativity constraints. */
    public void project() {
        icnn.project();
    }

    @Override
    public float[] forward(float[] input) {
        requireInput(input);
        x = input.clone();
        double sq = 0;
        for (float v : x) {
            sq += (double) v * v;
        }
        float r = icnn.forward(smooth.forward(x))[0];
        return new float[] {(float) (r + quadraticWeight() * sq)};
    }

    @Override
    public float[] backward(float[] g) {
        float[] dx = smooth.backward(icnn.backward(g));
        double w = quadraticWeight();
        double sq = 0;
        for (int i = 0; i < dx.length; i++) {
            dx[i] += (float) (g[0] * 2 * w * x[i]);
            sq += (double) x[i] * x[i];
        }
        p.grad()[0] += (float) (g[0] * sq * Activation.sigmoid(p.value()[0]));
        return dx;
    }

    public double value(float[] u) {
        return forward(u)[0];
    }

    /**
     * An estimate of the weak-convexity modulus: the largest {@code −f''(t)/‖d‖²} seen as a central
     * second difference with step {@code h} along {@code lines} random lines through random points
     * (0 when R is convex on all of them). A lower bound on the true ρ.
     */
    public double weakConvexityEstimate(int lines, double h, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = in.size();
        double rho = 0;
        for (int l = 0; l < lines; l++) {
            float[] u = new float[n];
            float[] d = new float[n];
            double dd = 0;
            for (int i = 0; i < n; i++) {
                u[i] = (float) r.nextDouble(-1, 1);
                d[i] = (float) r.nextDouble(-1, 1);
                dd += (double) d[i] * d[i];
            }
            for (int s = -5; s <= 5; s++) {
                double t = 0.3 * s;
                double f0 = valueAt(u, d, t);
                double fp = valueAt(u, d, t + h);
                double fm = valueAt(u, d, t - h);
                rho = Math.max(rho, -(fp - 2 * f0 + fm) / (h * h * dd));
            }
        }
        return rho;
    }

    private double valueAt(float[] u, float[] d, double t) {
        float[] v = new float[u.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (u[i] + t * d[i]);
        }
        return value(v);
    }
}
