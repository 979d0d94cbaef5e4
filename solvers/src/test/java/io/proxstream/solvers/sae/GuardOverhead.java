package io.proxstream.solvers.sae;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Measures the finiteness checks of the guarded PAM-SGD step against the step itself, same step, same
 * data: {@code java -cp <solvers test classpath> io.proxstream.solvers.sae.GuardOverhead D M K B}
 * (e.g. {@code 384 3072 32 256}). Not a test: a measurement, printed five times.
 */
public final class GuardOverhead {
    private GuardOverhead() {
    }

    public static void main(String[] a) {
        int d = Integer.parseInt(a[0]);
        int m = Integer.parseInt(a[1]);
        int k = Integer.parseInt(a[2]);
        int rows = Integer.parseInt(a[3]);
        SaeModel model = SaeModel.initialise(new SaeSpec(d, m, Sparsifier.TOPK, k, 0, false), SaeModel.Init.UNIT, 1);
        PamSgdTrainer.Options o = PamSgdTrainer.Options.experimentDefaults();
        PamSgdTrainer t = new PamSgdTrainer(model, new PamSgdTrainer.Options(o.adam(), 1, 0, 0, 0, 1e-6, 0, o.order(),
                Integer.MAX_VALUE, 1.0, true));
        float[][] xs = new float[8][rows * d];
        SplittableRandom r = new SplittableRandom(1);
        for (float[] x : xs) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) SaeModel.gaussian(r);
            }
        }
        long sink = 0;
        for (int rep = 0; rep < 5; rep++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < 100; i++) {
                t.encoderStage(xs[i % 8], rows);
            }
            double step = (System.nanoTime() - t0) / 100.0;
            // what the guard reads in one step: forward codes, code gradients, the batch, column counts
            SparseStep s = t.sparseForTest();
            long t1 = System.nanoTime();
            for (int i = 0; i < 100; i++) {
                sink += io.proxstream.solvers.linalg.Vec.maxAbsBits(s.codes().val, 0, s.codes().entries());
                sink += io.proxstream.solvers.linalg.Vec.maxAbsBits(s.codeGradients(), 0, s.codes().entries());
                sink += io.proxstream.solvers.linalg.Vec.maxAbsBits(xs[i % 8], 0, rows * d);
                sink += s.maxEntriesPerLatent();
            }
            double checks = (System.nanoTime() - t1) / 100.0;
            System.out.printf(Locale.ROOT, "d=%d m=%d k=%d B=%d: encoder step %.2f ms; its checks %.4f ms = %.2f %%%n", d, m, k, rows,
                    step / 1e6, checks / 1e6, 100 * checks / step);
        }
        System.out.println(sink == 42 ? "" : "(done)");
        t.close();
        adam(model.spec(), xs, rows);
    }

    /** The same for the guarded Adam step (strong recipe): the step, and its scan of the touched gradient rows. */
    private static void adam(SaeSpec spec, float[][] xs, int rows) {
        SaeModel model = SaeModel.initialise(spec, SaeModel.Init.UNIT, 1);
        AdamTrainer t = new AdamTrainer(model, Adam.Options.withLr(1e-4), AdamTrainer.Recipe.strong(spec, 1L << 40));
        int d = spec.inputDim();
        long sink = 0;
        for (int rep = 0; rep < 5; rep++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < 20; i++) {
                t.encoderStage(xs[i % 8], rows);
            }
            double step = (System.nanoTime() - t0) / 20.0;
            long t1 = System.nanoTime();
            for (int i = 0; i < 20; i++) {
                sink += t.gradientsWithinBound(xs[i % 8], rows) ? 1 : 0;
            }
            double checks = (System.nanoTime() - t1) / 20.0;
            System.out.printf(Locale.ROOT, "adam-strong d=%d m=%d k=%d B=%d: step %.2f ms; its checks %.4f ms = %.2f %%%n", d,
                    spec.latents(), spec.k(), rows, step / 1e6, checks / 1e6, 100 * checks / step);
        }
        System.out.println(sink == 42 ? "" : "(done)");
        t.close();
    }
}
