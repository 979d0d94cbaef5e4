package io.proxstream.solvers.sae;

import io.proxstream.solvers.parallel.Parallel;

/**
 * Adam (Kingma and Ba, 2015) with the bias correction and L2 weight decay of
 * {@code torch.optim.Adam}, fused into one pass over a parameter array.
 *
 * <p>The update can add a proximal anchor term {@code coef·(p − anchor)} to the gradient (the
 * PAM-SGD encoder's {@code μ‖W − W_prev‖²} has {@code coef = 2μ}) and scale the gradient for global
 * norm clipping. Gradients may be row-sparse (see {@link SaeGradients}): untouched rows are treated
 * as zero gradient without being read, but their moments still decay and the parameters still move,
 * exactly as a dense Adam step with a zero gradient there.
 */
public final class Adam {

    /**
     * @param lr          step size
     * @param beta1       first-moment decay
     * @param beta2       second-moment decay
     * @param eps         denominator offset
     * @param weightDecay L2 coefficient added to the gradient as {@code wd·p} (torch semantics)
     */
    public record Options(double lr, double beta1, double beta2, double eps, double weightDecay) {
        public Options {
            if (!(lr >= 0) || Double.isInfinite(lr)) {
                throw new IllegalArgumentException("lr must be finite and >= 0, got " + lr);
            }
            if (!(beta1 >= 0 && beta1 < 1)) {
                throw new IllegalArgumentException("beta1 must be in [0,1), got " + beta1);
            }
            if (!(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("beta2 must be in [0,1), got " + beta2);
            }
            if (!(eps > 0)) {
                throw new IllegalArgumentException("eps must be > 0, got " + eps);
            }
            if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
                throw new IllegalArgumentException("weightDecay must be finite and >= 0, got " + weightDecay);
            }
        }

        /** torch defaults with the given step size. */
        public static Options withLr(double lr) {
            return new Options(lr, 0.9, 0.999, 1e-8, 0.0);
        }
    }

    /** Moments of one parameter array. */
    public static final class State {
        final float[] m1;
        final float[] m2;

        public State(int size) {
            m1 = new float[size];
            m2 = new float[size];
        }

        /** First moments (for checkpoints). */
        public float[] firstMoment() {
            return m1;
        }

        /** Second moments (for checkpoints). */
        public float[] secondMoment() {
            return m2;
        }
    }

    private final Options options;
    private long step;

    public Adam(Options options) {
        this.options = options;
    }

    public Options options() {
        return options;
    }

    /** Number of completed steps (t of the bias correction). */
    public long steps() {
        return step;
    }

    /** Restores the step counter (checkpoints). */
    public void setSteps(long t) {
        this.step = t;
    }

    /** Adds the moments of {@code state} under {@code prefix + ".m1"} / {@code ".m2"}. */
    public static void saveMoments(TrainerState.Builder b, String prefix, State state) {
        b.put(prefix + ".m1", state.m1).put(prefix + ".m2", state.m2);
    }

    /** Loads moments written by {@link #saveMoments}. */
    public static void loadMoments(TrainerState s, String prefix, State state) {
        s.copy(prefix + ".m1", state.m1);
        s.copy(prefix + ".m2", state.m2);
    }

    /** Starts a new step: all parameter blocks updated until the next call share its bias correction. */
    public void beginStep() {
        step++;
    }

    /**
     * Squared norm of the effective gradient {@code g + coef·(p − anchor)} of one block.
     *
     * @param touched row mask ({@code null}: all rows hold a gradient)
     * @param anchor  proximal anchor or {@code null}
     */
    public static double gradNormSq(float[] p, float[] g, boolean[] touched, int rowLen, float[] anchor, float coef) {
        int rowsN = p.length / rowLen;
        return Parallel.sum(rowsN, 16, (from, to) -> {
            double s = 0;
            for (int r = from; r < to; r++) {
                boolean has = touched == null || touched[r];
                int o = r * rowLen;
                for (int i = o; i < o + rowLen; i++) {
                    float gi = has ? g[i] : 0f;
                    if (anchor != null) {
                        gi += coef * (p[i] - anchor[i]);
                    }
                    s += (double) gi * gi;
                }
            }
            return s;
        });
    }

    /**
     * One Adam update of {@code p} (modified) with the effective gradient
     * {@code scale·(g + coef·(p − anchor)) + wd·p}; {@code state} is modified. Call
     * {@link #beginStep()} once per optimisation step before updating its blocks.
     *
     * @param g       gradient (not modified); rows with {@code touched[r] == false} are not read
     * @param touched row mask ({@code null}: all rows hold a gradient)
     * @param rowLen  length of a row of {@code p}
     * @param anchor  proximal anchor or {@code null} (not modified)
     * @param scale   gradient scale for norm clipping (1 = none)
     */
    public void update(float[] p, float[] g, boolean[] touched, int rowLen, State state,
                       float[] anchor, float coef, float scale) {
        if (step == 0) {
            throw new IllegalStateException("call beginStep() before update()");
        }
        final float b1 = (float) options.beta1();
        final float b2 = (float) options.beta2();
        final float ob1 = 1f - b1;
        final float ob2 = 1f - b2;
        final double bc1 = 1.0 - Math.pow(options.beta1(), step);
        final double bc2 = 1.0 - Math.pow(options.beta2(), step);
        // p -= lr * (m/bc1) / (sqrt(v/bc2) + eps) = stepSize * m / (sqrt(v) + eps*sqrt(bc2))
        final float stepSize = (float) (options.lr() / bc1 * Math.sqrt(bc2));
        final float epsHat = (float) (options.eps() * Math.sqrt(bc2));
        final float wd = (float) options.weightDecay();
        final float[] m1 = state.m1;
        final float[] m2 = state.m2;
        int rowsN = p.length / rowLen;
        Parallel.forRange(rowsN, 16, (from, to) -> {
            for (int r = from; r < to; r++) {
                boolean has = touched == null || touched[r];
                int o = r * rowLen;
                int end = o + rowLen;
                if (has && anchor != null) {
                    for (int i = o; i < end; i++) {
                        float gi = scale * (g[i] + coef * (p[i] - anchor[i])) + wd * p[i];
                        float a = b1 * m1[i] + ob1 * gi;
                        float v = b2 * m2[i] + ob2 * gi * gi;
                        m1[i] = a;
                        m2[i] = v;
                        p[i] -= stepSize * a / ((float) Math.sqrt(v) + epsHat);
                    }
                } else if (has) {
                    for (int i = o; i < end; i++) {
                        float gi = scale * g[i] + wd * p[i];
                        float a = b1 * m1[i] + ob1 * gi;
                        float v = b2 * m2[i] + ob2 * gi * gi;
                        m1[i] = a;
                        m2[i] = v;
                        p[i] -= stepSize * a / ((float) Math.sqrt(v) + epsHat);
                    }
                } else if (anchor != null) {
                    for (int i = o; i < end; i++) {
                        float gi = scale * coef * (p[i] - anchor[i]) + wd * p[i];
                        float a = b1 * m1[i] + ob1 * gi;
                        float v = b2 * m2[i] + ob2 * gi * gi;
                        m1[i] = a;
                        m2[i] = v;
                        p[i] -= stepSize * a / ((float) Math.sqrt(v) + epsHat);
                    }
                } else {
                    for (int i = o; i < end; i++) {
                        float gi = wd * p[i];
                        float a = b1 * m1[i] + ob1 * gi;
                        float v = b2 * m2[i] + ob2 * gi * gi;
                        m1[i] = a;
                        m2[i] = v;
                        p[i] -= stepSize * a / ((float) Math.sqrt(v) + epsHat);
                    }
                }
            }
        });
    }
}
