package io.proxstream.actors.experiments;

import io.proxstream.actors.image.ImageTask;
import io.proxstream.actors.learned.RegulariserFile;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Functionals;
import io.proxstream.solvers.inverse.ImageMetrics;
import io.proxstream.solvers.inverse.PrimalDual;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.inverse.SolverResult;
import io.proxstream.solvers.inverse.StoppingRule;
import io.proxstream.solvers.nn.LearnedRegulariser;
import java.nio.file.Path;

/**
 * Diagnostic (not a test): the weakly convex primal-dual method on the first sparse-view validation phantom of
 * {@code experiment ct} with a trained AWCR critic, for each λ at three dual steps σ (1/‖A‖, balanced
 * max(1/‖A‖, L/(2‖A‖²)), and ten times that): PSNR, SSIM, and energy, critical-point residual and L at iterations 25 … 400.
 * <pre>
 *   java -cp actors/target/test-classes:&lt;actors classpath&gt; io.proxstream.actors.experiments.PdStepProbe \
 *       runs/experiment-ct/ct-sparse/awcr.safetensors 220.3,2203 200
 * </pre>
 */
public class PdStepProbe {
    public static void main(String[] args) throws Exception {
        ImagingSetting s = TvBaselines.ctSettings(128, 2, 6, 0.01, 1).get(0);
        RegulariserFile.Loaded l = RegulariserFile.load(Path.of(args[0]));
        RayTransform a = (RayTransform) s.model().operator(128, 128);
        Fbp fbp = s.model().fbp(a);
        ImageTask t = s.validation().get(0);
        float[] y = s.model().measure(a, t);
        float[] x0 = fbp.reconstruct(y);
        double kn = a.normEstimate(40, 13) * 1.02;
        double lipUnit = 2 * LearnedRegulariser.estimateLipschitz(l.critic().net(), 1, x0, 8, 1e-2, 1);
        System.out.printf(java.util.Locale.ROOT, "FBP PSNR %.2f, |A| %.1f, lipUnit %.4g%n", ImageMetrics.psnr(t.truth(), x0), kn, lipUnit);
        int iters = Integer.parseInt(args[2]);
        for (String lam : args[1].split(",")) {
            double lambda = Double.parseDouble(lam);
            double lip = lambda * lipUnit;
            for (double sigma : new double[] {1 / kn, Math.max(1 / kn, lip / (2 * kn * kn)), 10 * Math.max(1 / kn, lip / (2 * kn * kn))}) {
                long t0 = System.nanoTime();
                StringBuilder sb = new StringBuilder();
                int[] at = {25, 50, 100, 200, 400};
                SolverResult r = PrimalDual.solve(new LearnedRegulariser(l.critic().copy().net(), lambda, lip), Functionals.nonNegativity(),
                        Functionals.squaredDistance(y, 1), a, x0, new PrimalDual.Options(Double.NaN, sigma, iters, true), StoppingRule.NEVER,
                        p -> {
                            for (int k : at) {
                                if (p.iteration() == k) {
                                    sb.append(String.format(java.util.Locale.ROOT, " k%d E %.4g crit %.3g L %.3g", k, p.objective(), p.scalars().get("criticalResidual"),
                                            p.scalars().get("lipschitz")));
                                }
                            }
                        });
                System.out.printf(java.util.Locale.ROOT, "lambda %s sigma %.4g: PSNR %.2f SSIM %.4f  %.0f s |%s%n", lam, sigma, ImageMetrics.psnr(t.truth(), r.x()),
                        ImageMetrics.ssim(t.truth(), r.x(), 128, 128), (System.nanoTime() - t0) / 1e9, sb);
            }
        }
    }
}
