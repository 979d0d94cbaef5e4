package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.linalg.HouseholderLeastSquares;
import org.junit.jupiter.api.Test;

class DecoderStatisticsTest {
    private static final int D = 10;
    private static final int M = 16;

    /** Codes of random rows under a random TopK encoder, plus the rows. */
    private record Batch(float[] x, int rows, SparseCodes codes) {
    }

    private static Batch batch(SaeModel model, int rows, long seed) {
        float[] x = ReferenceSae.gaussianRows(rows, D, seed);
        SparseStep step = new SparseStep(model.spec());
        step.encode(model, x, rows);
        SparseCodes copy = new SparseCodes();
        SparseCodes c = step.codes();
        copy.reset(rows, M, c.entries());
        System.arraycopy(c.rowPtr, 0, copy.rowPtr, 0, rows + 1);
        System.arraycopy(c.idx, 0, copy.idx, 0, c.entries());
        System.arraycopy(c.val, 0, copy.val, 0, c.entries());
        step.close();
        return new Batch(x, rows, copy);
    }

    private static SaeModel topkModel(long seed) {
        return ReferenceSae.randomModel(new SaeSpec(D, M, Sparsifier.TOPK_ABS, 5, 0, false), seed);
    }

    /**
     * Direct solution of min ‖Z W + 1bᵀ − X‖² + ρ‖W‖² + μ‖W − W_prev‖² over (W, b) as one stacked
     * least-squares problem [Z 1; √(ρ+μ) I 0] [W; bᵀ] = [X; μ/√(ρ+μ) W_prev], solved by QR.
     */
    private static double[] directSolve(Batch[] batches, double rho, double mu, float[] wPrev) {
        int n = 0;
        for (Batch b : batches) {
            n += b.rows;
        }
        int cols = M + 1;
        int r = n + M;
        double[] a = new double[r * cols];
        double[] rhs = new double[r * D];
        int row = 0;
        for (Batch b : batches) {
            for (int i = 0; i < b.rows; i++, row++) {
                for (int e = b.codes.rowStart(i); e < b.codes.rowEnd(i); e++) {
                    a[row * cols + b.codes.index(e)] = b.codes.value(e);
                }
                a[row * cols + M] = 1;
                for (int t = 0; t < D; t++) {
                    rhs[row * D + t] = b.x[i * D + t];
                }
            }
        }
        double s = Math.sqrt(rho + mu);
        for (int j = 0; j < M; j++, row++) {
            a[row * cols + j] = s;
            for (int t = 0; t < D; t++) {
                rhs[row * D + t] = mu / s * wPrev[j * D + t];
            }
        }
        return HouseholderLeastSquares.solve(a, rhs, r, cols, D);
    }

    private static void assertDecoderEquals(double[] direct, SaeModel model, double tol) {
        float[] w = model.decoderWeights();
        for (int j = 0; j < M; j++) {
            for (int t = 0; t < D; t++) {
                assertEquals(direct[j * D + t], w[j * D + t], tol * (1 + Math.abs(direct[j * D + t])), "W_dec[" + j + "," + t + "]");
            }
        }
        for (int t = 0; t < D; t++) {
            assertEquals(direct[M * D + t], model.decoderBias()[t], tol * (1 + Math.abs(direct[M * D + t])), "b_dec[" + t + "]");
        }
    }

    @Test
    void closedFormMatchesDirectLeastSquares() {
        SaeModel model = topkModel(1);
        Batch b = batch(model, 200, 2);
        float[] wPrev = model.decoderWeights().clone();
        for (double[] rm : new double[][] {{1e-6, 0}, {0.5, 0}, {0.1, 2.0}, {0, 0.3}}) {
            SaeModel target = model.copy();
            DecoderStatistics stats = new DecoderStatistics(M, D);
            stats.accumulate(b.codes, b.x, b.rows);
            stats.solveInto(target, rm[0], rm[1], false);
            assertDecoderEquals(directSolve(new Batch[] {b}, rm[0], rm[1], wPrev), target, 1e-5);
        }
    }

    @Test
    void streamedStatisticsWithoutForgettingEqualTheOfflineSolve() {
        SaeModel model = topkModel(3);
        Batch[] parts = new Batch[7];
        DecoderStatistics streamed = new DecoderStatistics(M, D);
        for (int p = 0; p < parts.length; p++) {
            parts[p] = batch(model, 31 + p, 10 + p);
            streamed.forget(1.0);
            streamed.accumulate(parts[p].codes, parts[p].x, parts[p].rows);
        }
        SaeModel a = model.copy();
        streamed.solveInto(a, 1e-3, 0.1, false);
        assertDecoderEquals(directSolve(parts, 1e-3, 0.1, model.decoderWeights()), a, 1e-5);
    }

    @Test
    void mergingHalvesEqualsOnePass() {
        SaeModel model = topkModel(4);
        Batch[] parts = {batch(model, 40, 20), batch(model, 25, 21), batch(model, 33, 22), batch(model, 12, 23)};
        DecoderStatistics whole = new DecoderStatistics(M, D);
        DecoderStatistics first = new DecoderStatistics(M, D);
        DecoderStatistics second = new DecoderStatistics(M, D);
        for (int p = 0; p < parts.length; p++) {
            whole.accumulate(parts[p].codes, parts[p].x, parts[p].rows);
            (p < 2 ? first : second).accumulate(parts[p].codes, parts[p].x, parts[p].rows);
        }
        first.merge(second);
        assertEquals(whole.count(), first.count(), 1e-12);
        assertEquals(whole.sumSquaredNorms(), first.sumSquaredNorms(), 1e-9);
        for (int i = 0; i < M; i++) {
            assertEquals(whole.z(i), first.z(i), 1e-9);
            for (int j = 0; j < M; j++) {
                assertEquals(whole.zz(i, j), first.zz(i, j), 1e-9);
            }
            for (int t = 0; t < D; t++) {
                assertEquals(whole.zx(i, t), first.zx(i, t), 1e-9);
            }
        }
        SaeModel a = model.copy();
        SaeModel b = model.copy();
        whole.solveInto(a, 1e-4, 0, true);
        first.solveInto(b, 1e-4, 0, true);
        assertArrayEquals(a.decoderWeights(), b.decoderWeights(), 1e-5f);
        assertArrayEquals(a.decoderBias(), b.decoderBias(), 1e-5f);
    }

    @Test
    void forgettingWeightsBatchesGeometrically() {
        SaeModel model = topkModel(5);
        Batch[] parts = {batch(model, 20, 30), batch(model, 20, 31), batch(model, 20, 32)};
        double gamma = 0.5;
        DecoderStatistics decayed = new DecoderStatistics(M, D);
        for (Batch p : parts) {
            decayed.forget(gamma);
            decayed.accumulate(p.codes, p.x, p.rows);
        }
        // explicit sum Σ_t γ^(T-t) S_t with T = 3 and each batch forgotten once more at its own start
        DecoderStatistics[] single = new DecoderStatistics[3];
        for (int p = 0; p < 3; p++) {
            single[p] = new DecoderStatistics(M, D);
            single[p].accumulate(parts[p].codes, parts[p].x, parts[p].rows);
        }
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < M; j++) {
                double expected = 0.25 * single[0].zz(i, j) + 0.5 * single[1].zz(i, j) + single[2].zz(i, j);
                assertEquals(expected, decayed.zz(i, j), 1e-9);
            }
        }
        assertEquals(0.25 * 20 + 0.5 * 20 + 20, decayed.count(), 1e-12);
    }

    @Test
    void forgettingSurvivesScaleUnderflow() {
        SaeModel model = topkModel(6);
        Batch b = batch(model, 30, 40);
        DecoderStatistics s = new DecoderStatistics(M, D);
        for (int t = 0; t < 2000; t++) {
            s.forget(0.7);
            s.accumulate(b.codes, b.x, b.rows);
        }
        // the fixed point of S ← 0.7 S + B is B / 0.3
        DecoderStatistics one = new DecoderStatistics(M, D);
        one.accumulate(b.codes, b.x, b.rows);
        assertEquals(30 / 0.3, s.count(), 1e-9);
        assertEquals(one.zz(0, 0) / 0.3, s.zz(0, 0), 1e-9 * Math.abs(one.zz(0, 0) / 0.3) + 1e-12);
        assertTrue(Double.isFinite(s.zx(1, 1)));
    }

    @Test
    void unfiredLatentsKeepTheirAtomsWhenHeld() {
        SaeModel model = topkModel(7);
        Batch b = batch(model, 60, 50);
        boolean[] fired = new boolean[M];
        for (int e = 0; e < b.codes.entries(); e++) {
            fired[b.codes.index(e)] |= b.codes.value(e) != 0;
        }
        // make latent `dead` unfired by removing it from the statistics' view: zero its entries
        int dead = -1;
        for (int j = 0; j < M && dead < 0; j++) {
            if (fired[j]) {
                dead = j;
            }
        }
        for (int e = 0; e < b.codes.entries(); e++) {
            if (b.codes.index(e) == dead) {
                b.codes.val[e] = 0f;
            }
        }
        float[] before = model.decoderWeights().clone();
        DecoderStatistics s = new DecoderStatistics(M, D);
        s.accumulate(b.codes, b.x, b.rows);
        SaeModel held = model.copy();
        DecoderStatistics.SolveReport r = s.solveInto(held, 1e-6, 0, true);
        assertTrue(r.heldLatents() >= 1);
        for (int t = 0; t < D; t++) {
            assertEquals(before[dead * D + t], held.decoderWeights()[dead * D + t], 0f);
        }
        SaeModel zeroed = model.copy();
        s.solveInto(zeroed, 1e-6, 0, false);
        for (int t = 0; t < D; t++) {
            assertEquals(0f, zeroed.decoderWeights()[dead * D + t], 1e-6f);
        }
    }

    @Test
    void rejectsMismatchedShapesAndBadParameters() {
        DecoderStatistics s = new DecoderStatistics(M, D);
        assertThrows(IllegalArgumentException.class, () -> s.forget(0));
        assertThrows(IllegalArgumentException.class, () -> s.forget(1.5));
        assertThrows(IllegalArgumentException.class, () -> s.merge(new DecoderStatistics(M + 1, D)));
        SaeModel tied = ReferenceSae.randomModel(new SaeSpec(D, M, Sparsifier.TOPK, 3, 0, true), 1);
        assertThrows(IllegalArgumentException.class, () -> s.solveInto(tied, 0, 0, true));
        SaeModel other = ReferenceSae.randomModel(new SaeSpec(D + 1, M, Sparsifier.TOPK, 3, 0, false), 1);
        assertThrows(IllegalArgumentException.class, () -> s.solveInto(other, 0, 0, true));
    }
}
