package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StrongBaselineTest {

    /** L_aux in double for given parameters, with the residual e and the normaliser held fixed. */
    private static double auxLoss(SaeSpec spec, double[] wEnc, double[] bEnc, double[] wDec, float[] x, int rows, double[] e,
                                  double norm, boolean[] dead, int kAux, double alpha) {
        int m = spec.latents();
        int d = spec.inputDim();
        double loss = 0;
        for (int b = 0; b < rows; b++) {
            double[] a = ReferenceSae.pre(spec, wEnc, bEnc, x, b);
            // top kAux dead latents by value
            Integer[] order = java.util.stream.IntStream.range(0, m).filter(j -> dead[j]).boxed().toArray(Integer[]::new);
            java.util.Arrays.sort(order, (p, q) -> Double.compare(a[q], a[p]));
            double[] eh = new double[d];
            for (int t = 0; t < Math.min(kAux, order.length); t++) {
                int j = order[t];
                double z = Math.max(a[j], 0);
                for (int s = 0; s < d; s++) {
                    eh[s] += z * wDec[j * d + s];
                }
            }
            for (int s = 0; s < d; s++) {
                double v = eh[s] - e[b * d + s];
                loss += v * v;
            }
        }
        return alpha * loss / norm;
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "dense route: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void auxKGradientMatchesFiniteDifferences(boolean denseRoute) {
        SaeSpec spec = new SaeSpec(5, 12, Sparsifier.TOPK, 2, 0, false);
        SaeModel model = ReferenceSae.randomModel(spec, 11);
        int rows = 7;
        int d = 5;
        float[] x = ReferenceSae.gaussianRows(rows, d, 12);
        boolean[] dead = new boolean[12];
        for (int j = 0; j < 6; j++) {
            dead[j * 2] = true;
        }
        int kAux = 3;
        double alpha = 1.0 / 32;
        try (SparseStep step = new SparseStep(spec)) {
            step.encodeWithPreActivations(model, x, rows);
            step.decode(model, x);
            SaeGradients g = new SaeGradients(spec, true);
            step.backward(model, x, g, true, true);
            // keep only the aux part: start from zero gradients, all rows untouched
            java.util.Arrays.fill(g.touched, false);
            java.util.Arrays.fill(g.bEnc, 0f);
            float[] resid = step.residuals().clone();
            AuxK auxK = new AuxK(spec, kAux, alpha);
            auxK.denseMaxElements = denseRoute ? AuxK.DENSE_MAX_ELEMENTS : 0;
            double lossA = auxK.addGradients(model, x, rows, AuxK.deadPreActivations(step.preActivations(), rows, spec.latents(), dead), resid, dead, g);
            double[] e = new double[rows * d];
            double[] mean = new double[d];
            for (int i = 0; i < rows * d; i++) {
                e[i] = -resid[i];
                mean[i % d] += e[i] / rows;
            }
            double norm = 0;
            for (int i = 0; i < rows * d; i++) {
                norm += (e[i] - mean[i % d]) * (e[i] - mean[i % d]);
            }
            double[] we = ReferenceSae.toDouble(model.encoderWeights());
            double[] be = ReferenceSae.toDouble(model.encoderBias());
            double[] wd = ReferenceSae.toDouble(model.decoderWeights());
            assertEquals(auxLoss(spec, we, be, wd, x, rows, e, norm, dead, kAux, alpha), lossA, 1e-6 * Math.max(1, lossA));
            double h = 1e-5;
            int checked = 0;
            for (double[][] pair : new double[][][] {{we}, {be}, {wd}}) {
                double[] p = pair[0];
                float[] analytic = p == we ? g.wEnc : p == be ? g.bEnc : g.wDec;
                for (int i = 0; i < p.length; i++) {
                    int latent = p == be ? i : i / d;
                    double old = p[i];
                    p[i] = old + h;
                    double up = auxLoss(spec, we, be, wd, x, rows, e, norm, dead, kAux, alpha);
                    p[i] = old - h;
                    double down = auxLoss(spec, we, be, wd, x, rows, e, norm, dead, kAux, alpha);
                    p[i] = old;
                    double fd = (up - down) / (2 * h);
                    double an = g.touched[latent] || p == be ? analytic[i] : 0;
                    assertEquals(fd, an, 1e-4 * Math.max(1, Math.abs(fd)), "parameter " + i + " of latent " + latent);
                    if (!dead[latent]) {
                        assertEquals(0, an, 0, "live latents get no AuxK gradient");
                    }
                    checked += Math.abs(fd) > 1e-6 ? 1 : 0;
                }
            }
            assertTrue(checked > 20, "the check exercised non-zero gradients: " + checked);
        }
    }

    /** The loss and gradients (main step plus AuxK) of one batch. */
    private record AuxKRun(double loss, float[] wEnc, float[] bEnc, float[] wDec, boolean[] touched) {
    }

    /** One forward and backward pass of {@code model} on {@code x}, then AuxK on the dead latents by the route asked for. */
    private static AuxKRun auxKStep(SaeSpec spec, SaeModel model, float[] x, int rows, boolean[] dead, int kAux, boolean denseRoute) {
        try (SparseStep step = new SparseStep(spec)) {
            step.encodeWithPreActivations(model, x, rows);
            step.decode(model, x);
            SaeGradients g = new SaeGradients(spec, true);
            step.backward(model, x, g, true, true);
            AuxK auxK = new AuxK(spec, kAux, 1.0 / 32);
            auxK.denseMaxElements = denseRoute ? AuxK.DENSE_MAX_ELEMENTS : 0;
            double loss = auxK.addGradients(model, x, rows, AuxK.deadPreActivations(step.preActivations(), rows, spec.latents(), dead), step.residuals(), dead, g);
            return new AuxKRun(loss, g.wEnc.clone(), g.bEnc.clone(), g.wDec.clone(), g.touched.clone());
        }
    }

    /**
     * The dense route (four GEMMs over the rows × dead-latents aux codes) and the sparse route (the atoms row by row)
     * compute the same loss and gradients up to float rounding, at a size where the aux codes are far from sparse.
     */
    @Test
    void auxKDenseAndSparseRoutesAgree() {
        SaeSpec spec = new SaeSpec(32, 800, Sparsifier.TOPK, 8, 0, false);
        SaeModel model = ReferenceSae.randomModel(spec, 8);
        int rows = 256;
        float[] x = ReferenceSae.gaussianRows(rows, 32, 9);
        boolean[] dead = new boolean[800];
        for (int j = 0; j < 800; j += 4) {
            dead[j] = true;
        }
        AuxKRun denseRun = auxKStep(spec, model, x, rows, dead, 64, true);
        AuxKRun sparseRun = auxKStep(spec, model, x, rows, dead, 64, false);
        double loss = denseRun.loss();
        assertTrue(loss > 0, "the AuxK loss is exercised");
        assertEquals(loss, sparseRun.loss(), 1e-5 * loss);
        org.junit.jupiter.api.Assertions.assertArrayEquals(sparseRun.touched(), denseRun.touched(), "the same latents touched");
        float[][] denseArrays = {denseRun.wEnc(), denseRun.bEnc(), denseRun.wDec()};
        float[][] sparseArrays = {sparseRun.wEnc(), sparseRun.bEnc(), sparseRun.wDec()};
        for (int a = 0; a < 3; a++) {
            float[] dense = denseArrays[a];
            float[] sparse = sparseArrays[a];
            double scale = 0;
            for (float v : sparse) {
                scale = Math.max(scale, Math.abs(v));
            }
            assertTrue(scale > 0);
            for (int i = 0; i < dense.length; i++) {
                assertEquals(sparse[i], dense[i], 1e-4 * scale, "array " + a + " entry " + i);
            }
        }
    }

    /**
     * The AuxK pass runs its rows and its latents in parallel ranges (either route); at a size that has several ranges it
     * gives the same loss and the same gradient bits as one sequential pass (each latent's entries are summed in row order either
     * way), and so does the backward pass's use of the dot products the decode formed.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "dense route: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void auxKInParallelRangesGivesTheBitsOfOneSequentialPass(boolean denseRoute) {
        SaeSpec spec = new SaeSpec(24, 600, Sparsifier.TOPK, 6, 0, false);
        SaeModel model = ReferenceSae.randomModel(spec, 5);
        int rows = 300;
        float[] x = ReferenceSae.gaussianRows(rows, 24, 6);
        boolean[] dead = new boolean[600];
        for (int j = 0; j < 600; j += 3) {
            dead[j] = true;
        }
        AuxKRun parallel = auxKStep(spec, model, x, rows, dead, 16, denseRoute);
        AuxKRun[] sequential = new AuxKRun[1];
        io.proxstream.solvers.parallel.Parallel.sequential(() -> sequential[0] = auxKStep(spec, model, x, rows, dead, 16, denseRoute));
        assertTrue(parallel.loss() > 0, "the AuxK loss is exercised");
        assertEquals(sequential[0].loss(), parallel.loss(), 0.0);
        org.junit.jupiter.api.Assertions.assertArrayEquals(sequential[0].wEnc(), parallel.wEnc());
        org.junit.jupiter.api.Assertions.assertArrayEquals(sequential[0].bEnc(), parallel.bEnc());
        org.junit.jupiter.api.Assertions.assertArrayEquals(sequential[0].wDec(), parallel.wDec());
        org.junit.jupiter.api.Assertions.assertArrayEquals(sequential[0].touched(), parallel.touched());
        boolean[] touched = parallel.touched();
        int deadTouched = 0;
        for (int j = 0; j < 600; j += 3) {
            deadTouched += touched[j] ? 1 : 0;
        }
        assertTrue(deadTouched > 50, "AuxK reached many dead latents: " + deadTouched);
    }

    @Test
    void strongRecipeKeepsUnitAtomsStartsAtTheMedianAndMovesDeadLatents() {
        SaeSpec spec = new SaeSpec(8, 32, Sparsifier.TOPK, 3, 0, false);
        SaeModel model = SaeModel.initialise(spec, SaeModel.Init.UNIT, 3);
        AdamTrainer.Recipe recipe = new AdamTrainer.Recipe(true, "median", 4, 1.0 / 32, 64);
        float[] x = ReferenceSae.gaussianRows(64, 8, 4);
        for (int i = 0; i < x.length; i++) {
            x[i] += 5;                            // far from the origin: b_dec must move there
        }
        try (AdamTrainer t = new AdamTrainer(model, Adam.Options.withLr(1e-3), recipe)) {
            assertEquals("adam-strong", t.algorithm());
            float[] median = DecoderBias.geometricMedian(x, 64, 8, 200, 1e-7);
            float[] encBefore = model.encoderWeights().clone();
            t.encoderStage(x, 64);
            for (int s = 0; s < 8; s++) {
                assertEquals(median[s], model.decoderBias()[s], 0.01, "b_dec starts at the geometric median");
            }
            EncodedBatch last = null;
            for (int step = 0; step < 20; step++) {
                last = t.encoderStage(x, 64);
            }
            for (int j = 0; j < 32; j++) {
                double n = io.proxstream.solvers.linalg.Vec.sumSquares(model.decoderWeights(), j * 8, 8);
                assertEquals(1.0, n, 1e-4, "atom " + j);
            }
            // latents silent for 64 samples are dead and AuxK gives them gradient: more encoder rows move than without it
            assertTrue(t.deadLatents() > 0, "some latents are dead on this tiny batch");
            assertTrue(t.lastAuxLoss() > 0);
            assertEquals(t.lastAuxLoss(), last.result().auxLoss(), 0.0, "the step's result carries the AuxK loss to the meters");
            int withAux = moved(encBefore, model.encoderWeights(), 8);
            SaeModel plain = SaeModel.initialise(spec, SaeModel.Init.UNIT, 3);
            try (AdamTrainer p = new AdamTrainer(plain, Adam.Options.withLr(1e-3), new AdamTrainer.Recipe(true, "median", 0, 0, 64))) {
                for (int step = 0; step < 21; step++) {
                    p.encoderStage(x, 64);
                }
            }
            int without = moved(encBefore, plain.encoderWeights(), 8);
            assertTrue(withAux > without, "rows moved with AuxK " + withAux + ", without " + without);
        }
    }

    private static int moved(float[] before, float[] after, int d) {
        int n = 0;
        for (int j = 0; j < before.length / d; j++) {
            boolean m = false;
            for (int s = 0; s < d; s++) {
                m |= before[j * d + s] != after[j * d + s];
            }
            n += m ? 1 : 0;
        }
        return n;
    }

    @Test
    void geometricMedianOfPointsOnALineIsTheirMedianAndOfATriangleTheFermatPoint() {
        float[] line = {0, 0, 1, 0, 2, 0, 10, 0, 11, 0};
        float[] m = DecoderBias.geometricMedian(line, 5, 2, 1000, 1e-12);
        assertEquals(2, m[0], 1e-3);
        assertEquals(0, m[1], 1e-6);
        // equilateral triangle: the Fermat point is the centroid
        float h = (float) Math.sqrt(3) / 2;
        float[] tri = {0, 0, 1, 0, 0.5f, h};
        float[] f = DecoderBias.geometricMedian(tri, 3, 2, 1000, 1e-12);
        assertEquals(0.5, f[0], 1e-4);
        assertEquals(h / 3, f[1], 1e-4);
    }
}
