package io.proxstream.solvers.inverse;

import io.proxstream.solvers.parallel.Parallel;

/**
 * The functionals of the variational models: squared L2 distance, L1, the mixed L2,1 norm
 * (isotropic TV on a gradient field), non-negativity and box indicators, Huber (elementwise and
 * grouped), zero, and the composition of a smooth functional with a linear operator.
 */
public final class Functionals {
    private static final int GRAIN = 1 << 15;

    private Functionals() {
    }

    /** {@code (w/2)‖x − b‖²}; smooth (L = w), prox {@code (v + τ w b)/(1 + τ w)}. */
    public static Functional squaredDistance(float[] b, double w) {
        float[] target = b.clone();
        requireWeight("squared distance", w);
        return new Functional() {
            @Override
            public double value(float[] x) {
                Vectors.requireLength("argument", x, target.length);
                return 0.5 * w * sq(Vectors.distance(x, target));
            }

            @Override
            public boolean isSmooth() {
                return true;
            }

            @Override
            public void gradient(float[] x, float[] out) {
                float wf = (float) w;
                Parallel.forRange(x.length, GRAIN, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        out[i] = wf * (x[i] - target[i]);
                    }
                });
            }

            @Override
            public double lipschitz() {
                return w;
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                Vectors.requireLength("argument", v, target.length);
                float a = (float) (1 / (1 + tau * w));
                float c = (float) (tau * w);
                Parallel.forRange(v.length, GRAIN, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        out[i] = a * (v[i] + c * target[i]);
                    }
                });
            }
        };
    }

    /** {@code w‖x‖₁}; prox is soft thresholding by τw. */
    public static Functional l1(double w) {
        requireWeight("L1", w);
        return new Functional() {
            @Override
            public double value(float[] x) {
                return w * Parallel.sum(x.length, GRAIN, (from, to) -> {
                    double s = 0;
                    for (int i = from; i < to; i++) {
                        s += Math.abs(x[i]);
                    }
                    return s;
                });
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                float t = (float) (tau * w);
                Parallel.forRange(v.length, GRAIN, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        float a = Math.abs(v[i]) - t;
                        out[i] = a > 0 ? Math.copySign(a, v[i]) : 0f;
                    }
                });
            }
        };
    }

    /**
     * The mixed norm {@code w Σ_p ‖(x[0,p], …, x[c−1,p])‖₂} of a field of {@code components}
     * stacked blocks (isotropic TV when applied to {@link Gradient}'s output); prox shrinks each
     * group: {@code x_p · max(0, 1 − τw/‖x_p‖)}.
     */
    public static Functional l21(double w, int components) {
        requireWeight("L2,1", w);
        if (components <= 0) {
            throw new IllegalArgumentException("components must be positive, got " + components);
        }
        return new Functional() {
            @Override
            public double value(float[] x) {
                int n = groups(x);
                return w * Parallel.sum(n, GRAIN / components, (from, to) -> {
                    double s = 0;
                    for (int p = from; p < to; p++) {
                        double g = 0;
                        for (int c = 0; c < components; c++) {
                            double v = x[c * n + p];
                            g += v * v;
                        }
                        s += Math.sqrt(g);
                    }
                    return s;
                });
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                int n = groups(v);
                double t = tau * w;
                Parallel.forRange(n, GRAIN / components, (from, to) -> {
                    for (int p = from; p < to; p++) {
                        double g = 0;
                        for (int c = 0; c < components; c++) {
                            double a = v[c * n + p];
                            g += a * a;
                        }
                        g = Math.sqrt(g);
                        float f = g > t ? (float) (1 - t / g) : 0f;
                        for (int c = 0; c < components; c++) {
                            out[c * n + p] = f * v[c * n + p];
                        }
                    }
                });
            }

            /** The conjugate is the indicator of the dual ball {max_p ‖x_p‖ ≤ w}: its prox projects onto it. */
            @Override
            public void conjugateProximal(double sigma, float[] v, float[] out) {
                int n = groups(v);
                Parallel.forRange(n, GRAIN / components, (from, to) -> {
                    for (int p = from; p < to; p++) {
                        double g = 0;
                        for (int c = 0; c < components; c++) {
                            double a = v[c * n + p];
                            g += a * a;
                        }
                        g = Math.sqrt(g);
                        float f = g > w ? (float) (w / g) : 1f;
                        for (int c = 0; c < components; c++) {
                            out[c * n + p] = f * v[c * n + p];
                        }
                    }
                });
            }

            private int groups(float[] x) {
                if (x.length % components != 0) {
                    throw new IllegalArgumentException("a field of " + x.length + " values is not " + components + " components");
                }
                return x.length / components;
            }
        };
    }

    /** The indicator of {x ≥ 0}; prox is the projection max(0, ·). */
    public static Functional nonNegativity() {
        return box(0, Double.POSITIVE_INFINITY);
    }

    /** The indicator of {lo ≤ x ≤ hi}; prox clamps. */
    public static Functional box(double lo, double hi) {
        if (!(lo <= hi)) {
            throw new IllegalArgumentException("box [" + lo + ", " + hi + "] is empty");
        }
        float l = (float) lo;
        float u = (float) hi;
        return new Functional() {
            @Override
            public double value(float[] x) {
                for (float v : x) {
                    if (v < l || v > u) {
                        return Double.POSITIVE_INFINITY;
                    }
                }
                return 0;
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                Parallel.forRange(v.length, GRAIN, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        out[i] = Math.min(u, Math.max(l, v[i]));
                    }
                });
            }
        };
    }

    /**
     * Elementwise Huber {@code w Σ h_δ(x_i)}, h_δ(t) = t²/(2δ) for |t| ≤ δ, |t| − δ/2 beyond:
     * smooth (L = w/δ), prox in closed form.
     */
    public static Functional huber(double delta, double w) {
        return groupHuber(delta, w, 1);
    }

    /**
     * Grouped Huber {@code w Σ_p h_δ(‖x_p‖)} over groups of {@code components} stacked blocks: a
     * smooth approximation of the L2,1 norm (smoothed isotropic TV on a gradient field).
     */
    public static Functional groupHuber(double delta, double w, int components) {
        requireWeight("Huber", w);
        if (!(delta > 0) || Double.isInfinite(delta)) {
            throw new IllegalArgumentException("Huber delta must be positive, got " + delta);
        }
        return new Functional() {
            @Override
            public double value(float[] x) {
                int n = x.length / components;
                return w * Parallel.sum(n, GRAIN, (from, to) -> {
                    double s = 0;
                    for (int p = from; p < to; p++) {
                        double g = norm(x, p, n);
                        s += g <= delta ? g * g / (2 * delta) : g - delta / 2;
                    }
                    return s;
                });
            }

            @Override
            public boolean isSmooth() {
                return true;
            }

            @Override
            public void gradient(float[] x, float[] out) {
                int n = x.length / components;
                Parallel.forRange(n, GRAIN, (from, to) -> {
                    for (int p = from; p < to; p++) {
                        double g = norm(x, p, n);
                        float f = (float) (w / Math.max(g, delta));
                        for (int c = 0; c < components; c++) {
                            out[c * n + p] = f * x[c * n + p];
                        }
                    }
                });
            }

            @Override
            public double lipschitz() {
                return w / delta;
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                int n = v.length / components;
                double t = tau * w;
                Parallel.forRange(n, GRAIN, (from, to) -> {
                    for (int p = from; p < to; p++) {
                        double g = norm(v, p, n);
                        // quadratic zone: u = v·δ/(δ+t); linear zone: shrink the norm by t
                        float f = g <= delta + t ? (float) (delta / (delta + t)) : (float) (1 - t / g);
                        for (int c = 0; c < components; c++) {
                            out[c * n + p] = f * v[c * n + p];
                        }
                    }
                });
            }

            private double norm(float[] x, int p, int n) {
                double s = 0;
                for (int c = 0; c < components; c++) {
                    double a = x[c * n + p];
                    s += a * a;
                }
                return Math.sqrt(s);
            }
        };
    }

    /** F ≡ 0. */
    public static Functional zero() {
        return new Functional() {
            @Override
            public double value(float[] x) {
                return 0;
            }

            @Override
            public boolean isSmooth() {
                return true;
            }

            @Override
            public void gradient(float[] x, float[] out) {
                java.util.Arrays.fill(out, 0f);
            }

            @Override
            public double lipschitz() {
                return 0;
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                System.arraycopy(v, 0, out, 0, v.length);
            }
        };
    }

    /**
     * {@code x ↦ F(Kx)} for smooth F: gradient {@code Kᵀ∇F(Kx)}, Lipschitz constant
     * {@code L_F·‖K‖²} (‖K‖ estimated by the power method). No proximal map.
     */
    public static Functional composed(Functional f, LinearOperator k) {
        if (!f.isSmooth()) {
            throw new IllegalArgumentException("only a smooth functional can be composed with an operator here");
        }
        double knorm = k.normEstimate(50, 7);
        return new Functional() {
            private final float[] kx = new float[k.rangeSize()];
            private final float[] gk = new float[k.rangeSize()];

            @Override
            public synchronized double value(float[] x) {
                k.apply(x, kx);
                return f.value(kx);
            }

            @Override
            public boolean isSmooth() {
                return true;
            }

            @Override
            public synchronized void gradient(float[] x, float[] out) {
                k.apply(x, kx);
                f.gradient(kx, gk);
                k.adjoint(gk, out);
            }

            @Override
            public double lipschitz() {
                return f.lipschitz() * knorm * knorm * 1.01;
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                throw new UnsupportedOperationException("F∘K has no closed-form proximal map");
            }
        };
    }

    /** The sum of smooth functionals (gradients and Lipschitz constants add). */
    public static Functional sum(Functional... parts) {
        for (Functional p : parts) {
            if (!p.isSmooth()) {
                throw new IllegalArgumentException("only smooth functionals can be summed here");
            }
        }
        return new Functional() {
            @Override
            public double value(float[] x) {
                double s = 0;
                for (Functional p : parts) {
                    s += p.value(x);
                }
                return s;
            }

            @Override
            public boolean isSmooth() {
                return true;
            }

            @Override
            public synchronized void gradient(float[] x, float[] out) {
                float[] tmp = new float[out.length];
                java.util.Arrays.fill(out, 0f);
                for (Functional p : parts) {
                    p.gradient(x, tmp);
                    Vectors.axpy(out, 1f, tmp, out);
                }
            }

            @Override
            public double lipschitz() {
                double l = 0;
                for (Functional p : parts) {
                    l += p.lipschitz();
                }
                return l;
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                throw new UnsupportedOperationException("a sum has no closed-form proximal map");
            }
        };
    }

    /**
     * The separable functional (u, v) ↦ F(u) + G(v) on a flat vector whose first {@code sizeF}
     * entries are u: its prox and conjugate prox act blockwise (pairs with {@link Operators#stack}).
     */
    public static Functional separable(Functional f, int sizeF, Functional g, int sizeG) {
        return new Functional() {
            private float[] part(float[] x, int from, int len) {
                float[] p = new float[len];
                System.arraycopy(x, from, p, 0, len);
                return p;
            }

            @Override
            public double value(float[] x) {
                Vectors.requireLength("argument", x, sizeF + sizeG);
                return f.value(part(x, 0, sizeF)) + g.value(part(x, sizeF, sizeG));
            }

            @Override
            public void proximal(double tau, float[] v, float[] out) {
                float[] a = part(v, 0, sizeF);
                float[] b = part(v, sizeF, sizeG);
                f.proximal(tau, a, a);
                g.proximal(tau, b, b);
                System.arraycopy(a, 0, out, 0, sizeF);
                System.arraycopy(b, 0, out, sizeF, sizeG);
            }

            @Override
            public void conjugateProximal(double sigma, float[] v, float[] out) {
                float[] a = part(v, 0, sizeF);
                float[] b = part(v, sizeF, sizeG);
                float[] ca = new float[sizeF];
                float[] cb = new float[sizeG];
                f.conjugateProximal(sigma, a, ca);
                g.conjugateProximal(sigma, b, cb);
                System.arraycopy(ca, 0, out, 0, sizeF);
                System.arraycopy(cb, 0, out, sizeF, sizeG);
            }
        };
    }

    private static double sq(double v) {
        return v * v;
    }

    private static void requireWeight(String what, double w) {
        if (!(w >= 0) || Double.isInfinite(w)) {
            throw new IllegalArgumentException(what + " weight must be finite and >= 0, got " + w);
        }
    }
}
