package io.proxstream.solvers.sae;

import io.proxstream.solvers.linalg.Lapack;
import io.proxstream.solvers.linalg.Vec;
import io.proxstream.solvers.parallel.Parallel;
import java.util.Arrays;

/**
 * Sufficient statistics of the decoder's least-squares problem, accumulated from sparse codes:
 * {@code S_zz = ZᵀZ}, {@code S_zx = ZᵀX}, {@code s_z = Σ z}, {@code s_x = Σ x}, the count n and
 * {@code Σ‖x‖²}, all in double.
 *
 * <p>Accumulation visits only the stored entries of each code row: O(k²) for {@code S_zz} and
 * O(k·d) for {@code S_zx} per row with TopK codes. Exponential forgetting {@code S ← γ S} is applied
 * lazily through a common scale factor, so it costs O(1) per batch instead of O(m²). The statistics
 * are sums, so two accumulators over disjoint data {@link #merge} into the accumulator of the union
 * (the basis of data-parallel training).
 *
 * <p>{@link #solveInto} computes the PAM-SGD decoder step of spec/sae.md: with centred sums
 * {@code C_zz = S_zz − s_z s_zᵀ/n}, {@code C_zx = S_zx − s_z s_xᵀ/n}, it solves
 * {@code (C_zz + (ρ+μ_D) I) W = C_zx + μ_D W_prev} by Cholesky in double and sets
 * {@code b_dec = s_x/n − (s_z/n) W}: the joint minimiser over (W, b) of
 * {@code ‖Z W + 1 bᵀ − X‖² + ρ‖W‖² + μ_D‖W − W_prev‖²}.
 */
public final class DecoderStatistics implements DecoderStep {

    /**
     * What a decoder solve did.
     *
     * @param iterations products of the iterative step's conjugate gradients (largest over column
     *                   blocks); 0 for the exact step
     * @param residual   the iterative step's final residual relative to its starting one (over all
     *                   columns); NaN for the exact step, whose residual is not computed
     */
    public record SolveReport(int solvedLatents, int heldLatents, double ridge, double count, double millis,
                              int iterations, double residual) {
    }

    private static final double RESCALE_BELOW = 1e-150;

    private final int m;
    private final int d;
    private final double[] zz;
    private final double[] zx;
    private final double[] z;
    private final double[] x;
    private double n;
    private double xx;
    private double scale = 1.0;

    private int[] colPtr;
    private int[] colEntry = new int[0];
    private int[] entryRow = new int[0];
    private double[] workA = new double[0];
    private double[] workB = new double[0];

    /** Largest dictionary whose m × m statistics fit one Java array. */
    public static final int MAX_LATENTS = 46_340;

    public DecoderStatistics(int latents, int inputDim) {
        if (latents <= 0 || inputDim <= 0) {
            throw new IllegalArgumentException("latents and inputDim must be positive, got " + latents + ", " + inputDim);
        }
        if (latents > MAX_LATENTS || (long) latents * inputDim > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the exact decoder step holds an m x m matrix in one array: at most " + MAX_LATENTS
                    + " latents (and m·d below 2^31), got " + latents + " x " + inputDim + "; use the iterative step"
                    + " (trainer.decoder.step = cg)");
        }
        this.m = latents;
        this.d = inputDim;
        this.zz = new double[m * m];
        this.zx = new double[m * d];
        this.z = new double[m];
        this.x = new double[d];
        this.colPtr = new int[m + 1];
    }

    @Override
    public String kind() {
        return "exact";
    }

    @Override
    public int latents() {
        return m;
    }

    @Override
    public int inputDim() {
        return d;
    }

    /** The (forgetting-weighted) number of rows accumulated. */
    @Override
    public double count() {
        return n * scale;
    }

    /**
     * Adds the rows of a minibatch.
     *
     * @param codes codes of the rows (not modified)
     * @param xs    the rows, {@code rows × d} row-major (not modified)
     */
    @Override
    public void accumulate(SparseCodes codes, float[] xs, int rows) {
        if (codes.rows() != rows || codes.latents() != m) {
            throw new IllegalArgumentException("codes have " + codes.rows() + " rows of " + codes.latents()
                    + " latents; expected " + rows + " of " + m);
        }
        final double inv = 1.0 / scale;
        int nnz = codes.entries();
        if (colEntry.length < nnz) {
            colEntry = new int[nnz];
            entryRow = new int[nnz];
        }
        Arrays.fill(colPtr, 0);
        for (int b = 0; b < rows; b++) {
            for (int e = codes.rowPtr[b], end = codes.rowPtr[b + 1]; e < end; e++) {
                entryRow[e] = b;
                colPtr[codes.idx[e] + 1]++;
            }
        }
        for (int j = 0; j < m; j++) {
            colPtr[j + 1] += colPtr[j];
        }
        int[] fill = new int[m];
        for (int e = 0; e < nnz; e++) {
            int j = codes.idx[e];
            colEntry[colPtr[j] + fill[j]++] = e;
        }
        Parallel.forRange(m, 8, (from, to) -> {
            float[] rowSum = new float[d];
            for (int j = from; j < to; j++) {
                int start = colPtr[j];
                int end = colPtr[j + 1];
                if (start == end) {
                    continue;
                }
                int rowZz = j * m;
                int rowZx = j * d;
                // this batch's contribution to row j of S_zx, Σ_b z_bj x_b, summed in float (at most
                // B terms, SIMD-wide), then added to the double totals with the forgetting scale
                java.util.Arrays.fill(rowSum, 0f);
                double zsum = 0;
                boolean any = false;
                for (int p = start; p < end; p++) {
                    int e = colEntry[p];
                    float v = codes.val[e];
                    if (v == 0f) {
                        continue;
                    }
                    any = true;
                    double w = v * inv;
                    int b = entryRow[e];
                    zsum += w;
                    for (int q = codes.rowPtr[b], qe = codes.rowPtr[b + 1]; q < qe; q++) {
                        zz[rowZz + codes.idx[q]] += w * codes.val[q];
                    }
                    Vec.axpy(v, xs, b * d, rowSum, 0, d);
                }
                if (any) {
                    for (int i = 0; i < d; i++) {
                        zx[rowZx + i] += inv * rowSum[i];
                    }
                    z[j] += zsum;
                }
            }
        });
        double sq = Parallel.sum(d, 64, (from, to) -> {
            double part = 0;
            for (int b = 0; b < rows; b++) {
                int xo = b * d;
                for (int i = from; i < to; i++) {
                    double v = xs[xo + i];
                    x[i] += v * inv;
                    part += v * v;
                }
            }
            return part;
        });
        xx += sq * inv;
        n += rows * inv;
    }

    /** Multiplies all statistics by {@code gamma ∈ (0, 1]} (exponential forgetting); O(1). */
    @Override
    public void forget(double gamma) {
        if (!(gamma > 0 && gamma <= 1)) {
            throw new IllegalArgumentException("forgetting factor must be in (0,1], got " + gamma);
        }
        scale *= gamma;
        if (scale < RESCALE_BELOW) {
            foldScale();
        }
    }

    private void foldScale() {
        double s = scale;
        Parallel.forRange(m, 64, (from, to) -> {
            for (int i = from * m; i < to * m; i++) {
                zz[i] *= s;
            }
            for (int i = from * d; i < to * d; i++) {
                zx[i] *= s;
            }
        });
        for (int j = 0; j < m; j++) {
            z[j] *= s;
        }
        for (int i = 0; i < d; i++) {
            x[i] *= s;
        }
        n *= s;
        xx *= s;
        scale = 1.0;
    }

    /** Adds {@code other}'s statistics to these (same shape); {@code other} is not modified. */
    public void merge(DecoderStatistics other) {
        if (other.m != m || other.d != d) {
            throw new IllegalArgumentException("cannot merge statistics of shape " + other.m + "x" + other.d
                    + " into " + m + "x" + d);
        }
        double f = other.scale / scale;
        Parallel.forRange(m, 64, (from, to) -> {
            for (int i = from * m; i < to * m; i++) {
                zz[i] += f * other.zz[i];
            }
            for (int i = from * d; i < to * d; i++) {
                zx[i] += f * other.zx[i];
            }
        });
        for (int j = 0; j < m; j++) {
            z[j] += f * other.z[j];
        }
        for (int i = 0; i < d; i++) {
            x[i] += f * other.x[i];
        }
        n += f * other.n;
        xx += f * other.xx;
    }

    /** Forgets everything. */
    @Override
    public void clear() {
        Arrays.fill(zz, 0);
        Arrays.fill(zx, 0);
        Arrays.fill(z, 0);
        Arrays.fill(x, 0);
        n = 0;
        xx = 0;
        scale = 1.0;
    }

    /** Adds the statistics at true scale under {@code stats.*}. */
    @Override
    public void saveTo(TrainerState.Builder b) {
        foldScale();
        b.put("stats.zz", zz).put("stats.zx", zx).put("stats.z", z).put("stats.x", x)
                .put("stats.n_xx", new double[] {n, xx});
    }

    /** Loads statistics written by {@link #saveTo}. */
    @Override
    public void loadFrom(TrainerState s) {
        s.copy("stats.zz", zz);
        s.copy("stats.zx", zx);
        s.copy("stats.z", z);
        s.copy("stats.x", x);
        double[] nxx = new double[2];
        s.copy("stats.n_xx", nxx);
        n = nxx[0];
        xx = nxx[1];
        scale = 1.0;
    }

    /** {@code (S_zz)_{ij}} at true scale. */
    public double zz(int i, int j) {
        return zz[i * m + j] * scale;
    }

    /** {@code (S_zx)_{ji}} at true scale. */
    public double zx(int j, int i) {
        return zx[j * d + i] * scale;
    }

    /** {@code (s_z)_j} at true scale. */
    public double z(int j) {
        return z[j] * scale;
    }

    /** {@code (s_x)_i} at true scale. */
    public double x(int i) {
        return x[i] * scale;
    }

    /** {@code Σ‖x‖²} at true scale. */
    public double sumSquaredNorms() {
        return xx * scale;
    }

    /**
     * Replaces the model's decoder ({@code W_dec}, {@code b_dec}) by the closed-form solution.
     *
     * @param rho         ridge ρ ≥ 0
     * @param muDec       proximal weight μ_D ≥ 0 (pulls towards the current decoder)
     * @param holdUnfired if true, latents that never fired in the statistics keep their current
     *                    atom (their block of the system is decoupled and would otherwise be set to
     *                    {@code μ_D/(ρ+μ_D)} times the old atom, i.e. to zero for μ_D = 0)
     * @return what was solved; the model is unchanged if no rows were accumulated
     */
    @Override
    public SolveReport solveInto(SaeModel model, double rho, double muDec, boolean holdUnfired) {
        if (model.spec().tied()) {
            throw new IllegalArgumentException("the closed-form decoder step needs an untied model");
        }
        if (model.spec().latents() != m || model.spec().inputDim() != d) {
            throw new IllegalArgumentException("model " + model.spec() + " does not match statistics " + m + "x" + d);
        }
        if (!(rho >= 0) || !(muDec >= 0)) {
            throw new IllegalArgumentException("rho and muDec must be >= 0, got " + rho + ", " + muDec);
        }
        long t0 = System.nanoTime();
        if (n <= 0) {
            return new SolveReport(0, m, rho + muDec, 0, 0, 0, Double.NaN);
        }
        int[] active = new int[m];
        int na = 0;
        for (int j = 0; j < m; j++) {
            if (!holdUnfired || zz[j * m + j] > 0) {
                active[na++] = j;
            }
        }
        if (na == 0) {
            return new SolveReport(0, m, rho + muDec, count(), 0, 0, Double.NaN);
        }
        final int nA = na;
        final int[] act = active;
        if (workA.length < nA * nA) {
            workA = new double[nA * nA];
        }
        if (workB.length < nA * d) {
            workB = new double[nA * d];
        }
        final double s = scale;
        final double invN = 1.0 / n;
        final float[] wDec = model.decoderWeights();
        double ridge = rho + muDec;
        double trace = 0;
        for (int p = 0; p < nA; p++) {
            int j = act[p];
            trace += s * (zz[j * m + j] - z[j] * z[j] * invN);
        }
        double jitter = 0;
        for (int attempt = 0; ; attempt++) {
            final double diag = ridge + jitter;
            final double[] a = workA;
            final double[] bm = workB;
            Parallel.forRange(nA, 16, (from, to) -> {
                for (int p = from; p < to; p++) {
                    int j = act[p];
                    double zj = z[j];
                    for (int q = 0; q <= p; q++) {
                        int l = act[q];
                        a[p * nA + q] = s * (zz[j * m + l] - zj * z[l] * invN);
                    }
                    a[p * nA + p] += diag;
                    for (int i = 0; i < d; i++) {
                        bm[p * d + i] = s * (zx[j * d + i] - zj * x[i] * invN) + muDec * wDec[j * d + i];
                    }
                }
            });
            try {
                Lapack.posv(a, bm, nA, d);
                break;
            } catch (Lapack.NotPositiveDefiniteException e) {
                if (attempt >= 6) {
                    throw e;
                }
                jitter = (jitter == 0 ? 1e-12 : jitter * 100) * Math.max(trace / nA, 1e-30);
            }
        }
        for (int k = 0, e = nA * d; k < e; k++) {
            double v = workB[k];
            if (!(Math.abs(v) <= Float.MAX_VALUE)) {
                // nothing written yet: the caller keeps the previous decoder
                throw new ArithmeticException("decoder solve produced a non-finite or out-of-range value (" + v + ") for latent "
                        + act[k / d] + "; the previous decoder is kept");
            }
        }
        for (int p = 0; p < nA; p++) {
            int j = act[p];
            for (int i = 0; i < d; i++) {
                wDec[j * d + i] = (float) workB[p * d + i];
            }
        }
        double[] acc = x.clone();
        for (int j = 0; j < m; j++) {
            double zj = z[j];
            if (zj != 0) {
                for (int i = 0; i < d; i++) {
                    acc[i] -= zj * wDec[j * d + i];
                }
            }
        }
        float[] bDec = model.decoderBias();
        for (int i = 0; i < d; i++) {
            bDec[i] = (float) (acc[i] * invN);
        }
        return new SolveReport(nA, m - nA, ridge + jitter, count(), (System.nanoTime() - t0) / 1e6, 0, Double.NaN);
    }
}
