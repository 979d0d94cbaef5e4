package io.proxstream.solvers.graph;

import io.proxstream.solvers.parallel.Parallel;

/**
 * Fidelity-forced graph MBO (Merkurjev, Kostić, Bertozzi 2013; Garcia-Cardona et al. 2014) and its
 * semi-discrete implicit Euler variant SDIE (Budd, van Gennip, Latz 2021), in the basis of K
 * eigenvectors X of the graph Laplacian (spec/graph.md).
 *
 * <p>State u ∈ [0,1]^{n×C}; labelled nodes Z with labels f, fidelity M = diag(μ χ_Z). One
 * iteration: diffusion for time τ of {@code u_t = −L u − M(u − f) − γ r} in N_s sub-steps of
 * dt = τ/N_s, then a threshold. The optional region term r (n × C, e.g. {@code ‖u_i − c_k‖²} of the
 * joint scheme) is an extra forcing that pushes node i away from classes whose mean it does not
 * resemble; γ = 0 gives the plain scheme.
 *
 * <p>Sub-steps (deviation from the spec's explicit fidelity, stated): the spec's
 * {@code u ← X (I + dt Λ)^{-1} Xᵀ (u − dt M(u − f))} takes the fidelity explicitly and diverges once
 * {@code dt μ ‖X_Zᵀ X_Z‖ > 2} — with K = 50 and μ = 300 it oscillated on noisy images and never
 * stopped. We take both L and the fidelity implicitly in span(X): with u = X a,
 * {@code (I + dt Λ + dt μ X_Zᵀ X_Z) a⁺ = a + dt μ X_Zᵀ f_Z − dt γ Xᵀ r}, a K × K SPD system (Cholesky),
 * unconditionally stable, and the same iteration as the spec's to first order in dt. The first
 * sub-step starts from {@code a = Xᵀ u} of the thresholded state. Only that projection and the
 * evaluation {@code X a} before the threshold touch all n nodes: O(n·K·C) per iteration.
 *
 * <p>Threshold: MBO gives each node the class with the largest value (ties to the lower class).
 * SDIE (two classes) with λ = τ/ε: with {@code s = ½(1 + v₁ − v₀)}, class 1's share becomes
 * {@code 0 if s < λ/2, 1 if s > 1 − λ/2, (s − λ/2)/(1 − λ) otherwise}; λ = 1 is the MBO threshold.
 * Stopping: when the fraction of nodes whose label changed falls below {@code tol}, or after
 * {@code maxIterations}.
 */
public final class GraphMbo {
    private GraphMbo() {
    }

    /**
     * @param tau            diffusion time per iteration
     * @param substeps       N_s
     * @param mu             fidelity weight on labelled nodes
     * @param gamma          weight of the region forcing (0 = none)
     * @param sdie           use the SDIE threshold (two classes) instead of the MBO one
     * @param lambda         SDIE λ in (0, 1]; λ = 1 is the MBO threshold in SDIE's form
     * @param maxIterations  iteration cap
     * @param tol            stop when at most this fraction of labels changed (negative: always run maxIterations)
     */
    public record Options(double tau, int substeps, double mu, double gamma, boolean sdie, double lambda, int maxIterations, double tol) {
        public Options {
            if (!(tau > 0) || substeps < 1 || !(mu >= 0) || !(gamma >= 0) || !(lambda > 0 && lambda <= 1) || maxIterations < 1
                    || Double.isNaN(tol)) {
                throw new IllegalArgumentException("MBO options: need tau > 0, substeps >= 1, mu >= 0, gamma >= 0, lambda in (0, 1], "
                        + "maxIterations >= 1, tol not NaN; got tau=" + tau + ", substeps=" + substeps + ", mu=" + mu + ", gamma=" + gamma
                        + ", lambda=" + lambda + ", maxIterations=" + maxIterations + ", tol=" + tol);
            }
        }

        public static Options defaults() {
            return new Options(0.3, 5, 300, 0, false, 1, 300, 1e-4);
        }

        public Options withGamma(double g) {
            return new Options(tau, substeps, mu, g, sdie, lambda, maxIterations, tol);
        }

        /** The SDIE threshold with this λ. */
        public Options sdie(double l) {
            return new Options(tau, substeps, mu, gamma, true, l, maxIterations, tol);
        }

        public Options withTau(double t) {
            return new Options(t, substeps, mu, gamma, sdie, lambda, maxIterations, tol);
        }

        public Options withMu(double m) {
            return new Options(tau, substeps, m, gamma, sdie, lambda, maxIterations, tol);
        }

        public Options withIterations(int max) {
            return new Options(tau, substeps, mu, gamma, sdie, lambda, max, tol);
        }
    }

    /**
     * @param labels      the class of every node (argmax of the final state)
     * @param state       the final state u, n × C row-major
     * @param iterations  iterations run
     * @param changes     labels changed in each iteration
     * @param converged   stopped by the tolerance
     */
    public record Result(int[] labels, float[] state, int iterations, int[] changes, boolean converged, double seconds) {
    }

    /**
     * Runs the scheme.
     *
     * @param eig     K eigenpairs of the Laplacian
     * @param classes C ≥ 2
     * @param fidelity labels of the labelled nodes, −1 elsewhere (every class must occur)
     * @param init    initial state n × C (null: the fidelity labels, 1/C on unlabelled nodes)
     * @param region  region forcing n × C (null: none)
     */
    public static Result run(Nystrom.Eigen eig, int classes, int[] fidelity, float[] init, float[] region, Options o) {
        int n = eig.n();
        int k = eig.k();
        int c = classes;
        if (classes < 2) {
            throw new IllegalArgumentException("need at least 2 classes, got " + classes);
        }
        if (fidelity.length != n) {
            throw new IllegalArgumentException("labels cover " + fidelity.length + " nodes, the graph has " + n);
        }
        if (o.sdie() && classes != 2) {
            throw new IllegalArgumentException("the SDIE threshold is defined for two classes, got " + classes);
        }
        Labels.requireEveryClass(fidelity, classes);
        if (init != null && init.length != n * c) {
            throw new IllegalArgumentException("initial state has " + init.length + " values, expected " + n + "x" + c);
        }
        if (region != null && region.length != n * c) {
            throw new IllegalArgumentException("region forcing has " + region.length + " values, expected " + n + "x" + c);
        }
        long t0 = System.nanoTime();
        int zCount = 0;
        for (int v : fidelity) {
            zCount += v >= 0 ? 1 : 0;
        }
        int[] z = new int[zCount];
        for (int i = 0, q = 0; i < n; i++) {
            if (fidelity[i] >= 0) {
                z[q++] = i;
            }
        }
        float[] x = eig.vectors();
        float[] xz = new float[zCount * k];
        for (int q = 0; q < zCount; q++) {
            System.arraycopy(x, z[q] * k, xz, q * k, k);
        }
        float[] u = new float[n * c];
        if (init != null) {
            System.arraycopy(init, 0, u, 0, n * c);
        } else {
            for (int i = 0; i < n; i++) {
                if (fidelity[i] >= 0) {
                    u[i * c + fidelity[i]] = 1;
                } else {
                    for (int cl = 0; cl < c; cl++) {
                        u[i * c + cl] = 1f / c;
                    }
                }
            }
        }
        double dt = o.tau() / o.substeps();
        // system matrix I + dtΛ + dtμ X_Zᵀ X_Z and the constant right-hand side dtμ X_Zᵀ f_Z − dtγ Xᵀ r
        double[] sys = new double[k * k];
        for (int q = 0; q < zCount; q++) {
            for (int p = 0; p < k; p++) {
                double xp = xz[q * k + p];
                for (int r = 0; r <= p; r++) {
                    sys[p * k + r] += xp * xz[q * k + r];
                }
            }
        }
        for (int p = 0; p < k; p++) {
            for (int r = 0; r <= p; r++) {
                sys[p * k + r] *= dt * o.mu();
                sys[r * k + p] = sys[p * k + r];
            }
            sys[p * k + p] += 1 + dt * eig.values()[p];
        }
        double[] constant = new double[k * c];
        for (int q = 0; q < zCount; q++) {
            int lab = fidelity[z[q]];
            for (int p = 0; p < k; p++) {
                constant[p * c + lab] += dt * o.mu() * xz[q * k + p];
            }
        }
        if (region != null && o.gamma() > 0) {
            double[] rc = project(x, region, n, k, c);
            for (int t = 0; t < rc.length; t++) {
                constant[t] -= dt * o.gamma() * rc[t];
            }
        }
        int[] labels = argmax(u, n, c);
        int[] changes = new int[o.maxIterations()];
        int it = 0;
        boolean converged = false;
        double[] a = null;
        double[] factor = new double[k * k];
        while (it < o.maxIterations()) {
            a = project(x, u, n, k, c);
            for (int sub = 0; sub < o.substeps(); sub++) {
                for (int t = 0; t < a.length; t++) {
                    a[t] += constant[t];
                }
                System.arraycopy(sys, 0, factor, 0, k * k);
                io.proxstream.solvers.linalg.Lapack.posv(factor, a, k, c);
            }
            evaluate(x, a, n, k, c, u);
            threshold(u, n, c, o.sdie(), o.lambda());
            int[] next = argmax(u, n, c);
            int changed = 0;
            for (int i = 0; i < n; i++) {
                changed += next[i] != labels[i] ? 1 : 0;
            }
            labels = next;
            changes[it++] = changed;
            if (o.tol() >= 0 && changed <= o.tol() * n) {
                converged = true;
                break;
            }
        }
        return new Result(labels, u, it, java.util.Arrays.copyOf(changes, it), converged, (System.nanoTime() - t0) / 1e9);
    }

    /** Xᵀ v (K × C, row-major) for v n × C, in double, summed in a thread-independent order. */
    static double[] project(float[] x, float[] v, int n, int k, int c) {
        int parts = Math.max(1, Math.min(Parallel.threads(), n / 4096));
        double[][] partial = new double[parts][c * k];          // class-major: contiguous in j
        Parallel.forRange(parts, 1, (from, to) -> {
            float[] block = new float[c * k];
            for (int p = from; p < to; p++) {
                double[] acc = partial[p];
                int lo = (int) ((long) n * p / parts);
                int hi = (int) ((long) n * (p + 1) / parts);
                // float sums over blocks of 256 rows (vectorised), added into double between blocks
                for (int b0 = lo; b0 < hi; b0 += 256) {
                    java.util.Arrays.fill(block, 0f);
                    for (int i = b0, end = Math.min(hi, b0 + 256); i < end; i++) {
                        int o = i * k;
                        for (int cl = 0; cl < c; cl++) {
                            float vi = v[i * c + cl];
                            if (vi == 0) {
                                continue;
                            }
                            int base = cl * k;
                            for (int j = 0; j < k; j++) {
                                block[base + j] += x[o + j] * vi;
                            }
                        }
                    }
                    for (int t = 0; t < block.length; t++) {
                        acc[t] += block[t];
                    }
                }
            }
        });
        double[] out = new double[k * c];
        for (double[] p : partial) {
            for (int cl = 0; cl < c; cl++) {
                for (int j = 0; j < k; j++) {
                    out[j * c + cl] += p[cl * k + j];
                }
            }
        }
        return out;
    }

    /** u = X a (a K × C row-major). */
    static void evaluate(float[] x, double[] a, int n, int k, int c, float[] u) {
        float[] af = new float[c * k];                          // class-major
        for (int j = 0; j < k; j++) {
            for (int cl = 0; cl < c; cl++) {
                af[cl * k + j] = (float) a[j * c + cl];
            }
        }
        Parallel.forRange(n, 4096, (from, to) -> {
            for (int i = from; i < to; i++) {
                int o = i * k;
                for (int cl = 0; cl < c; cl++) {
                    int base = cl * k;
                    float acc = 0;
                    for (int j = 0; j < k; j++) {
                        acc += x[o + j] * af[base + j];
                    }
                    u[i * c + cl] = acc;
                }
            }
        });
    }

    /** MBO: one-hot of the argmax; SDIE (two classes): the soft threshold, at λ = 1 its limit. */
    static void threshold(float[] u, int n, int c, boolean sdie, double lambda) {
        Parallel.forRange(n, 4096, (from, to) -> {
            for (int i = from; i < to; i++) {
                int o = i * c;
                if (!sdie) {
                    int best = 0;
                    for (int cl = 1; cl < c; cl++) {
                        if (u[o + cl] > u[o + best]) {
                            best = cl;
                        }
                    }
                    for (int cl = 0; cl < c; cl++) {
                        u[o + cl] = cl == best ? 1f : 0f;
                    }
                } else {
                    double s = 0.5 * (1 + u[o + 1] - u[o]);
                    double h = lambda >= 1 ? (s > 0.5 ? 1 : 0)
                            : s < lambda / 2 ? 0 : s > 1 - lambda / 2 ? 1 : (s - lambda / 2) / (1 - lambda);
                    u[o] = (float) (1 - h);
                    u[o + 1] = (float) h;
                }
            }
        });
    }

    static int[] argmax(float[] u, int n, int c) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int cl = 1; cl < c; cl++) {
                if (u[i * c + cl] > u[i * c + best]) {
                    best = cl;
                }
            }
            out[i] = best;
        }
        return out;
    }
}
