package io.proxstream.solvers.nn;

import io.proxstream.solvers.inverse.LinearOperator;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A learned regulariser R of images and how it is trained (spec/inverse.md, "Learned regularisers"):
 * <ul>
 *   <li>{@code ar}: an unconstrained CNN (strided convolutions, LeakyReLU, spatial mean);</li>
 *   <li>{@code acr}: an ICNN plus a small fixed quadratic {@code q‖x‖²} (convex, strongly so if q > 0);</li>
 *   <li>{@code awcr}: an IWCNN, {@code ICNN(S(x)) + softplus(p)‖x‖²} (weakly convex);</li>
 *   <li>{@code acncr}: the convex-nonconvex construction {@code ½[IWCNN(A x/‖A‖) + ICNN(x)]}: a weakly
 *       convex critic of the normalised sinogram plus a convex critic of the image.</li>
 * </ul>
 * Training is adversarial ({@link CriticStep}): every part is a critic of its own space, fed
 * (truth, reconstruction) pairs in image space and (A·truth, noisy data)/‖A‖ pairs in data space;
 * the parts' losses are summed. One instance serves one thread; {@link #copy()} makes another.
 */
public final class Critic {

    /** The regulariser families. */
    public enum Kind {
        AR, ACR, AWCR, ACNCR;

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Kind fromId(String id) {
            for (Kind k : values()) {
                if (k.id().equals(id)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown regulariser '" + id + "'; valid: ar, acr, awcr, acncr");
        }

        /** The penalty the literature uses: one-sided for AR/AWCR, two-sided for ACR/ACNCR. */
        public CriticStep.Penalty penalty() {
            return this == AR || this == AWCR ? CriticStep.Penalty.ONE_SIDED : CriticStep.Penalty.TWO_SIDED;
        }

        /** The gradient-penalty weight μ of the literature: 10 (one-sided) or 5 (two-sided). */
        public double defaultMu() {
            return penalty() == CriticStep.Penalty.ONE_SIDED ? 10 : 5;
        }
    }

    /**
     * @param layers        hidden layers (ICNN) or convolutions (AR)
     * @param channels      channels per hidden layer
     * @param kernel        odd convolution size
     * @param smooth        channels of the IWCNN's smooth map (one 5×5 convolution + SiLU per entry)
     * @param quadratic     ACR's fixed weight q of ‖x‖²
     * @param smoothStrides the stride of each of the smooth map's convolutions (the public sparse-view IWCNN halves
     *                      the resolution four times on the way to 128 channels)
     */
    public record Architecture(int layers, int channels, int kernel, int[] smooth, double quadratic, int[] smoothStrides) {
        public Architecture {
            if (layers < 1 || channels < 1 || kernel < 1 || kernel % 2 == 0 || smooth.length == 0 || !(quadratic >= 0)) {
                throw new IllegalArgumentException("architecture: need layers >= 1, channels >= 1, an odd kernel, at least one "
                        + "smooth convolution and quadratic >= 0");
            }
            if (smoothStrides.length != smooth.length || java.util.Arrays.stream(smoothStrides).anyMatch(t -> t < 1)
                    || java.util.Arrays.stream(smooth).anyMatch(c -> c < 1)) {
                throw new IllegalArgumentException("architecture: the smooth map needs one stride >= 1 per convolution and channels "
                        + ">= 1, got channels " + java.util.Arrays.toString(smooth) + ", strides " + java.util.Arrays.toString(smoothStrides));
            }
            smooth = smooth.clone();
            smoothStrides = smoothStrides.clone();
        }

        /** Every smooth-map convolution at stride 1. */
        public Architecture(int layers, int channels, int kernel, int[] smooth, double quadratic) {
            this(layers, channels, kernel, smooth, quadratic, ones(smooth.length));
        }

        private static int[] ones(int n) {
            int[] o = new int[n];
            java.util.Arrays.fill(o, 1);
            return o;
        }

        /** CPU-sized defaults for 128² images: 3 layers of 8 channels, 3×3 kernels, smooth map 1→8, q = 1e-4. */
        public static Architecture defaults() {
            return new Architecture(3, 8, 3, new int[] {8}, 1e-4);
        }

        /** Whether some smooth-map convolution has a stride above 1. */
        public boolean stridedSmoothMap() {
            return java.util.Arrays.stream(smoothStrides).anyMatch(t -> t != 1);
        }

        @Override
        public int[] smooth() {
            return smooth.clone();
        }

        @Override
        public int[] smoothStrides() {
            return smoothStrides.clone();
        }

        @Override
        public String toString() {
            // the strides only when some is not 1, so that the description (which checkpoints are matched by) of every
            // stride-1 architecture is what it was before strides existed
            return String.format(Locale.ROOT, "%d layers x %d channels, %dx%d kernels, smooth map %s%s, quadratic %.3g", layers, channels,
                    kernel, kernel, java.util.Arrays.toString(smooth),
                    stridedSmoothMap() ? " strides " + java.util.Arrays.toString(smoothStrides) : "", quadratic);
        }
    }

    /** One adversarially trained part: a critic of image space or of (normalised) data space. */
    public record Part(String name, Layer net, boolean dataSpace) {
    }

    private static final int SMOOTH_KERNEL = 5;

    private final Kind kind;
    private final Architecture arch;
    private final Shape image;
    private final LinearOperator a;
    private final int[] dataShape;
    private final double aNorm;
    private final long seed;
    private final double slope;
    private final Layer net;
    private final List<Part> parts = new ArrayList<>();
    private final List<Icnn> icnns = new ArrayList<>();

    /**
     * @param n        image side (n × n)
     * @param a        the forward operator (needed by acncr; may be null for the others)
     * @param aNorm    ‖A‖ (acncr; ignored otherwise)
     */
    public Critic(Kind kind, Architecture arch, int n, LinearOperator a, double aNorm, long seed) {
        this(kind, arch, n, a, aNorm, seed, 0.2);
    }

    /** As above with the LeakyReLU slope of every network (1 makes them kink-free, for gradient checks). */
    Critic(Kind kind, Architecture arch, int n, LinearOperator a, double aNorm, long seed, double slope) {
        this.kind = kind;
        this.slope = slope;
        this.arch = arch;
        this.image = new Shape(1, n, n);
        this.a = a;
        this.aNorm = aNorm;
        this.seed = seed;
        this.dataShape = a == null ? null : a.rangeShape();
        SplittableRandom r = new SplittableRandom(seed);
        switch (kind) {
            case AR -> {
                Layer cnn = cnn(r.nextLong());
                parts.add(new Part("image", cnn, false));
                net = cnn;
            }
            case ACR -> {
                Icnn icnn = new Icnn(image, arch.layers(), arch.channels(), arch.kernel(), slope, r.nextLong());
                icnns.add(icnn);
                Layer acr = new WeightedSum(List.of(icnn, new SquaredNorm(image, arch.quadratic())), new double[] {1, 1});
                parts.add(new Part("image", acr, false));
                net = acr;
            }
            case AWCR -> {
                Iwcnn iw = iwcnn(image, r.nextLong());
                parts.add(new Part("image", iw, false));
                net = iw;
            }
            case ACNCR -> {
                if (a == null || dataShape.length != 2 || !(aNorm > 0)) {
                    throw new IllegalArgumentException("acncr needs the forward operator (a 2-D data shape) and its norm");
                }
                Shape data = new Shape(1, dataShape[0], dataShape[1]);
                Iwcnn dataCritic = iwcnn(data, r.nextLong());
                Icnn imageCritic = new Icnn(image, arch.layers(), arch.channels(), arch.kernel(), slope, r.nextLong());
                icnns.add(imageCritic);
                parts.add(new Part("data", dataCritic, true));
                parts.add(new Part("image", imageCritic, false));
                Layer onData = new Sequential(List.of(new OperatorLayer(a, 1 / aNorm, image, data), dataCritic));
                net = new WeightedSum(List.of(onData, imageCritic), new double[] {0.5, 0.5});
            }
            default -> throw new IllegalStateException();
        }
    }

    private Iwcnn iwcnn(Shape in, long s) {
        Iwcnn iw = new Iwcnn(in, arch.smooth(), arch.smoothStrides(), arch.layers(), arch.channels(), arch.kernel(), SMOOTH_KERNEL, slope, s);
        icnns.add(iw.icnn());
        return iw;
    }

    /** AR: a first convolution of {@code channels} at stride 1, then layers − 1 of 2·channels at stride 2, LeakyReLU(0.2), a 1×1 convolution to one channel and the spatial mean. */
    private Layer cnn(long s) {
        SplittableRandom r = new SplittableRandom(s);
        List<Layer> l = new ArrayList<>();
        Shape cur = image;
        for (int i = 0; i < arch.layers(); i++) {
            Conv2d c = new Conv2d(cur, i == 0 ? arch.channels() : 2 * arch.channels(), arch.kernel(), i == 0 ? 1 : 2, arch.kernel() / 2,
                    r.nextLong());
            l.add(c);
            l.add(Activation.leakyRelu(c.outputShape(), slope));
            cur = c.outputShape();
        }
        Conv2d last = new Conv2d(cur, 1, 1, 1, 0, r.nextLong());
        l.add(last);
        l.add(new SpatialMean(last.outputShape()));
        return new Sequential(l);
    }

    public Kind kind() {
        return kind;
    }

    public Architecture architecture() {
        return arch;
    }

    public int size() {
        return image.h();
    }

    public long seed() {
        return seed;
    }

    /** R on images (n² values in, one out). */
    public Layer net() {
        return net;
    }

    public List<Part> parts() {
        return parts;
    }

    /** Every trainable parameter, in a fixed order (the order of saved files). */
    public List<Param> params() {
        return net.params();
    }

    /** Restores the constraints after an update (non-negative ICNN weights). */
    public void project() {
        for (Icnn i : icnns) {
            i.project();
        }
    }

    /** The ICNNs inside (convex parts; for convexity checks). */
    public List<Icnn> convexParts() {
        return List.copyOf(icnns);
    }

    /** The same regulariser with its own layer caches (same architecture, seed and current parameters). */
    public Critic copy() {
        Critic c = new Critic(kind, arch, image.h(), a, aNorm, seed, slope);
        c.setParams(params());
        return c;
    }

    /** Copies parameter values (same architecture; sizes are checked). */
    public void setParams(List<Param> from) {
        List<Param> to = params();
        if (from.size() != to.size()) {
            throw new IllegalArgumentException(kind.id() + ": " + from.size() + " parameter arrays given, the architecture has " + to.size());
        }
        for (int i = 0; i < to.size(); i++) {
            setParam(i, from.get(i).value());
        }
    }

    /** Sets parameter {@code i} (checked against its size). */
    public void setParam(int i, float[] value) {
        Param p = params().get(i);
        if (value.length != p.value().length) {
            throw new IllegalArgumentException(kind.id() + ": parameter " + i + " (" + p.name() + ") has " + p.value().length
                    + " values, " + value.length + " given");
        }
        System.arraycopy(value, 0, p.value(), 0, value.length);
    }

    /** The loss of one training step, summed over the parts, with each part's pieces. */
    public record StepResult(double loss, double wasserstein, double penalty, List<CriticStep.Result> parts) {
    }

    /**
     * Accumulates the gradient of the summed critic losses on one batch.
     *
     * @param truths ground-truth images
     * @param recons their reconstructions (e.g. FBP of the noisy data)
     * @param data   the noisy data (used by data-space parts; may be null otherwise)
     */
    public StepResult accumulate(List<float[]> truths, List<float[]> recons, List<float[]> data, double mu, double h, SplittableRandom rnd) {
        List<CriticStep.Result> rs = new ArrayList<>();
        double loss = 0;
        double w = 0;
        double pen = 0;
        for (Part p : parts) {
            List<List<float[]>> in = inputs(p, truths, recons, data);
            CriticStep.Result r = CriticStep.accumulate(p.net(), in.get(0), in.get(1), mu, kind.penalty(), h, rnd);
            rs.add(r);
            loss += r.loss();
            w += r.wasserstein();
            pen += r.penalty();
        }
        return new StepResult(loss, w, pen, List.copyOf(rs));
    }

    /**
     * The Wasserstein estimate of the training loss without a step: summed over the parts, mean R(reconstruction) −
     * mean R(truth) (data-space parts on the normalised data, as in {@link #accumulate}). On pairs held out from
     * training it tells when training has stopped improving the critic.
     */
    public double wasserstein(List<float[]> truths, List<float[]> recons, List<float[]> data) {
        if (truths.isEmpty() || recons.size() != truths.size()) {
            throw new IllegalArgumentException("need as many reconstructions as truths, got " + recons.size() + " and " + truths.size());
        }
        double w = 0;
        for (Part p : parts) {
            List<List<float[]>> in = inputs(p, truths, recons, data);
            double fake = 0;
            double real = 0;
            for (int i = 0; i < truths.size(); i++) {
                real += p.net().forward(in.get(0).get(i))[0];
                fake += p.net().forward(in.get(1).get(i))[0];
            }
            w += (fake - real) / truths.size();
        }
        return w;
    }

    /**
     * What part {@code p} compares: (truths, reconstructions) for an image-space part; for a data-space part
     * (A·truth, noisy data), both divided by ‖A‖.
     */
    private List<List<float[]>> inputs(Part p, List<float[]> truths, List<float[]> recons, List<float[]> data) {
        if (!p.dataSpace()) {
            return List.of(truths, recons);
        }
        if (data == null) {
            throw new IllegalArgumentException(kind.id() + " has a data-space critic and needs the noisy data");
        }
        List<float[]> t = new ArrayList<>();
        List<float[]> f = new ArrayList<>();
        for (int i = 0; i < truths.size(); i++) {
            t.add(scaled(a.apply(truths.get(i)), 1 / aNorm));
            f.add(scaled(data.get(i).clone(), 1 / aNorm));
        }
        return List.of(t, f);
    }

    private static float[] scaled(float[] v, double s) {
        for (int i = 0; i < v.length; i++) {
            v[i] *= (float) s;
        }
        return v;
    }

    /** The IWCNN inside (awcr: the regulariser; acncr: the data-space critic), else null. */
    public Iwcnn weaklyConvexPart() {
        for (Part p : parts) {
            if (p.net() instanceof Iwcnn iw) {
                return iw;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return kind.id() + " (" + arch + ")";
    }
}
