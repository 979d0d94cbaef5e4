package io.proxstream.actors.learned;

import io.proxstream.actors.image.Reconstruction;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Functional;
import io.proxstream.solvers.inverse.Functionals;
import io.proxstream.solvers.inverse.GradientDescent;
import io.proxstream.solvers.inverse.IterateListener;
import io.proxstream.solvers.inverse.LinearOperator;
import io.proxstream.solvers.inverse.PrimalDual;
import io.proxstream.solvers.inverse.SolverResult;
import io.proxstream.solvers.inverse.StoppingRule;
import io.proxstream.solvers.nn.Critic;
import io.proxstream.solvers.nn.LearnedRegulariser;
import io.proxstream.solvers.progress.ProgressListener;

/**
 * Reconstruction with a trained regulariser R, started from the FBP, for a given iteration budget (chosen on
 * validation images by {@code experiment ct}; no stopping on the truth):
 * <ul>
 *   <li>gradient descent with Armijo backtracking on {@code ½‖Ax − y‖² + λR(x)} (AR, ACR, AWCR-GD, ACNCR);</li>
 *   <li>the primal-dual method with the smooth weakly convex part (AWCR-PD):
 *       {@code min λR(x) + ι_{x≥0}(x) + ½‖Ax − y‖²} with h = λR, f = ι_{≥0}, g = ½‖· − y‖² on the dual side, K = A,
 *       steps from τ(L/2 + σ‖A‖²) < 1, L starting from the Lipschitz estimate of ∇(λR) sampled near the FBP and
 *       doubled by backtracking whenever the descent inequality of λR fails between two iterates (a constant sampled at
 *       one point can be far too small along the iterates; see {@link PrimalDual}); σ = 1 (the data term's curvature) and
 *       the dual started at A x₀ − y, so the first step is a projected gradient step on the whole energy.</li>
 * </ul>
 * Every solve works on its own copy of the network, so images reconstruct in parallel.
 */
public final class LearnedReconstruction implements Reconstruction {
    private final String name;
    private final Critic critic;
    private final double lambda;
    private final double lipschitz;
    private final int iterations;
    private final boolean primalDual;

    private LearnedReconstruction(String name, Critic critic, double lambda, double lipschitz, int iterations, boolean primalDual) {
        if (!(lambda >= 0) || Double.isInfinite(lambda)) {
            throw new IllegalArgumentException(name + ": lambda must be finite and >= 0, got " + lambda);
        }
        if (iterations < 1) {
            throw new IllegalArgumentException(name + ": iterations must be positive, got " + iterations);
        }
        if (primalDual && !(lipschitz > 0 && Double.isFinite(lipschitz))) {
            throw new IllegalArgumentException(name + ": the primal-dual method needs a finite positive Lipschitz constant of the "
                    + "regulariser's gradient, got " + lipschitz);
        }
        this.name = name;
        this.critic = critic == null ? null : critic.copy();
        this.lambda = lambda;
        this.lipschitz = lipschitz;
        this.iterations = iterations;
        this.primalDual = primalDual;
    }

    /**
     * The same solvers without a regulariser (λ = 0): what the iterations on the data term alone (and,
     * for the primal-dual method, the non-negativity constraint) add to the FBP they start from.
     */
    public static LearnedReconstruction dataOnly(String name, boolean primalDual, int iterations) {
        return new LearnedReconstruction(name, null, 0, 1, iterations, primalDual);
    }

    /** Gradient descent with backtracking on the variational energy. */
    public static LearnedReconstruction gradientDescent(String name, Critic critic, double lambda, int iterations) {
        return new LearnedReconstruction(name, critic, lambda, 1, iterations, false);
    }

    /** The primal-dual method with λR as the smooth weakly convex part ({@code lipschitz}: of ∇(λR)). */
    public static LearnedReconstruction primalDual(String name, Critic critic, double lambda, double lipschitz, int iterations) {
        return new LearnedReconstruction(name, critic, lambda, lipschitz, iterations, true);
    }

    public double lambda() {
        return lambda;
    }

    public int iterations() {
        return iterations;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener) {
        return solve(a, y, fbp, listener, IterateListener.NONE);
    }

    @Override
    public boolean showsIterates() {
        return true;
    }

    @Override
    public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener, IterateListener iterates) {
        if (fbp == null) {
            throw new IllegalArgumentException(name + " is trained for CT and needs a CT operator");
        }
        if (critic != null && a.domainSize() != (long) critic.size() * critic.size()) {
            throw new IllegalArgumentException(name + " was trained on " + critic.size() + "² images, these have " + a.domainSize()
                    + " pixels");
        }
        float[] x0 = fbp.reconstruct(y);
        Functional r = critic == null ? Functionals.zero() : new LearnedRegulariser(critic.copy().net(), lambda, primalDual ? lipschitz : 1);
        if (primalDual) {
            return PrimalDual.solve(r, Functionals.nonNegativity(), Functionals.squaredDistance(y, 1), a, x0,
                    PrimalDual.Options.iterations(iterations), StoppingRule.NEVER, listener, iterates);
        }
        Functional energy = Functionals.sum(Functionals.composed(Functionals.squaredDistance(y, 1), a), r);
        return GradientDescent.solve(energy, x0, GradientDescent.Options.armijo(iterations), StoppingRule.NEVER, listener, iterates);
    }

    @Override
    public String toString() {
        return name + " (" + (critic == null ? "no regulariser" : critic) + ", lambda " + lambda + ", " + iterations + " iterations" + (primalDual ? ", primal-dual" : ", GD") + ")";
    }
}
