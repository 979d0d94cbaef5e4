package io.proxstream.solvers.inverse;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The solver example of the README, verbatim between the markers, so that it keeps compiling and working. */
class ReadmeExampleTest {

    @Test
    void theReadmeExampleReconstructsTheSheppLoganPhantom() {
        List<Double> residuals = new ArrayList<>();
        // README-BEGIN
        int n = 128;
        float[] truth = Phantoms.sheppLogan(n);
        RayTransform a = RayTransform.of(n, Angles.sparseView(60));        // 60 angles over 180°
        float[] y = a.apply(truth);                                         // (add noise here)
        Gradient grad = new Gradient(n, n);

        // min ½‖Ax − y‖² + λ‖∇x‖₂,₁ subject to x ≥ 0 by PDHG, K = [A; μ∇] with the weight λ/μ on μ∇x:
        // the same problem, with blocks of equal norm so that both duals move at the same pace
        double lambda = 1;
        double mu = a.normEstimate(40, 1) / grad.normEstimate(40, 1);
        LinearOperator k = Operators.stack(a, grad.scaled(mu));
        Functional g = Functionals.separable(Functionals.squaredDistance(y, 1), a.rangeSize(),
                Functionals.l21(lambda / mu, 2), grad.rangeSize());
        float[] x0 = new Fbp(a, Fbp.Filter.HANN).reconstruct(y);
        SolverResult r = Pdhg.solve(Functionals.nonNegativity(), g, k, x0, Pdhg.Options.iterations(300),
                StoppingRule.below("relativeChange", 1e-6),
                p -> residuals.add(p.scalars().get("criticalResidual")));     // energy, residuals per iteration
        double psnr = ImageMetrics.psnr(truth, r.x());
        double ssim = ImageMetrics.ssim(truth, r.x(), n, n);
        // README-END
        System.out.printf("[ReadmeExampleTest] PSNR %.2f dB, SSIM %.4f after %d iterations%n", psnr, ssim, r.iterations());
        assertTrue(psnr > 30 && ssim > 0.9, psnr + " dB, SSIM " + ssim);
        assertTrue(residuals.get(residuals.size() - 1) < 0.05 * residuals.get(0), residuals.toString());
    }
}
