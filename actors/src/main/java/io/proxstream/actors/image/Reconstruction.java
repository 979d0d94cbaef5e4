package io.proxstream.actors.image;

import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.IterateListener;
import io.proxstream.solvers.inverse.LinearOperator;
import io.proxstream.solvers.inverse.Reconstructors;
import io.proxstream.solvers.inverse.SolverResult;
import io.proxstream.solvers.progress.ProgressListener;

/**
 * A reconstruction method of the image stream: data of an operator in, an image out. The classical
 * methods come from {@link Reconstructors}; learned regularisers plug in the same way.
 * Implementations must be thread-safe (the solver stage runs several images at once).
 */
public interface Reconstruction {

    /** Name used in files, CSV rows and meters (e.g. {@code tv-pdhg}). */
    String name();

    /**
     * @param a        the forward operator
     * @param y        the data, {@code a.rangeSize()} values
     * @param fbp      filtered back-projection for CT operators, else null
     * @param listener per-iteration reports
     */
    SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener);

    /**
     * As {@link #solve(LinearOperator, float[], Fbp, ProgressListener)}, showing {@code iterates} the
     * iterate after every iteration (to score several iteration budgets in one solve on validation
     * images). Methods without iterates to show (FBP) or that do not expose them refuse.
     */
    default SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener, IterateListener iterates) {
        if (iterates == IterateListener.NONE) {
            return solve(a, y, fbp, listener);
        }
        throw new UnsupportedOperationException(name() + " does not show its iterates");
    }

    /** Whether {@link #solve(LinearOperator, float[], Fbp, ProgressListener, IterateListener)} shows the iterates. */
    default boolean showsIterates() {
        return false;
    }

    /** One of the classical methods with fixed options. */
    static Reconstruction of(Reconstructors.Options options) {
        return new Reconstruction() {
            @Override
            public String name() {
                return options.method();
            }

            @Override
            public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener) {
                return Reconstructors.reconstruct(options, a, y, fbp, listener);
            }

            @Override
            public String toString() {
                return options.toString();
            }
        };
    }

    /** The same method under another name (for parameter sweeps: {@code tv-pdhg@lambda=0.3}). */
    default Reconstruction named(String name) {
        Reconstruction self = this;
        return new Reconstruction() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener) {
                return self.solve(a, y, fbp, listener);
            }

            @Override
            public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener, IterateListener iterates) {
                return self.solve(a, y, fbp, listener, iterates);
            }

            @Override
            public boolean showsIterates() {
                return self.showsIterates();
            }
        };
    }
}
