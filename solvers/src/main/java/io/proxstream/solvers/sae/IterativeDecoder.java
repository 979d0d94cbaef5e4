package io.proxstream.solvers.sae;

import io.proxstream.solvers.linalg.Vec;
import io.proxstream.solvers.parallel.Parallel;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Objects;

/**
 * The PAM-SGD decoder step for large dictionaries: no m × m matrix, memory O(m·d + window).
 *
 * <p><b>Problem.</b> With the constant feature appended to each code, {@code z̃ = (z, 1)}, and the
 * unknowns stacked as {@code W̃ = (W; bᵀ)} ((m+1) × d), the step minimises
 * {@code f(W̃) = Σ_i w_i‖z̃_i W̃ − x_i‖² + ρ‖W‖² + μ_D‖W − W_prev‖²} (no penalty on the bias, so it is
 * jointly optimal, as in {@link DecoderStatistics}). Its normal equations have the matrix
 * {@code S̃ + (ρ+μ_D) I_W}, {@code S̃ = Σ_i w_i z̃_iᵀ z̃_i}; only products with it are needed.
 *
 * <p><b>What is kept.</b> The rows of the last {@code windowRows} (their sparse codes and the rows
 * themselves, with their forgetting weights) are kept exactly. A row that leaves the window is folded
 * into a quadratic model of the old rows' part of f: its exact gradient at the decoder of that moment
 * ({@code G_old += w z̃ᵀ(z̃W̃ − x)}, an (m+1) × d array), and of its curvature {@code Σ w z̃ᵀz̃} what costs
 * no m × m memory: per latent {@code Σ w z_j²} and {@code Σ w z_j}, and {@code Σ w}. The model's
 * curvature is the codes' second moment with the covariance between latents dropped:
 * {@code diag(var) + s sᵀ/n} in the W block (var_j = Σw z_j² − (Σw z_j)²/n, s = Σ w z), coupled exactly
 * to the bias ({@code s}, {@code n}). When the decoder moves by Δ, the old rows' gradient moves by that
 * curvature times Δ. The model is exact for a decoder that has not moved since its rows left
 * ({@code IterativeDecoderTest}), and what it drops is only how old rows' co-firing latents pull on each
 * other's atoms after the decoder moved; it vanishes as the window covers the forgetting horizon. (A
 * diagonal model without the mean part is unstable: for positive codes the mean direction carries a
 * curvature about k times the diagonal, and steps overshoot; a diagonal majorizer, |z_j|·‖z‖₁, is stable
 * but about k times too stiff. Both were measured against the exact step and lost to this one by one to
 * two orders of magnitude in objective gap.) Before the first update the decoder is the initial one, a
 * poor point to linearise at, so the window then keeps up to {@value #FIRST_SOLVE_FACTOR} times its rows.
 * Forgetting scales the window's weights and the old model alike (lazily, O(1)).
 *
 * <p><b>Solve.</b> Starting from the current decoder (the step is a correction Δ), preconditioned
 * conjugate gradients run on each of the d columns (the matrix is shared, the columns are independent
 * problems; each has its own step lengths). The preconditioner ({@link Preconditioner}) is the matrix with
 * the covariance between latents dropped but the codes' mean kept — the same model as the old rows' — and
 * costs O(m) per column through the Schur complement of the bias. Against the exact diagonal alone
 * (Jacobi), which it contains, it also takes the mean direction off CG, which for non-negative TopK codes
 * carries about k times the diagonal's curvature: with every row in the window (m = 2 048, training's
 * stopping rule, {@code IterativeDecoderTest}) the objective gap to the exact step fell from 8·10⁻⁵ to
 * 5·10⁻⁷, and at 768 → 16 384, k 32 the update reaches its tolerance in 5 products where Jacobi stopped at
 * the cap of 8 with a residual of 1.7·10⁻². (The gap there, 4.8·10⁻³ in the benchmark, is the old rows'
 * model's and did not change.) The columns are processed in
 * blocks of {@value #BLOCK} (64 bytes, one cache line, per latent: a block's p and q arrays of 1 MiB each at
 * m = 16 384 stay in L2/L3 while the window's codes stream past once per product). One product costs
 * {@code 2·n·k·d} multiply-adds for n kept rows of k entries (two random accesses per entry and block), plus
 * O(m·d); its hot loops are {@link Vec#sparseRowsTimesBlock} and {@link Vec#sparseRowsTransposeTimes}
 * (vector API when present; blocks of 8 floats, scalar and unvectorised by C2, made an update at
 * 768 → 16 384 take 6.1–8.2 s where these take 2.3–4.8 s on a 2-core AMD EPYC). The block width is the same
 * with and without the vector API, so both give the same bits. A block stops when its
 * residual has fallen to {@code tolerance} times its starting value or after {@code maxIterations}
 * products. Blocks are independent and their order of work fixed, so a restored step continues
 * bit-for-bit.
 *
 * <p>Related work: online dictionary learning (Mairal, Bach, Ponce, Sapiro, JMLR 11, 2010) keeps the
 * same statistics {@code A = Σ αᵢαᵢᵀ}, {@code B = Σ xᵢαᵢᵀ} and updates atoms by block-coordinate
 * descent; that needs A (m × m) and one pass per atom, which is what this step avoids. Keeping the old
 * rows' gradient exact at the point they were seen and only their curvature approximate is the idea of
 * incremental aggregated-gradient methods; the curvature here treats latents as uncorrelated beyond
 * their means.
 */
public final class IterativeDecoder implements DecoderStep {

    /** Settings of the step. */
    public record Options(int windowRows, int maxIterations, double tolerance) {
        public Options {
            if (windowRows < 0) {
                throw new IllegalArgumentException("decoder window must be >= 0 rows, got " + windowRows);
            }
            if (maxIterations < 1) {
                throw new IllegalArgumentException("decoder CG iterations must be >= 1, got " + maxIterations);
            }
            if (!(tolerance >= 0 && tolerance < 1)) {
                throw new IllegalArgumentException("decoder CG tolerance must be in [0,1), got " + tolerance);
            }
        }

        public static Options defaults() {
            return new Options(65_536, 8, 1e-3);
        }
    }

    /**
     * Columns per block of the solve: one cache line per latent, and the row's partial product fits in (vector) registers;
     * each thread works on one block at a time, with (m+1) × BLOCK arrays.
     */
    public static final int BLOCK = 16;
    /**
     * The first solve starts from the initial decoder, far from the solution: it may take this many times more products,
     * and its tolerance is this many times smaller.
     */
    static final int FIRST_SOLVE_FACTOR = 4;
    private static final double RESCALE_BELOW = 1e-150;

    /** One kept minibatch: its codes, its rows, its current forgetting weight. */
    private static final class Kept {
        final int rows;
        final int[] rowPtr;
        final int[] idx;
        final float[] val;
        final float[] x;
        double weight;

        Kept(int rows, int[] rowPtr, int[] idx, float[] val, float[] x, double weight) {
            this.rows = rows;
            this.rowPtr = rowPtr;
            this.idx = idx;
            this.val = val;
            this.x = x;
            this.weight = weight;
        }
    }

    private final SaeModel model;
    private final Options options;
    private final int m;
    /** The model's input dimension: the row stride of its decoder. */
    private final int d;
    /** The first of the columns this step owns (a multiple of {@link #BLOCK}). */
    private final int c0;
    /** How many columns it owns, {@code c0 .. c0+width}: all d, or a shard of them. */
    private final int width;
    private final ArrayDeque<Kept> window = new ArrayDeque<>();
    private long keptRows;
    /** Old rows' model, stored divided by {@link #oldScale}. */
    private final double[] gOld;
    /** Forgetting-weighted count of the old rows. */
    private double cOld;
    private final double[] sqOld;
    private final double[] sOld;

    private double oldScale = 1.0;
    /** Solves done: the first starts from an unsolved (initial) decoder and may take more products. */
    private long solves;

    public IterativeDecoder(SaeModel model, Options options) {
        this(model, options, 0, Objects.requireNonNull(model, "model").spec().inputDim());
    }

    /**
     * The step on the decoder's columns {@code fromColumn .. toColumn} only (a column shard). The step's columns are
     * independent problems that share only the codes, so a shard keeps the window's codes, its columns of the rows and of
     * the old rows' gradient, reads and writes only its columns of the model's decoder and bias, and computes exactly the
     * bits the whole step computes on them ({@code IterativeDecoderTest}): shards owning disjoint columns together are
     * the whole step. {@code fromColumn} must be a multiple of {@value #BLOCK} and {@code toColumn} one too or d.
     * {@link #accumulate} then takes the rows' shard columns, rows × (toColumn − fromColumn).
     */
    public IterativeDecoder(SaeModel model, Options options, int fromColumn, int toColumn) {
        this.model = Objects.requireNonNull(model, "model");
        this.options = Objects.requireNonNull(options, "options");
        if (model.spec().tied()) {
            throw new IllegalArgumentException("the decoder step needs an untied model");
        }
        this.m = model.spec().latents();
        this.d = model.spec().inputDim();
        if (fromColumn < 0 || fromColumn >= toColumn || toColumn > d || fromColumn % BLOCK != 0
                || (toColumn % BLOCK != 0 && toColumn != d)) {
            throw new IllegalArgumentException("decoder columns " + fromColumn + ".." + toColumn + " of " + d
                    + ": need 0 <= from < to <= " + d + ", from a multiple of " + BLOCK + ", to a multiple of " + BLOCK + " or " + d);
        }
        this.c0 = fromColumn;
        this.width = toColumn - fromColumn;
        if ((long) (m + 1) * d > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("(latents+1)·inputDim = " + (long) (m + 1) * d + " exceeds one Java array");
        }
        this.gOld = new double[(m + 1) * width];
        this.sqOld = new double[m];
        this.sOld = new double[m];
    }

    @Override
    public String kind() {
        return "cg";
    }

    @Override
    public int latents() {
        return m;
    }

    @Override
    public int inputDim() {
        return d;
    }

    /** The first column this step owns. */
    public int fromColumn() {
        return c0;
    }

    /** One past the last column this step owns. */
    public int toColumn() {
        return c0 + width;
    }

    /**
     * Columns {@code from .. to} of {@code rows} rows of width {@code dim} (row-major), as a new rows × (to − from) array:
     * what a column shard's {@link #accumulate} takes.
     */
    public static float[] columns(float[] xs, int rows, int dim, int from, int to) {
        if (from < 0 || from > to || to > dim || xs.length < (long) rows * dim) {
            throw new IllegalArgumentException("columns " + from + ".." + to + " of " + rows + " x " + dim + " rows (" + xs.length + " values)");
        }
        int w = to - from;
        float[] out = new float[Math.multiplyExact(rows, w)];
        for (int b = 0; b < rows; b++) {
            System.arraycopy(xs, b * dim + from, out, b * w, w);
        }
        return out;
    }

    /** Rows kept in the window. */
    public long keptRows() {
        return keptRows;
    }

    @Override
    public double count() {
        double c = cOld * oldScale;
        for (Kept k : window) {
            c += k.weight * k.rows;
        }
        return c;
    }

    @Override
    public void forget(double gamma) {
        if (!(gamma > 0 && gamma <= 1)) {
            throw new IllegalArgumentException("forgetting factor must be in (0,1], got " + gamma);
        }
        for (Kept k : window) {
            k.weight *= gamma;
        }
        oldScale *= gamma;
        if (oldScale < RESCALE_BELOW) {
            foldScale();
        }
    }

    private void foldScale() {
        double s = oldScale;
        for (int i = 0; i < gOld.length; i++) {
            gOld[i] *= s;
        }
        for (int j = 0; j < m; j++) {
            sqOld[j] *= s;
            sOld[j] *= s;
        }
        cOld *= s;
        oldScale = 1.0;
    }

    @Override
    public void accumulate(SparseCodes codes, float[] xs, int rows) {
        if (codes.rows() != rows || codes.latents() != m) {
            throw new IllegalArgumentException("codes have " + codes.rows() + " rows of " + codes.latents()
                    + " latents; expected " + rows + " of " + m);
        }
        if (xs.length < (long) rows * width) {
            throw new IllegalArgumentException("batch holds " + xs.length + " values, expected " + rows + "x" + width
                    + (width == d ? "" : " (the rows' columns " + c0 + ".." + (c0 + width) + ")"));
        }
        int nnz = codes.entries();
        window.addLast(new Kept(rows, Arrays.copyOf(codes.rowPtr, rows + 1), Arrays.copyOf(codes.idx, nnz),
                Arrays.copyOf(codes.val, nnz), Arrays.copyOf(xs, rows * width), 1.0));
        keptRows += rows;
        // before the first solve the decoder is the initial one, a poor point to linearise old rows at: the window
        // then holds up to FIRST_SOLVE_FACTOR times its size
        long limit = solves == 0 ? (long) FIRST_SOLVE_FACTOR * options.windowRows() : options.windowRows();
        while (keptRows > limit && !window.isEmpty()) {
            expire(window.removeFirst());
        }
    }

    /** Folds a batch leaving the window into the old rows' model, linearised at the model's current decoder. */
    private void expire(Kept k) {
        keptRows -= k.rows;
        if (k.weight == 0) {
            return;
        }
        final double inv = k.weight / oldScale;
        final float[] w = model.decoderWeights();
        final float[] bias = model.decoderBias();
        // the rows' residuals at the current decoder (parallel over rows), then their scatter into G_old
        // split by latent range, so no two threads write one row and the sums keep row order
        final int wd = width;
        final float[] res = new float[k.rows * wd];
        Parallel.forRange(k.rows, 16, (from, to) -> {
            for (int b = from; b < to; b++) {
                residual(k, b, w, bias, res, b * wd);
            }
        });
        Parallel.forRange(m + 1, 256, (from, to) -> {
            for (int b = 0; b < k.rows; b++) {
                for (int p = k.rowPtr[b]; p < k.rowPtr[b + 1]; p++) {
                    int j = k.idx[p];
                    float v = k.val[p];
                    if (j >= from && j < to && v != 0f) {
                        Vec.axpy(inv * v, res, b * wd, gOld, j * wd, wd);
                    }
                }
                if (to == m + 1) {
                    Vec.axpy(inv, res, b * wd, gOld, m * wd, wd);
                }
            }
        });
        // the old rows' curvature keeps, per latent, Σ w z_j² and Σ w z_j, and Σ w
        for (int b = 0; b < k.rows; b++) {
            for (int p = k.rowPtr[b]; p < k.rowPtr[b + 1]; p++) {
                sqOld[k.idx[p]] += inv * k.val[p] * k.val[p];
                sOld[k.idx[p]] += inv * k.val[p];
            }
        }
        cOld += inv * k.rows;
    }

    /** {@code r = z̃_b W̃ − x_b} for row b of a kept batch, over the step's columns. */
    private void residual(Kept k, int b, float[] w, float[] bias, float[] r, int ro) {
        int xo = b * width;
        for (int i = 0; i < width; i++) {
            r[ro + i] = bias[c0 + i] - k.x[xo + i];
        }
        for (int p = k.rowPtr[b]; p < k.rowPtr[b + 1]; p++) {
            float v = k.val[p];
            if (v != 0f) {
                Vec.axpy(v, w, k.idx[p] * d + c0, r, ro, width);
            }
        }
    }

    @Override
    public void clear() {
        window.clear();
        keptRows = 0;
        Arrays.fill(gOld, 0);
        Arrays.fill(sqOld, 0);
        Arrays.fill(sOld, 0);
        cOld = 0;
        oldScale = 1.0;
        solves = 0;
    }

    /**
     * A solve's correction of the step's columns, (m+1) × (to − from) with the bias last ({@code delta} null when there
     * was nothing to solve), and its report.
     */
    public record Step(float[] delta, DecoderStatistics.SolveReport report) {
    }

    @Override
    public DecoderStatistics.SolveReport solveInto(SaeModel target, double rho, double muDec, boolean holdUnfired) {
        long t0 = System.nanoTime();
        Step step = solve(target, rho, muDec, holdUnfired);
        if (step.delta() == null) {
            return step.report();
        }
        apply(step.delta());
        DecoderStatistics.SolveReport r = step.report();
        return new DecoderStatistics.SolveReport(r.solvedLatents(), r.heldLatents(), r.ridge(), r.count(), (System.nanoTime() - t0) / 1e6,
                r.iterations(), r.residual());
    }

    /**
     * Applies a solve's correction: adds it to the step's columns of the model's decoder and moves the old rows' model
     * with it, as {@link #solveInto} does after {@link #solve}. A replica of a column shard — the same columns, fed the
     * same rows — calls this with the owner's correction instead of solving, and stays the owner's state bit for bit
     * ({@code IterativeDecoderTest}), so it can take the owner's place. A correction of the wrong length, or one that would
     * make the decoder non-finite, is refused and changes nothing.
     */
    public void apply(float[] delta) {
        if (delta == null || delta.length != (long) (m + 1) * width) {
            throw new IllegalArgumentException("a correction of decoder columns " + c0 + ".." + (c0 + width) + " holds " + (m + 1) + " x "
                    + width + " values, got " + (delta == null ? "none" : delta.length));
        }
        final float[] w = model.decoderWeights();
        final float[] bias = model.decoderBias();
        for (int i = 0; i < delta.length; i++) {
            int j = i / width;
            int col = c0 + i % width;
            float next = (j < m ? w[j * d + col] : bias[col]) + delta[i];
            if (!(Math.abs(next) <= Float.MAX_VALUE)) {
                throw new ArithmeticException("decoder step produced a non-finite or out-of-range value (" + next + ") for "
                        + (j < m ? "latent " + j : "the bias") + "; the previous decoder is kept");
            }
        }
        addColumns(model, c0, c0 + width, delta);
        moveOldModel(delta);
        solves++;
    }

    /**
     * Adds a correction of columns {@code from .. to} ((m+1) × (to − from), the bias last) to a model's decoder with the
     * arithmetic {@link #apply} uses: what a node that holds a copy of the decoder, but not that shard, does with the owner's
     * correction, so that every copy has the same bits.
     */
    public static void addColumns(SaeModel model, int from, int to, float[] delta) {
        int m = model.spec().latents();
        int d = model.spec().inputDim();
        int width = to - from;
        if (from < 0 || from >= to || to > d || delta.length != (long) (m + 1) * width) {
            throw new IllegalArgumentException("a correction of decoder columns " + from + ".." + to + " of " + d + " holds " + (m + 1)
                    + " x " + width + " values, got " + delta.length);
        }
        float[] w = model.decoderWeights();
        float[] bias = model.decoderBias();
        for (int j = 0; j < m; j++) {
            Vec.axpy(1f, delta, j * width, w, j * d + from, width);
        }
        for (int i = 0; i < width; i++) {
            bias[from + i] += delta[m * width + i];
        }
    }

    /**
     * Solves the step without changing anything: the correction of the step's columns from the current decoder, which
     * {@link #apply} then applies (here, and on any replica of these columns).
     */
    public Step solve(SaeModel target, double rho, double muDec, boolean holdUnfired) {
        if (target != model) {
            throw new IllegalArgumentException("the iterative decoder step solves into the model it was built for");
        }
        if (!(rho >= 0) || !(muDec >= 0)) {
            throw new IllegalArgumentException("rho and muDec must be >= 0, got " + rho + ", " + muDec);
        }
        long t0 = System.nanoTime();
        double count = count();
        if (!(count > 0)) {
            return new Step(null, new DecoderStatistics.SolveReport(0, m, rho + muDec, 0, 0, 0, Double.NaN));
        }
        // the exact diagonal of the data part, and the window's weight
        final double[] diag = new double[m + 1];
        final double[] sum = new double[m];
        for (int j = 0; j < m; j++) {
            diag[j] = oldCurvature(j) * oldScale;
            sum[j] = sOld[j] * oldScale;
        }
        diag[m] = cOld * oldScale;
        for (Kept k : window) {
            for (int b = 0; b < k.rows; b++) {
                for (int p = k.rowPtr[b]; p < k.rowPtr[b + 1]; p++) {
                    double v = k.val[p];
                    diag[k.idx[p]] += k.weight * v * v;
                    sum[k.idx[p]] += k.weight * v;
                }
            }
            diag[m] += k.weight * k.rows;
        }
        final float[] inverse = new float[m + 1];
        int held = 0;
        for (int j = 0; j < m; j++) {
            if (holdUnfired && !(diag[j] > 0)) {
                held++; // inverse 0: the atom's correction stays 0
            } else if (diag[j] + rho + muDec > 0) {
                inverse[j] = (float) (1.0 / (diag[j] + rho + muDec));
            }
        }
        final Preconditioner pre = Preconditioner.of(diag, sum, inverse, rho + muDec);
        final Kept[] kept = window.toArray(Kept[]::new);
        final float[] w = model.decoderWeights();
        final float[] bias = model.decoderBias();
        final float[] delta = new float[(m + 1) * width];
        final int blocks = (width + BLOCK - 1) / BLOCK;
        final int maxIterations = solves == 0 ? FIRST_SOLVE_FACTOR * options.maxIterations() : options.maxIterations();
        final int[] iterations = new int[blocks];
        final double[] start = new double[blocks];
        final double[] end = new double[blocks];
        final double ridge = rho + muDec;
        final boolean hold = holdUnfired;
        Parallel.forRange(blocks, 1, (from, to) -> {
            Block work = new Block(m);
            for (int c = from; c < to; c++) {
                int cb = Math.min(BLOCK, width - c * BLOCK);
                work.solve(kept, w, bias, inverse, pre, hold, rho, ridge, c0 + c * BLOCK, cb, delta, maxIterations, solves == 0);
                iterations[c] = work.iterations;
                start[c] = work.startSq;
                end[c] = work.endSq;
            }
        });
        int maxIt = 0;
        double s0 = 0;
        double s1 = 0;
        for (int c = 0; c < blocks; c++) {
            maxIt = Math.max(maxIt, iterations[c]);
            s0 += start[c];
            s1 += end[c];
        }
        double residual = s0 > 0 ? Math.sqrt(s1 / s0) : 0;
        return new Step(delta, new DecoderStatistics.SolveReport(m - held, held, ridge, count, (System.nanoTime() - t0) / 1e6, maxIt,
                residual));
    }

    /**
     * Half the gradient of the step's objective at the model's current decoder, (m+1) × width (the step's columns) with
     * the bias last, as the solve starts from it (for checks against the exact statistics).
     */
    double[] halfGradient(double rho) {
        Kept[] kept = window.toArray(Kept[]::new);
        float[] inverse = new float[m + 1];
        Arrays.fill(inverse, 1f);
        double[] g = new double[(m + 1) * width];
        Block work = new Block(m);
        for (int o = 0; o < width; o += BLOCK) {
            int cb = Math.min(BLOCK, width - o);
            work.startResidual(kept, model.decoderWeights(), model.decoderBias(), inverse, false, rho, c0 + o, cb);
            for (int j = 0; j <= m; j++) {
                for (int t = 0; t < cb; t++) {
                    g[j * width + o + t] = -work.r[j * cb + t];
                }
            }
        }
        return g;
    }

    /** The old rows' gradient after the decoder moved by Δ: {@code G_old += H_old Δ} (stored / oldScale). */
    /** Diagonal entry j of the mean model's W block: κ·variance + mean part (stored scale). */
    private double oldCurvature(int j) {
        if (cOld <= 0) {
            return 0;
        }
        double var = Math.max(0, sqOld[j] - sOld[j] * sOld[j] / cOld);
        return var + sOld[j] * sOld[j] / cOld;
    }

    private void moveOldModel(float[] delta) {
        if (cOld == 0) {
            return;
        }
        final int wd = width;
        final int bo = m * wd;
        // u = sᵀΔ_W (per column), then G_W += κ·var∘Δ_W + s (u/c + δ_b), G_b += u + c δ_b
        double[] u = new double[wd];
        for (int j = 0; j < m; j++) {
            if (sOld[j] != 0) {
                Vec.axpy(sOld[j], delta, j * wd, u, 0, wd);
            }
        }
        double c = cOld;
        double[] shift = new double[wd];
        for (int t = 0; t < wd; t++) {
            shift[t] = u[t] / c + delta[bo + t];
        }
        Parallel.forRange(m, 256, (from, to) -> {
            for (int j = from; j < to; j++) {
                double sj = sOld[j];
                if (sj == 0 && sqOld[j] == 0) {
                    continue;
                }
                double var = Math.max(0, sqOld[j] - sj * sj / c);
                int o = j * wd;
                for (int t = 0; t < wd; t++) {
                    gOld[o + t] += var * delta[o + t] + sj * shift[t];
                }
            }
        });
        for (int t = 0; t < wd; t++) {
            gOld[bo + t] += u[t] + c * delta[bo + t];
        }
    }

    /**
     * The preconditioner M: the step's matrix with the covariance between latents dropped but the mean kept,
     * {@code [[diag(var) + s sᵀ/c, s], [sᵀ, c]]} (s = Σ w z, c = Σ w, var_j = Σ w z_j² − s_j²/c, plus the ridge
     * on the W block). It has the exact diagonal of the matrix (as Jacobi) and, besides, the direction of the
     * codes' mean, which for non-negative codes carries about k times the diagonal's curvature and which Jacobi
     * leaves to CG. The Schur complement of c is diag(var + ridge), so {@code M⁻¹r} costs O(m) per column:
     * {@code a = (r_W − s r_b / c) / (var + ridge)}, {@code β = (r_b − sᵀa) / c}. M is positive definite when
     * c &gt; 0 and every var + ridge &gt; 0; a latent whose var + ridge is 0 keeps its Jacobi entry and no mean
     * coupling.
     */
    record Preconditioner(float[] invVar, float[] mean, double c) {

        static Preconditioner of(double[] diag, double[] sum, float[] inverse, double ridge) {
            int m = sum.length;
            double c = diag[m];
            float[] invVar = new float[m];
            float[] mean = new float[m];
            for (int j = 0; j < m; j++) {
                if (inverse[j] == 0f) {
                    continue; // held: no correction
                }
                double dd = Math.max(0, diag[j] - sum[j] * sum[j] / c) + ridge;
                if (dd > 0 && c > 0) {
                    invVar[j] = (float) (1.0 / dd);
                    mean[j] = (float) sum[j];
                } else {
                    invVar[j] = inverse[j];
                }
            }
            return new Preconditioner(invVar, mean, c);
        }

        /** {@code into = M⁻¹ r} on a block of cb columns, and {@code rz = Σ r·M⁻¹r} per column. */
        void apply(float[] r, float[] into, int cb, double[] rz) {
            int m = mean.length;
            int bl = m * cb;
            double[] rb = new double[cb];
            double[] sa = new double[cb];
            for (int t = 0; t < cb; t++) {
                rb[t] = c > 0 ? r[bl + t] / c : 0;
            }
            Arrays.fill(rz, 0);
            for (int j = 0; j < m; j++) {
                int l = j * cb;
                float iv = invVar[j];
                float sj = mean[j];
                for (int t = 0; t < cb; t++) {
                    float a = iv * (r[l + t] - sj * (float) rb[t]);
                    into[l + t] = a;
                    sa[t] += (double) sj * a;
                    rz[t] += (double) r[l + t] * a;
                }
            }
            for (int t = 0; t < cb; t++) {
                float b = c > 0 ? (float) ((r[bl + t] - sa[t]) / c) : 0f;
                into[bl + t] = b;
                rz[t] += (double) r[bl + t] * b;
            }
        }
    }

    /** One thread's work arrays, (m+1) × cb each, and the preconditioned CG on one block of columns. */
    private final class Block {
        final float[] r;
        final float[] p;
        final float[] q;
        final float[] y = new float[BLOCK];
        /** A kept batch's row products (rows × 8) between the two passes of the 8-column product. */
        float[] ys = new float[0];
        final float[] xb;
        final float[] z;
        int iterations;
        double startSq;
        double endSq;

        Block(int m) {
            int n = (m + 1) * BLOCK;
            r = new float[n];
            p = new float[n];
            q = new float[n];
            xb = new float[n];
            z = new float[n];
        }

        void solve(Kept[] kept, float[] w, float[] bias, float[] inverse, Preconditioner pre, boolean hold, double rho,
                   double ridge, int c0, int cb, float[] delta, int maxIterations, boolean first) {
            int n = (m + 1) * cb;
            Arrays.fill(xb, 0, n, 0f);
            startResidual(kept, w, bias, inverse, hold, rho, c0, cb);
            double[] rz = new double[cb];
            double[] pq = new double[cb];
            pre.apply(r, z, cb, rz);
            System.arraycopy(z, 0, p, 0, n);
            startSq = sumSquares(r, n);
            endSq = startSq;
            iterations = 0;
            double tol = first ? options.tolerance() / FIRST_SOLVE_FACTOR : options.tolerance();
            double stop = tol * tol * startSq;
            float[] alpha = new float[cb];
            double[] rzNew = new double[cb];
            while (iterations < maxIterations && endSq > stop && startSq > 0) {
                apply(kept, inverse, ridge, cb);
                Arrays.fill(pq, 0);
                for (int j = 0; j <= m; j++) {
                    int l = j * cb;
                    for (int t = 0; t < cb; t++) {
                        pq[t] += (double) p[l + t] * q[l + t];
                    }
                }
                for (int t = 0; t < cb; t++) {
                    alpha[t] = pq[t] > 0 ? (float) (rz[t] / pq[t]) : 0f;
                }
                for (int j = 0; j <= m; j++) {
                    int l = j * cb;
                    for (int t = 0; t < cb; t++) {
                        xb[l + t] += alpha[t] * p[l + t];
                        r[l + t] -= alpha[t] * q[l + t];
                    }
                }
                iterations++;
                endSq = sumSquares(r, n);
                if (endSq <= stop || iterations >= maxIterations) {
                    break;
                }
                // p = M⁻¹r + β p, β = (r·M⁻¹r)_new / (r·M⁻¹r)_old per column
                pre.apply(r, z, cb, rzNew);
                for (int t = 0; t < cb; t++) {
                    double beta = rz[t] > 0 ? rzNew[t] / rz[t] : 0;
                    alpha[t] = (float) beta;
                    rz[t] = rzNew[t];
                }
                for (int j = 0; j <= m; j++) {
                    int l = j * cb;
                    for (int t = 0; t < cb; t++) {
                        p[l + t] = z[l + t] + alpha[t] * p[l + t];
                    }
                }
            }
            for (int j = 0; j <= m; j++) {
                System.arraycopy(xb, j * cb, delta, j * width + (c0 - IterativeDecoder.this.c0), cb);
            }
        }

        /** {@code r = −(G_win(W̃) + G_old + ρW)} on the block: minus half the gradient of f at the current decoder. */
        void startResidual(Kept[] kept, float[] w, float[] bias, float[] inverse, boolean hold, double rho, int c0, int cb) {
            // the decoder's column block in the work layout, then q = Σ w z̃ᵀ(z̃ W̃ − x) over the window
            for (int j = 0; j < m; j++) {
                System.arraycopy(w, j * d + c0, p, j * cb, cb);
            }
            System.arraycopy(bias, c0, p, m * cb, cb);
            Arrays.fill(q, 0, (m + 1) * cb, 0f);
            int local = c0 - IterativeDecoder.this.c0;
            windowProduct(kept, cb, local, true);
            double os = oldScale;
            for (int j = 0; j <= m; j++) {
                int o = j * d + c0;
                int go = j * width + local;
                int l = j * cb;
                for (int t = 0; t < cb; t++) {
                    double g = q[l + t] + os * gOld[go + t];
                    if (j < m) {
                        g += rho * w[o + t];
                    }
                    r[l + t] = (float) -g;
                }
                if (j < m && hold && inverse[j] == 0f) {
                    Arrays.fill(r, l, l + cb, 0f);
                }
            }
        }

        /** {@code q = (S̃_window + H_old + ridge·I_W) p} on the block. */
        private void apply(Kept[] kept, float[] inverse, double ridge, int cb) {
            double os = oldScale;
            int bl = m * cb;
            double c = cOld;
            float[] u = new float[cb];
            for (int j = 0; j < m && c > 0; j++) {
                float sj = (float) sOld[j];
                if (sj != 0f && inverse[j] != 0f) {
                    Vec.axpy(sj, p, j * cb, u, 0, cb);
                }
            }
            float[] shift = new float[cb];
            for (int t = 0; t < cb; t++) {
                shift[t] = c > 0 ? (float) (u[t] / c) + p[bl + t] : 0f;
            }
            for (int j = 0; j < m; j++) {
                int l = j * cb;
                if (inverse[j] == 0f) {
                    Arrays.fill(q, l, l + cb, 0f);
                    continue;
                }
                float sj = (float) (sOld[j] * os);
                float vj = c > 0 ? (float) (Math.max(0, sqOld[j] - sOld[j] * sOld[j] / c) * os + ridge) : (float) ridge;
                for (int t = 0; t < cb; t++) {
                    q[l + t] = vj * p[l + t] + sj * shift[t];
                }
            }
            float cc = (float) (c * os);
            for (int t = 0; t < cb; t++) {
                q[bl + t] = (float) (u[t] * os) + cc * p[bl + t];
            }
            // an unfired latent has no non-zero code entry in the window, so the product adds nothing to its row
            windowProduct(kept, cb, 0, false);
        }

        /**
         * {@code q += Σ_window w_i z̃_iᵀ (z̃_i p − x_i)} on the block ({@code x} only when {@code minusX}, with the
         * block's columns starting at {@code c0} of the kept rows, which hold the step's columns). The 16- and 8-column cases keep the row's product in registers: it
         * is the hot loop of the step (two random accesses of 64 bytes per stored code entry).
         */
        private void windowProduct(Kept[] kept, int cb, int c0, boolean minusX) {
            int bl = m * cb;
            for (Kept k : kept) {
                float wk = (float) k.weight;
                if (wk == 0f) {
                    continue;
                }
                int[] ptr = k.rowPtr;
                int[] idx = k.idx;
                float[] val = k.val;
                float[] x = k.x;
                // two passes per kept batch: the rows' products into ys (rows × cb, stays in cache), then their
                // scatter; each pass reads or writes only one of p and q at random, which halves the random
                // working set against one fused pass (a whole update at m = 16 384: 16 % faster)
                if (cb == 16 || cb == 8) {   // 8: the last block when d mod 16 is 8
                    if (ys.length < k.rows * cb) {
                        ys = new float[k.rows * cb];
                    }
                    Vec.sparseRowsTimesBlock(cb, k.rows, ptr, idx, val, p, bl, minusX ? x : null, c0, width, wk, ys);
                    Vec.sparseRowsTransposeTimes(cb, k.rows, ptr, idx, val, ys, q, bl);
                    continue;
                }
                for (int b = 0; b < k.rows; b++) {
                    System.arraycopy(p, bl, y, 0, cb);
                    if (minusX) {
                        int xo = b * width + c0;
                        for (int t = 0; t < cb; t++) {
                            y[t] -= x[xo + t];
                        }
                    }
                    for (int e = ptr[b]; e < ptr[b + 1]; e++) {
                        Vec.axpy(val[e], p, idx[e] * cb, y, 0, cb);
                    }
                    for (int t = 0; t < cb; t++) {
                        y[t] *= wk;
                    }
                    for (int e = ptr[b]; e < ptr[b + 1]; e++) {
                        Vec.axpy(val[e], y, 0, q, idx[e] * cb, cb);
                    }
                    Vec.axpy(1f, y, 0, q, bl, cb);
                }
            }
        }

        private double sumSquares(float[] a, int n) {
            return Vec.sumSquares(a, 0, n);
        }
    }

    // ---- checkpoints ----

    @Override
    public void saveTo(TrainerState.Builder b) {
        // the lazy forgetting scale is written as it is, not folded in: saving changes nothing, and a step loaded from the
        // state computes the saved one's bits from then on (a replica seeded from its owner, a digest of a running step)
        int batches = window.size();
        long[] rows = new long[batches];
        double[] weights = new double[batches];
        long entries = 0;
        for (Kept k : window) {
            entries += k.rowPtr[k.rows];
        }
        if (entries > Integer.MAX_VALUE - 8 || keptRows * width > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("the decoder window (" + keptRows + " rows) is too large for one checkpoint array");
        }
        float[] val = new float[(int) entries];
        long[] idx = new long[(int) entries];
        long[] ptr = new long[(int) keptRows + batches];
        float[] xs = new float[(int) (keptRows * width)];
        int i = 0;
        int e = 0;
        int pi = 0;
        int xo = 0;
        for (Kept k : window) {
            rows[i] = k.rows;
            weights[i++] = k.weight;
            int nnz = k.rowPtr[k.rows];
            for (int t = 0; t < nnz; t++) {
                idx[e + t] = k.idx[t];
            }
            System.arraycopy(k.val, 0, val, e, nnz);
            e += nnz;
            for (int r = 0; r <= k.rows; r++) {
                ptr[pi++] = k.rowPtr[r];
            }
            System.arraycopy(k.x, 0, xs, xo, k.rows * width);
            xo += k.rows * width;
        }
        b.put("cg.rows", rows).put("cg.idx", idx).put("cg.ptr", ptr).put("cg.shape", m, d, options.windowRows()).put("cg.solves", solves);
        if (width != d) {
            b.put("cg.columns", c0, c0 + width);
        }
        b.put("cg.weights", weights).put("cg.val", val).put("cg.x", xs);
        b.put("cg.gOld", gOld).put("cg.sqOld", sqOld).put("cg.sOld", sOld).put("cg.cOld", new double[] {cOld})
                .put("cg.oldScale", new double[] {oldScale});
    }

    @Override
    public void loadFrom(TrainerState s) {
        long[] shape = s.longs().get("cg.shape");
        if (shape == null) {
            throw new IllegalArgumentException("state lacks 'cg.shape': it was not written by the iterative (cg) decoder step"
                    + " (a checkpoint of the exact step cannot resume a cg run; set trainer.decoder.step to match)");
        }
        if (shape.length != 3 || shape[0] != m || shape[1] != d) {
            throw new IllegalArgumentException("state 'cg.shape' " + Arrays.toString(shape) + " does not match " + m + "x" + d);
        }
        long[] columns = s.longs().get("cg.columns");
        long[] own = {c0, c0 + width};
        if (!Arrays.equals(columns == null ? new long[] {0, d} : columns, own)) {
            throw new IllegalArgumentException("state 'cg.columns' " + (columns == null ? "[0, " + d + "]" : Arrays.toString(columns))
                    + " does not match this step's columns " + Arrays.toString(own));
        }
        long[] rows = required(s.longs().get("cg.rows"), "cg.rows");
        double[] weights = required(s.doubles().get("cg.weights"), "cg.weights");
        long[] idx = required(s.longs().get("cg.idx"), "cg.idx");
        long[] ptr = required(s.longs().get("cg.ptr"), "cg.ptr");
        float[] val = required(s.floats().get("cg.val"), "cg.val");
        float[] xs = required(s.floats().get("cg.x"), "cg.x");
        if (weights.length != rows.length || idx.length != val.length) {
            throw new IllegalArgumentException("state 'cg.*' arrays disagree in length");
        }
        clear();
        int e = 0;
        int pi = 0;
        int xo = 0;
        for (int i = 0; i < rows.length; i++) {
            int r = Math.toIntExact(rows[i]);
            if (pi + r + 1 > ptr.length || xo + (long) r * width > xs.length) {
                throw new IllegalArgumentException("state 'cg.*' is truncated at kept batch " + i);
            }
            int[] rp = new int[r + 1];
            for (int t = 0; t <= r; t++) {
                rp[t] = Math.toIntExact(ptr[pi + t]);
            }
            pi += r + 1;
            int nnz = rp[r];
            if (rp[0] != 0 || e + nnz > idx.length) {
                throw new IllegalArgumentException("state 'cg.ptr' is inconsistent at kept batch " + i);
            }
            int[] id = new int[nnz];
            for (int t = 0; t < nnz; t++) {
                long j = idx[e + t];
                if (j < 0 || j >= m) {
                    throw new IllegalArgumentException("state 'cg.idx' holds latent " + j + " outside [0," + m + ")");
                }
                id[t] = (int) j;
            }
            float[] v = Arrays.copyOfRange(val, e, e + nnz);
            e += nnz;
            float[] x = Arrays.copyOfRange(xs, xo, xo + r * width);
            xo += r * width;
            window.addLast(new Kept(r, rp, id, v, x, weights[i]));
            keptRows += r;
        }
        s.copy("cg.gOld", gOld);
        s.copy("cg.sqOld", sqOld);
        s.copy("cg.sOld", sOld);
        double[] n = new double[1];
        s.copy("cg.cOld", n);
        cOld = n[0];
        solves = s.counter("cg.solves");
        // states written before the scale was stored had it folded in
        double[] scale = s.doubles().get("cg.oldScale");
        if (scale != null && (scale.length != 1 || !(scale[0] > 0 && scale[0] <= 1))) {
            throw new IllegalArgumentException("state 'cg.oldScale' must be one value in (0, 1], got " + Arrays.toString(scale));
        }
        oldScale = scale == null ? 1.0 : scale[0];
    }

    private static <T> T required(T a, String name) {
        if (a == null) {
            throw new IllegalArgumentException("state lacks '" + name + "'");
        }
        return a;
    }
}
