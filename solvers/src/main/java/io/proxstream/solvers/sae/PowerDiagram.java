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

    /**
     * The region of {@code x} in the partition on which the SAE is affine, as the sorted latents
     * with a non-zero code: for {@code topk-abs} the TopK support (the k-th order power cell); for
     * {@code topk}, whose ReLU also zeroes negative winners, the support's latents with a positive
     * pre-activation (a sub-cell of the power cell).
     */
    public static int[] activeSet(SaeModel model, float[] x, int offset) {
        SaeSpec spec = model.spec();
        int d = spec.inputDim();
        float[] row = java.util.Arrays.copyOfRange(x, offset, offset + d);
        try (SparseStep step = new SparseStep(spec)) {
            step.encode(model, row, 1);
            SparseCodes c = step.codes();
            int count = 0;
            for (int e = c.rowStart(0); e < c.rowEnd(0); e++) {
                if (c.value(e) != 0f) {
                    count++;
                }
            }
            int[] out = new int[count];
            int t = 0;
            for (int e = c.rowStart(0); e < c.rowEnd(0); e++) {
                if (c.value(e) != 0f) {
                    out[t++] = c.index(e);
                }
            }
            java.util.Arrays.sort(out);
            return out;
        }
    }

    /**
     * The affine map {@code x ↦ x A + c} of the SAE on the region with active set {@code active}:
     * {@code A = Σ_{j∈active} w_jᵀ W_dec[j]} ({@code d × d}, row-major) and
     * {@code c = Σ_{j∈active} b_j W_dec[j] + b_dec}; returned as one array, A followed by c.
     */
    public static float[] affineMap(SaeModel model, int[] active) {
        SaeSpec spec = model.spec();
        int d = spec.inputDim();
        float[] w = model.encoderWeights();
        float[] b = model.encoderBias();
        float[] wd = model.decoderWeights();
        double[] a = new double[d * d + d];
        for (int j : active) {
            for (int s = 0; s < d; s++) {
                double ws = w[j * d + s];
                for (int t = 0; t < d; t++) {
                    a[s * d + t] += ws * wd[j * d + t];
                }
            }
            for (int t = 0; t < d; t++) {
                a[d * d + t] += (double) b[j] * wd[j * d + t];
            }
        }
        float[] out = new float[d * d + d];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) a[i];
        }
        float[] bd = model.decoderBias();
        for (int t = 0; t < d; t++) {
            out[d * d + t] += bd[t];
        }
        return out;
    }

    /** Agreement of the geometric support with the SAE's TopK support, and the regions visited. */
    public record Census(int points, int agreeing, int supports, int activeSets) {
    }

    /**
     * For every row of {@code x} ({@code rows × d}): whether {@link #support} equals the TopK
     * support of the model's encoder; and the numbers of distinct supports (k-th order power cells)
     * and distinct active sets (affine pieces) the rows visit.
     */
    public Census census(SaeModel model, float[] x, int rows) {
        int d = spec.inputDim();
        java.util.Set<String> supports = new java.util.HashSet<>();
        java.util.Set<String> active = new java.util.HashSet<>();
        int agree = 0;
        try (SparseStep step = new SparseStep(spec)) {
            step.encode(model, x, rows);
            SparseCodes c = step.codes();
            for (int r = 0; r < rows; r++) {
                int[] sup = c.support(r);
                if (java.util.Arrays.equals(sup, support(x, r * d))) {
                    agree++;
                }
                supports.add(java.util.Arrays.toString(sup));
                int[] act = new int[c.rowEnd(r) - c.rowStart(r)];
                int n = 0;
                for (int e = c.rowStart(r); e < c.rowEnd(r); e++) {
                    if (c.value(e) != 0f) {
                        act[n++] = c.index(e);
                    }
                }
                act = java.util.Arrays.copyOf(act, n);
                java.util.Arrays.sort(act);
                active.add(java.util.Arrays.toString(act));
            }
        }
        return new Census(rows, agree, supports.size(), active.size());
    }

    /**
     * For 2-D models: the k-th order power cell of every pixel centre of a {@code width × height}
     * raster over {@code [x0, x1] × [y0, y1]} (row 0 at y1, the top), as an index into
     * {@code cellsOut}, which receives the distinct supports in the order met.
     */
    public int[] raster(double x0, double x1, double y0, double y1, int width, int height, java.util.List<int[]> cellsOut) {
        if (spec.inputDim() != 2) {
            throw new IllegalArgumentException("a raster needs a 2-D model, this one has input width " + spec.inputDim());
        }
        java.util.Map<String, Integer> ids = new java.util.HashMap<>();
        int[] out = new int[width * height];
        float[] p = new float[2];
        for (int r = 0; r < height; r++) {
            for (int c = 0; c < width; c++) {
                p[0] = (float) (x0 + (c + 0.5) * (x1 - x0) / width);
                p[1] = (float) (y1 - (r + 0.5) * (y1 - y0) / height);
                int[] sup = support(p, 0);
                String key = java.util.Arrays.toString(sup);
                Integer id = ids.get(key);
                if (id == null) {
                    id = ids.size();
                    ids.put(key, id);
                    cellsOut.add(sup);
                }
                out[r * width + c] = id;
            }
        }
        return out;
    }
}
