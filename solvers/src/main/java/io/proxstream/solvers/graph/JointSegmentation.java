package io.proxstream.solvers.graph;

import io.proxstream.solvers.inverse.Functional;
import io.proxstream.solvers.inverse.Functionals;
import io.proxstream.solvers.inverse.Gradient;
import io.proxstream.solvers.inverse.LinearOperator;
import io.proxstream.solvers.inverse.Operators;
import io.proxstream.solvers.inverse.Pdhg;
import io.proxstream.solvers.inverse.StoppingRule;
import io.proxstream.solvers.inverse.Vectors;
import io.proxstream.solvers.progress.ProgressListener;
import java.util.ArrayList;
import java.util.List;

/**
 * Joint reconstruction-segmentation on graphs (spec/graph.md; after Budd, van Gennip, Latz,
 * Parisotto, Schönlieb, arXiv 2208.05834): observed {@code f = A u + noise} per channel (A the
 * identity or a blur), unknowns image u, one-hot segmentation v and class intensities c,
 * <pre>
 *   J(u, v, c) = ½‖A u − f‖² + α TV(u) + β Σ_i Σ_k v_ik ‖u_i − c_k‖² (+ the graph term of v)
 * </pre>
 * minimised alternately: (1) u by PDHG on the convex problem with v, c fixed (channel by channel,
 * TV per channel), (2) c_k = the mean of u over class k, (3) v by fidelity-forced MBO on the graph
 * built from the current u (new patch features, new Nyström eigenpairs), started from the previous
 * v, with the region term {@code γ‖u_i − c_k‖²} as an extra forcing in the diffusion
 * ({@link GraphMbo}). It stops when v changes on at most {@code tol} of the pixels, or after
 * {@code outer} rounds. The scheme starts from the sequential result (TV with β = 0, then MBO), so
 * round 0 is the sequential baseline.
 *
 * <p>The reported energy is J without the graph term (which is defined on a graph that changes
 * with u, so it is not comparable between rounds): with exact sub-steps (1) and (2) cannot raise
 * it, and with {@link Segmenter#NEAREST_MEAN} (v_i = argmin_k ‖u_i − c_k‖², the exact minimiser
 * when the graph term is dropped) no step can.
 */
public final class JointSegmentation {
    private JointSegmentation() {
    }

    /** How step (3) segments. */
    public enum Segmenter {
        MBO, NEAREST_MEAN
    }

    /**
     * @param alpha        TV weight α
     * @param beta         coupling β of the reconstruction to the class means
     * @param gamma        region forcing γ in the MBO step
     * @param outer        rounds after the sequential start
     * @param tol          stop when at most this fraction of labels changed in a round
     * @param pdhgIterations iterations of each reconstruction
     * @param halfWidth    patch half-width of the graph features
     * @param maskSigma    spatial mask of the patches (pixels)
     * @param textureRadius radius of the texture-energy channels added before the patches (0 = raw patches)
     * @param textureWeight weight of those channels ({@link PatchFeatures#withLocalDeviation})
     * @param nystrom      eigenpair options (the seed is varied by the caller for repetitions)
     * @param mbo          MBO options (γ is taken from here, see {@link #gamma})
     * @param segmenter    step (3)
     */
    public record Options(double alpha, double beta, double gamma, int outer, double tol, int pdhgIterations, int halfWidth,
                          double maskSigma, int textureRadius, double textureWeight, Nystrom.Options nystrom, GraphMbo.Options mbo,
                          Segmenter segmenter) {
        public Options {
            if (!(alpha >= 0) || !(beta >= 0) || !(gamma >= 0) || outer < 0 || !(tol >= 0) || pdhgIterations < 1 || halfWidth < 0
                    || textureRadius < 0 || !(textureWeight >= 0)) {
                throw new IllegalArgumentException("joint options: need alpha, beta, gamma >= 0, outer >= 0, tol >= 0, "
                        + "pdhgIterations >= 1, halfWidth >= 0, textureRadius >= 0, textureWeight >= 0");
            }
        }

        public Options withSeed(long seed) {
            return new Options(alpha, beta, gamma, outer, tol, pdhgIterations, halfWidth, maskSigma, textureRadius, textureWeight, nystrom.withSeed(seed), mbo,
                    segmenter);
        }

        public Options withAlpha(double a) {
            return new Options(a, beta, gamma, outer, tol, pdhgIterations, halfWidth, maskSigma, textureRadius, textureWeight, nystrom, mbo,
                    segmenter);
        }

        public Options withSegmenter(Segmenter s) {
            return new Options(alpha, beta, gamma, outer, tol, pdhgIterations, halfWidth, maskSigma, textureRadius, textureWeight, nystrom, mbo, s);
        }

        public Options withOuter(int rounds) {
            return new Options(alpha, beta, gamma, rounds, tol, pdhgIterations, halfWidth, maskSigma, textureRadius, textureWeight, nystrom, mbo,
                    segmenter);
        }
    }

    /** J's parts after a round (the graph term left out, see the class comment). */
    public record Energy(double data, double tv, double coupling) {
        public double total() {
            return data + tv + coupling;
        }
    }

    /** Seconds spent per stage, summed over rounds. */
    public record Timings(double reconstruction, double graph, double eigen, double mbo) {
        Timings plus(Timings o) {
            return new Timings(reconstruction + o.reconstruction, graph + o.graph, eigen + o.eigen, mbo + o.mbo);
        }
    }

    /**
     * @param image       the reconstruction, channels × h × w
     * @param labels      the segmentation
     * @param means       class intensities, classes × channels
     * @param energies    J after each round (index 0: the sequential start)
     * @param afterReconstruction J after step (1)+(2) of each round ≥ 1 (before that round's step 3)
     * @param changes     labels changed in each round ≥ 1
     * @param mboIterations MBO iterations summed over rounds
     */
    public record Outcome(float[] image, int[] labels, double[] means, List<Energy> energies, List<Energy> afterReconstruction,
                          List<Integer> changes, int mboIterations, Timings timings, double seconds) {
    }

    /**
     * The joint scheme.
     *
     * @param f       observed image, channels × h × w
     * @param forward the per-channel forward operator (h × w → h × w), e.g. a blur; null for the identity (denoising)
     * @param fidelity labelled pixels (−1 elsewhere)
     */
    public static Outcome joint(float[] f, int channels, int h, int w, LinearOperator forward, int[] fidelity, int classes, Options o) {
        long t0 = System.nanoTime();
        Outcome start = sequential(f, channels, h, w, forward, fidelity, classes, o);
        float[] u = start.image();
        int[] v = start.labels();
        double[] c = classMeans(u, v, channels, h * w, classes);
        List<Energy> energies = new ArrayList<>();
        energies.add(energy(f, u, v, c, channels, h, w, forward, o));
        List<Energy> afterRecon = new ArrayList<>();
        List<Integer> changes = new ArrayList<>();
        Timings tm = start.timings();
        int mboIts = start.mboIterations();
        for (int round = 0; round < o.outer(); round++) {
            long r0 = System.nanoTime();
            u = reconstruct(f, channels, h, w, forward, o.alpha(), o.beta(), classImage(v, c, channels, h * w), u, o.pdhgIterations());
            c = classMeans(u, v, channels, h * w, classes);
            afterRecon.add(energy(f, u, v, c, channels, h, w, forward, o));
            tm = tm.plus(new Timings((System.nanoTime() - r0) / 1e9, 0, 0, 0));
            Segmented s = segment(u, channels, h, w, fidelity, classes, v, c, o);
            tm = tm.plus(s.timings());
            mboIts += s.iterations();
            int changed = 0;
            for (int i = 0; i < v.length; i++) {
                changed += s.labels()[i] != v[i] ? 1 : 0;
            }
            v = s.labels();
            c = classMeans(u, v, channels, h * w, classes);
            energies.add(energy(f, u, v, c, channels, h, w, forward, o));
            changes.add(changed);
            if (changed <= o.tol() * v.length) {
                break;
            }
        }
        return new Outcome(u, v, c, energies, afterRecon, changes, mboIts, tm, (System.nanoTime() - t0) / 1e9);
    }

    /** The sequential baseline: TV reconstruction (β = 0), then MBO on its graph. */
    public static Outcome sequential(float[] f, int channels, int h, int w, LinearOperator forward, int[] fidelity, int classes,
                                     Options o) {
        long t0 = System.nanoTime();
        checkInput(f, channels, h, w, fidelity, classes);
        float[] u = reconstruct(f, channels, h, w, forward, o.alpha(), 0, null, f.clone(), o.pdhgIterations());
        double recon = (System.nanoTime() - t0) / 1e9;
        Segmented s = segment(u, channels, h, w, fidelity, classes, null, null, o.withSegmenter(Segmenter.MBO));
        double[] c = classMeans(u, s.labels(), channels, h * w, classes);
        return new Outcome(u, s.labels(), c, List.of(energy(f, u, s.labels(), c, channels, h, w, forward, o)), List.of(), List.of(),
                s.iterations(), new Timings(recon, 0, 0, 0).plus(s.timings()), (System.nanoTime() - t0) / 1e9);
    }

    /** MBO on the graph of {@code image} itself (no reconstruction): the clean- and raw-image bounds. */
    public static Outcome mboOnly(float[] image, int channels, int h, int w, int[] fidelity, int classes, Options o) {
        long t0 = System.nanoTime();
        checkInput(image, channels, h, w, fidelity, classes);
        Segmented s = segment(image, channels, h, w, fidelity, classes, null, null, o.withSegmenter(Segmenter.MBO));
        double[] c = classMeans(image, s.labels(), channels, h * w, classes);
        return new Outcome(image.clone(), s.labels(), c, List.of(), List.of(), List.of(), s.iterations(), s.timings(),
                (System.nanoTime() - t0) / 1e9);
    }

    private record Segmented(int[] labels, int iterations, Timings timings) {
    }

    private static Segmented segment(float[] u, int channels, int h, int w, int[] fidelity, int classes, int[] previous, double[] means,
                                     Options o) {
        int n = h * w;
        if (o.segmenter() == Segmenter.NEAREST_MEAN) {
            double[] dist = classDistances(u, means, channels, n, classes);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                double best = Double.POSITIVE_INFINITY;
                for (int k = 0; k < classes; k++) {
                    if (dist[i * classes + k] < best) {
                        best = dist[i * classes + k];
                        out[i] = k;
                    }
                }
            }
            return new Segmented(out, 0, new Timings(0, 0, 0, 0));
        }
        long t0 = System.nanoTime();
        boolean texture = o.textureRadius() > 0 && o.textureWeight() > 0;
        float[] planes = texture ? PatchFeatures.withLocalDeviation(u, channels, h, w, o.textureRadius(), o.textureWeight()) : u;
        int fc = texture ? 2 * channels : channels;
        float[] z = PatchFeatures.of(planes, fc, h, w, o.halfWidth(), o.maskSigma());
        long t1 = System.nanoTime();
        Nystrom.Eigen eig = Nystrom.eigen(z, n, PatchFeatures.width(fc, o.halfWidth()), o.nystrom());
        float[] init = null;
        float[] region = null;
        if (previous != null) {
            init = new float[n * classes];
            for (int i = 0; i < n; i++) {
                init[i * classes + previous[i]] = 1;
            }
        }
        GraphMbo.Options mo = o.mbo();
        if (means != null && o.gamma() > 0) {
            double[] dist = classDistances(u, means, channels, n, classes);
            region = new float[n * classes];
            for (int t = 0; t < region.length; t++) {
                region[t] = (float) dist[t];
            }
            mo = mo.withGamma(o.gamma());
        }
        GraphMbo.Result r = GraphMbo.run(eig, classes, fidelity, init, region, mo);
        double featureSeconds = (t1 - t0) / 1e9;
        return new Segmented(r.labels(), r.iterations(), new Timings(0, featureSeconds + eig.graphSeconds(), eig.eigenSeconds(),
                r.seconds()));
    }

    /** {@code ‖u_i − c_k‖²} for every pixel i and class k, n × classes row-major (u channel-major, c classes × channels). */
    private static double[] classDistances(float[] u, double[] means, int channels, int n, int classes) {
        double[] out = new double[n * classes];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < classes; k++) {
                double d = 0;
                for (int ch = 0; ch < channels; ch++) {
                    double diff = u[ch * n + i] - means[k * channels + ch];
                    d += diff * diff;
                }
                out[i * classes + k] = d;
            }
        }
        return out;
    }

    /**
     * Channel by channel: {@code argmin_u ½‖A u − f‖² + α TV(u) + β‖u − g‖²} by PDHG with K = [A; ∇]
     * (or K = ∇ and the data term in the primal prox when A is the identity), from {@code start}.
     */
    static float[] reconstruct(float[] f, int channels, int h, int w, LinearOperator forward, double alpha, double beta, float[] g,
                               float[] start, int iterations) {
        int n = h * w;
        float[] out = new float[channels * n];
        Gradient grad = new Gradient(h, w);
        boolean identity = forward == null;
        double normK = identity ? grad.normEstimate(40, 11) : Operators.stack(forward, grad).normEstimate(40, 11);
        double step = 0.99 / (1.02 * normK);
        for (int ch = 0; ch < channels; ch++) {
            float[] fc = java.util.Arrays.copyOfRange(f, ch * n, (ch + 1) * n);
            float[] x0 = java.util.Arrays.copyOfRange(start, ch * n, (ch + 1) * n);
            float[] gc = g == null ? null : java.util.Arrays.copyOfRange(g, ch * n, (ch + 1) * n);
            float[] x;
            if (identity) {
                // ½‖u − f‖² + β‖u − g‖² = ((1 + 2β)/2)‖u − (f + 2βg)/(1 + 2β)‖² + const
                float[] target = fc.clone();
                if (gc != null && beta > 0) {
                    for (int i = 0; i < n; i++) {
                        target[i] = (float) ((fc[i] + 2 * beta * gc[i]) / (1 + 2 * beta));
                    }
                }
                Functional prim = Functionals.squaredDistance(target, gc != null && beta > 0 ? 1 + 2 * beta : 1);
                x = Pdhg.solve(prim, Functionals.l21(alpha, 2), grad, x0, new Pdhg.Options(step, step, 1, 0, iterations),
                        StoppingRule.NEVER, ProgressListener.NONE).x();
            } else {
                Functional prim = gc != null && beta > 0 ? Functionals.squaredDistance(gc, 2 * beta) : Functionals.zero();
                Functional dual = Functionals.separable(Functionals.squaredDistance(fc, 1), n, Functionals.l21(alpha, 2), grad.rangeSize());
                x = Pdhg.solve(prim, dual, Operators.stack(forward, grad), x0, new Pdhg.Options(step, step, 1, 0, iterations),
                        StoppingRule.NEVER, ProgressListener.NONE).x();
            }
            System.arraycopy(x, 0, out, ch * n, n);
        }
        return out;
    }

    /** J without the graph term. */
    public static Energy energy(float[] f, float[] u, int[] v, double[] c, int channels, int h, int w, LinearOperator forward,
                                Options o) {
        int n = h * w;
        Gradient grad = new Gradient(h, w);
        Functional tv = Functionals.l21(o.alpha(), 2);
        double data = 0;
        double tvSum = 0;
        double coupling = 0;
        for (int ch = 0; ch < channels; ch++) {
            float[] uc = java.util.Arrays.copyOfRange(u, ch * n, (ch + 1) * n);
            float[] au = forward == null ? uc : forward.apply(uc);
            for (int i = 0; i < n; i++) {
                double r = au[i] - f[ch * n + i];
                data += 0.5 * r * r;
                double d = uc[i] - c[v[i] * channels + ch];
                coupling += o.beta() * d * d;
            }
            tvSum += tv.value(grad.apply(uc));
        }
        return new Energy(data, tvSum, coupling);
    }

    /** Mean of u over each class (classes × channels); an empty class keeps mean 0. */
    public static double[] classMeans(float[] u, int[] v, int channels, int n, int classes) {
        double[] sum = new double[classes * channels];
        int[] count = new int[classes];
        for (int i = 0; i < n; i++) {
            count[v[i]]++;
            for (int ch = 0; ch < channels; ch++) {
                sum[v[i] * channels + ch] += u[ch * n + i];
            }
        }
        for (int k = 0; k < classes; k++) {
            for (int ch = 0; ch < channels; ch++) {
                sum[k * channels + ch] = count[k] == 0 ? 0 : sum[k * channels + ch] / count[k];
            }
        }
        return sum;
    }

    /** The image whose pixel i is the mean of its class. */
    static float[] classImage(int[] v, double[] c, int channels, int n) {
        float[] g = new float[channels * n];
        for (int ch = 0; ch < channels; ch++) {
            for (int i = 0; i < n; i++) {
                g[ch * n + i] = (float) c[v[i] * channels + ch];
            }
        }
        return g;
    }

    private static void checkInput(float[] f, int channels, int h, int w, int[] fidelity, int classes) {
        Vectors.requireLength("image", f, channels * h * w);
        Vectors.requireFinite("image", f);
        if (fidelity.length != h * w) {
            throw new IllegalArgumentException("labels cover " + fidelity.length + " pixels, the image has " + h * w);
        }
        Labels.requireEveryClass(fidelity, classes);
    }

    /** Fraction of pixels whose label equals the truth. */
    public static double accuracy(int[] labels, int[] truth) {
        if (labels.length != truth.length) {
            throw new IllegalArgumentException("segmentation has " + labels.length + " pixels, the truth " + truth.length);
        }
        int ok = 0;
        for (int i = 0; i < truth.length; i++) {
            ok += labels[i] == truth[i] ? 1 : 0;
        }
        return ok / (double) truth.length;
    }
}
