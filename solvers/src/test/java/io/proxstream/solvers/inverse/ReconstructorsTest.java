package io.proxstream.solvers.inverse;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.progress.ProgressListener;
import io.proxstream.solvers.sae.SaeModel;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ReconstructorsTest {

    private static float[] noisy(float[] clean, double level, long seed) {
        double max = 0;
        for (float v : clean) {
            max = Math.max(max, Math.abs(v));
        }
        SplittableRandom r = new SplittableRandom(seed);
        float[] y = clean.clone();
        for (int i = 0; i < y.length; i++) {
            y[i] += (float) (level * max * SaeModel.gaussian(r));
        }
        return y;
    }

    @Test
    void tvMethodsBeatFbpOnSparseViewCt() {
        int n = 64;
        float[] truth = Phantoms.sheppLogan(n);
        RayTransform rt = RayTransform.of(n, Angles.sparseView(30));
        float[] y = noisy(rt.apply(truth), 0.01, 1);
        Fbp fbp = new Fbp(rt, Fbp.Filter.HANN);
        double pFbp = ImageMetrics.psnr(truth, fbp.reconstruct(y));
        for (String m : new String[] {"tv-pdhg", "tv-pd", "huber-gd-momentum"}) {
            var o = new Reconstructors.Options(m, 2.0, 300, 0, 0.01, Fbp.Filter.HANN);
            double p = ImageMetrics.psnr(truth, Reconstructors.reconstruct(o, rt, y, fbp, ProgressListener.NONE).x());
            assertTrue(p > pFbp + 3, m + ": " + p + " dB vs FBP " + pFbp + " dB");
        }
        OperatorTestSupport.assertAdjoint(Operators.stack(rt, new Gradient(n, n)), 1e-4, 9);
    }

    @Test
    void tvDeblurringImprovesOnTheBlurredImage() {
        int n = 64;
        float[] truth = Phantoms.randomEllipses(n, 3);
        Blur b = Blur.gaussian(n, n, 1.5);
        float[] y = noisy(b.apply(truth), 0.02, 2);
        double pBlur = ImageMetrics.psnr(truth, y);
        var o = new Reconstructors.Options("tv-pdhg", 0.02, 400, 0, 0.01, Fbp.Filter.RAM_LAK);
        double p = ImageMetrics.psnr(truth, Reconstructors.reconstruct(o, b, y, null, ProgressListener.NONE).x());
        assertTrue(p > pBlur + 2, "deblurred " + p + " dB vs blurred " + pBlur + " dB");
        assertThrows(IllegalArgumentException.class, () -> Reconstructors.reconstruct(
                new Reconstructors.Options("fbp", 0, 1, 0, 0.01, Fbp.Filter.RAM_LAK), b, y, null, ProgressListener.NONE));
        assertThrows(IllegalArgumentException.class, () -> new Reconstructors.Options("art", 0, 1, 0, 0.01, Fbp.Filter.RAM_LAK));
    }

    @Test
    void balancedTvPdhgReachesTheMinimumThatAnotherSolverFindsForTheSameModel() {
        // the block scaling K = [A; mu grad] with weight lambda/mu must not change the problem: 300 balanced PDHG
        // iterations reach the energy of a long run of the primal-dual method with the data term as its smooth part
        int n = 32;
        float[] truth = Phantoms.randomEllipses(n, 5);
        RayTransform rt = RayTransform.of(n, Angles.sparseView(24));
        float[] y = noisy(rt.apply(truth), 0.01, 3);
        Fbp fbp = new Fbp(rt, Fbp.Filter.HANN);
        double lambda = 2;
        SolverResult pdhg = Reconstructors.reconstruct(new Reconstructors.Options("tv-pdhg", lambda, 300, 0, 0.01, Fbp.Filter.HANN), rt,
                y, fbp, ProgressListener.NONE);
        SolverResult reference = Reconstructors.reconstruct(new Reconstructors.Options("tv-pd", lambda, 6000, 0, 0.01, Fbp.Filter.HANN),
                rt, y, fbp, ProgressListener.NONE);
        Gradient g = new Gradient(n, n);
        java.util.function.ToDoubleFunction<float[]> energy = x -> Functionals.squaredDistance(y, 1).value(rt.apply(x))
                + Functionals.l21(lambda, 2).value(g.apply(x));
        double e = energy.applyAsDouble(pdhg.x());
        double eRef = energy.applyAsDouble(reference.x());
        System.out.printf("[ReconstructorsTest] balanced tv-pdhg (300 its) %.6f, tv-pd (6000 its) %.6f%n", e, eRef);
        assertTrue(Math.abs(e - eRef) < 1e-3 * eRef, "balanced PDHG energy " + e + " vs reference " + eRef);
    }

    @Test
    void fbpUsesTheFilterOfTheOptions() {
        int n = 32;
        RayTransform rt = RayTransform.of(n, Angles.full(40));
        float[] y = rt.apply(Phantoms.sheppLogan(n));
        Fbp hann = new Fbp(rt, Fbp.Filter.HANN);
        float[] x = Reconstructors.reconstruct(new Reconstructors.Options("fbp", 0, 1, 0, 0.01, Fbp.Filter.RAM_LAK), rt, y, hann,
                ProgressListener.NONE).x();
        org.junit.jupiter.api.Assertions.assertArrayEquals(new Fbp(rt, Fbp.Filter.RAM_LAK).reconstruct(y), x, 0f);
    }
}
