package io.proxstream.solvers.blas;

import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.data.PlantedDictionary;
import io.proxstream.solvers.sae.FeatureRecovery;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeEvaluator;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.Sparsifier;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Child-JVM probe of {@link BlasKernelsIT}: under whatever {@code OPENBLAS_CORETYPE} the parent set,
 * prints the kernel OpenBLAS runs, the numerics self-check and one short PAM-SGD run on the
 * planted-dictionary stream whose decoder solves are of order 1024 (past the order 658 at which
 * OpenBLAS 0.3.19's SkylakeX kernel broke Cholesky down), as {@code key=value} lines.
 */
public final class KernelProbe {
    private KernelProbe() {
    }

    public static void main(String[] args) {
        NumericsCheck.Report check = NumericsCheck.run(7);
        System.out.println("core=" + check.blas().coreName());
        System.out.println("check=" + (check.passed() ? "passed" : "FAILED"));
        check.failures().forEach(f -> System.out.println("failure=" + f.routine() + " " + f.shape() + " error " + f.error()));
        int d = 64;
        int batch = 256;
        PlantedDictionary gen = new PlantedDictionary(new PlantedDictionary.Options(d, 128, 5, 0.99, 0, 1));
        Dataset test = gen.sample(2000, 99);
        SaeModel model = SaeModel.initialise(new SaeSpec(d, 1024, Sparsifier.TOPK, 8, 0, false), SaeModel.Init.UNIT, 7);
        double fvu0 = SaeEvaluator.evaluate(model, test, 500).fvu();
        int solves = 0;
        try (PamSgdTrainer tr = new PamSgdTrainer(model, PamSgdTrainer.Options.experimentDefaults())) {
            float[] x = new float[batch * d];
            SplittableRandom rnd = new SplittableRandom(5);
            int every = tr.options().solveEvery();
            for (int s = 0; s < 6 * every; s++) {
                gen.fill(x, batch, rnd);
                tr.step(x, batch);
            }
            solves = (int) (tr.samplesSeen() / batch / every);
        } catch (RuntimeException e) {
            System.out.println("pam=error " + e);
            System.exit(1);
        }
        SaeEvaluator.Result r = SaeEvaluator.evaluate(model, test, 500);
        System.out.println(String.format(Locale.ROOT, "solves=%d%nfvu0=%.6f%nfvu=%.6f%nmmcs=%.6f", solves, fvu0, r.fvu(),
                FeatureRecovery.mmcs(gen.dictionary(), 128, model)));
        System.exit(0);
    }
}
