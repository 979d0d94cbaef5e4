package io.proxstream.solvers.sae;

import java.util.Arrays;

/**
 * The power-diagram geometry of a TopK SAE (Budd et al., arXiv 2505.11836).
 *
 * <p>Since {@code w·x + b = ½(‖x‖² − (‖x − w‖² − (‖w‖² + 2b)))}, the pre-activation of latent j is a
 * decreasing function of the power distance {@code π_j(x) = ‖x − w_j‖² − α_j} to the site
 * {@code w_j} (encoder row j) with weight {@code α_j = ‖w_j‖² + 2 b_j}. So the k largest
 * pre-activations are the k smallest power distances, and the regions of constant TopK support are
 * the cells of the k-th order power diagram of the sites.
 *
 * <p>For {@code topk-abs} the ranking is by |a_j| = max(a_j, −a_j), and −a_j is the pre-activation
 * of the mirrored site {@code −w_j} with weight {@code ‖w_j‖² − 2 b_j}. Among the 2m values ±a_j each
 * latent contributes one non-negative value and one non-positive one, so the k largest are the k
 * largest |a_j|: the support is the set of latents whose signed site is among the k nearest (in
 * power distance) of the 2m sites {@code ±w_j}.
 */
public final class PowerDiagram {
    private final SaeSpec spec;
    private final float[] sites;
    private final double[] weights;
    private final int siteCount;

    private PowerDiagram(SaeSpec spec, float[] sites, double[] weights) {
        this.spec = spec;
        this.sites = sites;
        this.weights = weights;
        this.siteCount = weights.length;
    }

    /** The sites and weights of a TopK model's encoder ({@code topk}: m sites; {@code topk-abs}: 2m). */
    public static PowerDiagram of(SaeModel model) {
        SaeSpec spec = model.spec();
        if (!spec.sparsifier().isTopK()) {
            throw new IllegalArgumentException("power diagrams describe TopK SAEs, not " + spec.sparsifier().id());
        }
        int m = spec.latents();
        int d = spec.inputDim();
        float[] w = model.encoderWeights();
        float[] b = model.encoderBias();
        boolean abs = spec.sparsifier() == Sparsifier.TOPK_ABS;
        int count = abs ? 2 * m : m;
        float[] sites = new float[count * d];
        double[] weights = new double[count];
        for (int j = 0; j < m; j++) {
            double norm2 = 0;
            for (int i = 0; i < d; i++) {
                norm2 += (double) w[j * d + i] * w[j * d + i];
            }
            System.arraycopy(w, j * d, sites, j * d, d);
            weights[j] = norm2 + 2.0 * b[j];
            if (abs) {
                for (int i = 0; i < d; i++) {
                    sites[(m + j) * d + i] = -w[j * d + i];
                }
                weights[m + j] = norm2 - 2.0 * b[j];
            }
        }
        return new PowerDiagram(spec, sites, weights);
    }

    /** Number of sites (m, or 2m for {@code topk-abs}; site {@code m + j} is {@code −w_j}). */
    public int siteCount() {
        return siteCount;
    }

    /** Site s as a copy. */
    public float[] site(int s) {
        int d = spec.inputDim();
        return Arrays.copyOfRange(sites, s * d, (s + 1) * d);
    }

    /** Weight α of site s. */
    public double weight(int s) {
        return weights[s];
    }

    /** {@code π_s(x) = ‖x − site_s‖² − α_s} for every site, in double. */
    public double[] powerDistances(float[] x, int offset) {
        int d = spec.inputDim();
        double[] pi = new double[siteCount];
        for (int s = 0; s < siteCount; s++) {
            double dist = 0;
            for (int i = 0; i < d; i++) {
                double t = (double) x[offset + i] - sites[s * d + i];
                dist += t * t;
            }
            pi[s] = dist - weights[s];
        }
        return pi;
    }

    /**
     * The latents (sorted) whose sites are among the k smallest power distances from {@code x}:
     * the TopK support, computed geometrically.
     */
    public int[] support(float[] x, int offset) {
        double[] pi = powerDistances(x, offset);
        Integer[] order = new Integer[siteCount];
        for (int s = 0; s < siteCount; s++) {
            order[s] = s;
        }
        Arrays.sort(order, (p, q) -> Double.compare(pi[p], pi[q]));
        int m = spec.latents();
        int[] out = new int[spec.k()];
        for (int t = 0; t < spec.k(); t++) {
            out[t] = order[t] % m;
        }
        Arrays.sort(out);
        return out;
    }
}
