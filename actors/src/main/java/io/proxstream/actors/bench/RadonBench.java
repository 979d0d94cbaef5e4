package io.proxstream.actors.bench;

import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.inverse.Angles;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.inverse.Reconstructors;
import io.proxstream.solvers.parallel.Parallel;
import io.proxstream.solvers.progress.ProgressListener;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * {@code proxstream bench radon}: the ray transform (forward and adjoint) at 128² and 256² with 180
 * angles, on all cores and on one (same run, same inputs), and PDHG iterations per second for
 * TV-regularised CT at 128².
 */
public final class RadonBench {
    private final boolean quick;
    private final PrintStream out;

    public RadonBench(boolean quick, PrintStream out) {
        this.quick = quick;
        this.out = out;
    }

    public void run() {
        out.println("== proxstream bench radon ==");
        out.printf(Locale.ROOT, "machine: %d cores; kernel threads %d; Java %s; %s%n", Runtime.getRuntime().availableProcessors(),
                Parallel.threads(), System.getProperty("java.version"), BlasInfo.current().describe());
        out.println("ray transform: Joseph's method, parallel beam, detectors covering the diagonal; median of repeated calls");
        out.println();
        out.println("| image | angles | detectors | forward (ms) | adjoint (ms) | forward + adjoint (ms) | same on 1 thread (ms) | speed-up |");
        out.println("|---|---|---|---|---|---|---|---|");
        double fa256 = 0;
        for (int n : new int[] {128, 256}) {
            RayTransform rt = RayTransform.of(n, Angles.full(180));
            float[] x = Phantoms.sheppLogan(n);
            float[] y = rt.apply(x);
            float[] xo = new float[n * n];
            float[] yo = new float[y.length];
            int reps = quick ? 7 : 21;
            double fwd = median(reps, () -> rt.apply(x, yo));
            double adj = median(reps, () -> rt.adjoint(y, xo));
            double[] single = new double[2];
            Parallel.sequential(() -> {
                single[0] = median(reps, () -> rt.apply(x, yo));
                single[1] = median(reps, () -> rt.adjoint(y, xo));
            });
            out.printf(Locale.ROOT, "| %d² | 180 | %d | %.1f | %.1f | %.1f | %.1f | %.2fx |%n", n, rt.detectors(), fwd, adj, fwd + adj,
                    single[0] + single[1], (single[0] + single[1]) / (fwd + adj));
            if (n == 256) {
                fa256 = fwd + adj;
            }
        }
        out.println();
        out.println((fa256 < 50 ? "[met]     " : "[NOT MET] ") + String.format(Locale.ROOT,
                "256², 180 angles, forward + adjoint under 50 ms: %.1f ms", fa256));
        out.println();
        out.println("TV-PDHG for CT at 128² (K = [A; μ∇], one forward and one adjoint transform per iteration), against the bare");
        out.println("transforms measured in the same run; the rest is the proxes, the residuals and the energy:");
        out.println();
        out.println("| angles | iterations/s | ms / iteration | forward + adjoint (ms) | transforms' share |");
        out.println("|---|---|---|---|---|");
        for (String angles : new String[] {"full:180", "sparse:60"}) {
            int n = 128;
            RayTransform rt = RayTransform.of(n, angles.equals("full:180") ? Angles.full(180) : Angles.sparseView(60));
            float[] x = Phantoms.sheppLogan(n);
            float[] y = rt.apply(x);
            float[] xo = new float[n * n];
            float[] yo = new float[y.length];
            int iters = quick ? 30 : 100;
            var o = new Reconstructors.Options("tv-pdhg", 1.0, iters, 0, 0.01, Fbp.Filter.HANN);
            // the first solve warms up the JIT and caches the operator norms (once per operator in a stream)
            Reconstructors.reconstruct(o, rt, y, new Fbp(rt, Fbp.Filter.HANN), ProgressListener.NONE);
            long t0 = System.nanoTime();
            var r = Reconstructors.reconstruct(o, rt, y, new Fbp(rt, Fbp.Filter.HANN), ProgressListener.NONE);
            double s = (System.nanoTime() - t0) / 1e9;
            double fa = median(quick ? 7 : 21, () -> {
                rt.apply(x, yo);
                rt.adjoint(y, xo);
            });
            double perIt = 1e3 * s / r.iterations();
            out.printf(Locale.ROOT, "| %s | %.1f | %.2f | %.2f | %.0f%% |%n", angles, r.iterations() / s, perIt, fa, 100 * fa / perIt);
        }
    }

    private double median(int reps, Runnable r) {
        // warm-up: the JIT compiles the kernels after some calls
        long end = System.nanoTime() + (long) ((quick ? 0.5 : 1.5) * 1e9);
        while (System.nanoTime() < end) {
            r.run();
        }
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(t);
        return t[reps / 2];
    }
}
