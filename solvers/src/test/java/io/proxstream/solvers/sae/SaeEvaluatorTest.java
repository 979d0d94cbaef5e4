package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.data.Dataset;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class SaeEvaluatorTest {

    @Test
    void sumsOfDisjointPartsCombineIntoTheMetricsOfTheirUnion() {
        int d = 12;
        int n = 300;
        SaeSpec spec = new SaeSpec(d, 40, Sparsifier.TOPK, 3, 0.01, false);
        SaeModel model = ReferenceSae.randomModel(spec, 5);
        float[] x = ReferenceSae.gaussianRows(n, d, 6);
        for (int i = 0; i < x.length; i++) {
            x[i] += (i / d) < 150 ? 4f : -4f; // parts with different means: the FVU centres on the union's mean, not on each part's
        }
        SaeEvaluator.Result whole = SaeEvaluator.evaluate(model, new Dataset(x, n, d), 64);
        int[] cuts = {0, 17, 150, n};
        List<SaeEvaluator.Sums> parts = new java.util.ArrayList<>();
        for (int p = 0; p + 1 < cuts.length; p++) {
            float[] part = Arrays.copyOfRange(x, cuts[p] * d, cuts[p + 1] * d);
            parts.add(SaeEvaluator.sums(model, new Dataset(part, cuts[p + 1] - cuts[p], d), 32));
        }
        SaeEvaluator.Result combined = SaeEvaluator.combine(spec, parts);
        assertEquals(whole.mse(), combined.mse(), 1e-9 * whole.mse());
        assertEquals(whole.fvu(), combined.fvu(), 1e-9 * whole.fvu());
        assertEquals(whole.l0(), combined.l0(), 1e-12);
        assertEquals(whole.loss(), combined.loss(), 1e-9 * whole.loss());
        assertEquals(whole.dead(), combined.dead());
        // each part's own FVU is centred on its own mean: averaging them is not the union's FVU
        double meanOfParts = 0;
        for (SaeEvaluator.Sums s : parts) {
            meanOfParts += SaeEvaluator.combine(spec, List.of(s)).fvu() / parts.size();
        }
        assertTrue(Math.abs(meanOfParts - whole.fvu()) > 1e-6, "the test's parts differ in mean");
    }
}
