package io.proxstream.solvers.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.inverse.Angles;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Functional;
import io.proxstream.solvers.inverse.Functionals;
import io.proxstream.solvers.inverse.GradientDescent;
import io.proxstream.solvers.inverse.ImageMetrics;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.inverse.StoppingRule;
import io.proxstream.solvers.progress.ProgressListener;
import io.proxstream.solvers.sae.SaeModel;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The learned-regulariser pipeline end to end at a quick scale: an ICNN critic (ACR) trained
 * adversarially on (ground truth, FBP) pairs of 64² ellipse phantoms with 30-angle sparse-view CT,
 * then gradient descent on ½‖Ax − y‖² + λR(x) from the FBP, λ a multiple of the heuristic chosen on
 * validation phantoms; on held-out test phantoms it must beat FBP.
 */
class AdversarialRegulariserIT {

    private static float[] reconstruct(RayTransform rt, Icnn net, double lambda, float[] y, float[] start) {
        Functional e = Functionals.sum(Functionals.composed(Functionals.squaredDistance(y, 1), rt), new LearnedRegulariser(net, lambda, 1));
        return GradientDescent.solve(e, start.clone(), GradientDescent.Options.armijo(150), StoppingRule.NEVER, ProgressListener.NONE).x();
    }

    @Test
    void anAdversariallyTrainedConvexRegulariserBeatsFbpOnHeldOutPhantoms() {
        int n = 64;
        RayTransform rt = RayTransform.of(n, Angles.sparseView(30));
        Fbp fbp = new Fbp(rt, Fbp.Filter.fromId("hann"));
        SplittableRandom r = new SplittableRandom(1);
        List<float[]> truths = new ArrayList<>();
        List<float[]> sinos = new ArrayList<>();
        List<float[]> fbps = new ArrayList<>();
        for (int i = 0; i < 72; i++) {
            float[] x = Phantoms.randomEllipses(n, 100 + i);
            float[] y = rt.apply(x);
            double max = 0;
            for (float v : y) {
                max = Math.max(max, Math.abs(v));
            }
            for (int j = 0; j < y.length; j++) {
                y[j] += (float) (0.02 * max * SaeModel.gaussian(r));
            }
            truths.add(x);
            sinos.add(y);
            fbps.add(fbp.reconstruct(y));
        }
        // 64 training pairs, 4 validation, 4 test
        Icnn net = new Icnn(new Shape(1, n, n), 3, 8, 3, 0.2, 7);
        Optimizer opt = Optimizer.adam(1e-3, 0.5, 0.99);
        double firstW = Double.NaN;
        double lastW = Double.NaN;
        for (int step = 0; step < 600; step++) {
            List<float[]> bt = new ArrayList<>();
            List<float[]> bf = new ArrayList<>();
            for (int b = 0; b < 4; b++) {
                int k = r.nextInt(64);
                bt.add(truths.get(k));
                bf.add(fbps.get(k));
            }
            CriticStep.Result res = CriticStep.accumulate(net, bt, bf, 5, CriticStep.Penalty.TWO_SIDED, 1e-3, r);
            opt.step(net.params());
            net.project();
            if (step == 0) {
                firstW = res.wasserstein();
            }
            lastW = res.wasserstein();
        }
        assertTrue(lastW > firstW + 0.3, "the critic learned to tell truths from FBPs: Wasserstein estimate " + firstW + " -> " + lastW);
        double heuristic = LearnedRegulariser.lambdaHeuristic(rt, truths.subList(64, 68), sinos.subList(64, 68));
        double best = 1;
        double bestPsnr = Double.NEGATIVE_INFINITY;
        for (double factor : new double[] {1, 3}) {
            double psnr = 0;
            for (int i = 64; i < 68; i++) {
                psnr += ImageMetrics.psnr(truths.get(i), reconstruct(rt, net, factor * heuristic, sinos.get(i), fbps.get(i)));
            }
            if (psnr > bestPsnr) {
                bestPsnr = psnr;
                best = factor;
            }
        }
        double fbpPsnr = 0;
        double acrPsnr = 0;
        for (int i = 68; i < 72; i++) {
            fbpPsnr += ImageMetrics.psnr(truths.get(i), fbps.get(i)) / 4;
            acrPsnr += ImageMetrics.psnr(truths.get(i), reconstruct(rt, net, best * heuristic, sinos.get(i), fbps.get(i))) / 4;
        }
        System.out.printf(java.util.Locale.ROOT, "[AdversarialRegulariserIT] lambda %.3g (%.0f x heuristic): FBP %.2f dB, ACR-GD %.2f dB%n",
                best * heuristic, best, fbpPsnr, acrPsnr);
        assertTrue(acrPsnr > fbpPsnr + 0.5, "ACR-GD " + acrPsnr + " dB vs FBP " + fbpPsnr + " dB on the test phantoms");
    }
}
