package io.proxstream.solvers.inverse;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A linear map between flat float vectors with known shapes, given by its action and its adjoint
 * (the transpose for the Euclidean inner product). Solvers use operators only through
 * {@link #apply} and {@link #adjoint}, so matrix-free operators work.
 *
 * <p>Both methods overwrite {@code out} entirely and do not modify their input.
 */
public interface LinearOperator {

    /** Shape of the domain, e.g. {@code [h, w]} for an image. */
    int[] domainShape();

    /** Shape of the range, e.g. {@code [angles, detectors]} for a sinogram. */
    int[] rangeShape();

    /** {@code out = A x}. */
    void apply(float[] x, float[] out);

    /** {@code out = Aᵀ y}. */
    void adjoint(float[] y, float[] out);

    /** Number of entries of a domain vector. */
    default int domainSize() {
        return size(domainShape());
    }

    /** Number of entries of a range vector. */
    default int rangeSize() {
        return size(rangeShape());
    }

    /** {@code A x} in a new array. */
    default float[] apply(float[] x) {
        float[] out = new float[rangeSize()];
        apply(x, out);
        return out;
    }

    /** {@code Aᵀ y} in a new array. */
    default float[] adjoint(float[] y) {
        float[] out = new float[domainSize()];
        adjoint(y, out);
        return out;
    }

    /** {@code this ∘ inner}: x ↦ A(inner(x)). */
    default LinearOperator compose(LinearOperator inner) {
        return Operators.compose(this, inner);
    }

    /** {@code this + other} (same shapes). */
    default LinearOperator plus(LinearOperator other) {
        return Operators.sum(this, other);
    }

    /** {@code a · this}. */
    default LinearOperator scaled(double a) {
        return Operators.scale(this, a);
    }

    /** The adjoint as an operator. */
    default LinearOperator transposed() {
        return Operators.transpose(this);
    }

    /**
     * An estimate of the operator norm ‖A‖ = sqrt(largest eigenvalue of AᵀA) by the power method
     * from a seeded random start; {@code iterations} of AᵀA.
     */
    default double normEstimate(int iterations, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[domainSize()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextDouble() - 0.5);
        }
        float[] ax = new float[rangeSize()];
        float[] atax = new float[domainSize()];
        double lambda = 0;
        for (int it = 0; it < iterations; it++) {
            double n = Vectors.norm(x);
            if (n == 0) {
                return 0;
            }
            Vectors.scale(x, (float) (1 / n));
            apply(x, ax);
            adjoint(ax, atax);
            lambda = Vectors.dot(x, atax);
            System.arraycopy(atax, 0, x, 0, x.length);
        }
        return Math.sqrt(Math.max(lambda, 0));
    }

    static int size(int[] shape) {
        long n = 1;
        for (int s : shape) {
            n *= s;
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " is too large");
        }
        return (int) n;
    }
}
