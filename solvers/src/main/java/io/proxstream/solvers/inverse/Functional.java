package io.proxstream.solvers.inverse;

/**
 * A functional F on flat vectors: its value, its gradient where smooth, its proximal map where it
 * has one, and the proximal map of its convex conjugate by the Moreau identity
 * {@code prox_{σF*}(v) = v − σ prox_{F/σ}(v/σ)}. The proximal map is
 * {@code prox_{τF}(v) = argmin_u F(u) + ‖u − v‖²/(2τ)}.
 */
public interface Functional {

    /** The value at {@code x} (may be +∞ for indicators). */
    double value(float[] x);

    /** True if {@link #gradient} is available (F differentiable with Lipschitz gradient). */
    default boolean isSmooth() {
        return false;
    }

    /** {@code out = ∇F(x)}; only for smooth functionals. */
    default void gradient(float[] x, float[] out) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is not differentiable");
    }

    /** A Lipschitz constant of ∇F (smooth functionals). */
    default double lipschitz() {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is not differentiable");
    }

    /** {@code out = prox_{τF}(v)}; {@code out} may be {@code v}. */
    void proximal(double tau, float[] v, float[] out);

    /** The proximal map of τF as an object (for solvers that hold it). */
    default Proximal proximal(double tau) {
        return (v, out) -> proximal(tau, v, out);
    }

    /** {@code out = prox_{σF*}(v)} by the Moreau identity; {@code out} may not be {@code v}. */
    default void conjugateProximal(double sigma, float[] v, float[] out) {
        if (out == v) {
            throw new IllegalArgumentException("conjugateProximal needs distinct input and output arrays");
        }
        float inv = (float) (1 / sigma);
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] * inv;
        }
        proximal(1 / sigma, out, out);
        float s = (float) sigma;
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] - s * out[i];
        }
    }

    /** A proximal map {@code v ↦ prox(v)}. */
    @FunctionalInterface
    interface Proximal {
        void apply(float[] v, float[] out);
    }
}
