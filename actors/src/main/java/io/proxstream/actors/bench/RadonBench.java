package io.proxstream.actors.bench;

import io.proxstream.actors.experiments.CtExperiment;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.inverse.Angles;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.inverse.Reconstructors;
import io.proxstream.solvers.nn.Critic;
import io.proxstream.solvers.nn.CriticTrainer;
import io.proxstream.solvers.nn.Optimizer;
import io.proxstream.solvers.parallel.Parallel;
import io.proxstream.solvers.progress.ProgressListener;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code proxstream bench radon}: the ray transform (forward and adjoint) at 128² and 256² with 180
 * angles, on all cores and on one (same run, same inputs), PDHG iterations per second for
 * TV-regularised CT at 128², and what a learned regulariser's gradient and training step cost beside the transforms.
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
        out.printf(Locale.ROOT, "machine: %d cores; kernel threads %d; Java %s; %s; Java float kernels: %s%n",
                Runtime.getRuntime().availableProcessors(), Parallel.threads(), System.getProperty("java.version"),
                BlasInfo.current().describe(), io.proxstream.solvers.linalg.Vec.describeKernels());
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
        critics();
    }

    /**
     * What a learned regulariser costs per solver iteration and per training step: one gradient of R (forward and backward
     * through the critic, one thread and one BLAS thread, as the experiment runs a solve) for the CPU-sized critics and the
     * public code's IWCNN widths, beside the sparse-view transforms on one thread measured in the same run, and one training
     * step (4 pairs, data-parallel on the cores, gradient penalty included).
     */
    private void critics() {
        int n = 128;
        out.println();
        out.println("Learned regularisers at 128²: one gradient of R (forward + backward, 1 thread, 1 BLAS thread, as in a solve) against");
        out.println("the sparse-view transforms (60 angles, forward + adjoint, 1 thread) measured in the same run, and one training step");
        out.println("(4 pairs, gradient penalty included, one replica per core):");
        out.println();
        out.println("| critic | parameters | gradient (ms) | transforms (ms) | gradient / transforms | training step (s) |");
        out.println("|---|---|---|---|---|---|");
        int before = BlasInfo.setThreads(1);
        try {
            RayTransform rt = RayTransform.of(n, Angles.sparseView(60));
            float[] x = Phantoms.sheppLogan(n);
            float[] y = rt.apply(x);
            float[] xo = new float[n * n];
            float[] yo = new float[y.length];
            double[] fa = new double[1];
            Parallel.sequential(() -> fa[0] = median(quick ? 7 : 21, () -> {
                rt.apply(x, yo);
                rt.adjoint(y, xo);
            }));
            Map<String, Critic> critics = new LinkedHashMap<>();
            Critic.Architecture cpu = Critic.Architecture.defaults();
            critics.put("ar (CPU widths)", new Critic(Critic.Kind.AR, cpu, n, null, 1, 1));
            critics.put("acr (CPU widths)", new Critic(Critic.Kind.ACR, cpu, n, null, 1, 1));
            critics.put("awcr (CPU widths)", new Critic(Critic.Kind.AWCR, cpu, n, null, 1, 1));
            for (String setting : new String[] {"ct-sparse", "ct-limited"}) {
                critics.put("awcr, public widths for " + setting, new Critic(Critic.Kind.AWCR,
                        CtExperiment.Config.publicIwcnn(setting), n, null, 1, 1));
            }
            float[] one = {1f};
            List<float[]> truths = new ArrayList<>();
            List<float[]> fbps = new ArrayList<>();
            Fbp fbp = new Fbp(rt, Fbp.Filter.HANN);
            for (int i = 0; i < 4; i++) {
                float[] t = Phantoms.randomEllipses(n, 100 + i);
                truths.add(t);
                fbps.add(fbp.reconstruct(rt.apply(t)));
            }
            for (var e : critics.entrySet()) {
                Critic c = e.getValue();
                long params = c.params().stream().mapToLong(p -> p.value().length).sum();
                double[] g = new double[1];
                Parallel.sequential(() -> g[0] = median(quick ? 5 : 11, () -> {
                    c.net().forward(x);
                    c.net().backward(one);
                }));
                double step;
                try (CriticTrainer trainer = new CriticTrainer(c,
                        Optimizer.adam(2e-3, 0.5, 0.99), c.kind().defaultMu(), 1e-2,
                        Runtime.getRuntime().availableProcessors(), 1)) {
                    for (int i = 0; i < (quick ? 1 : 2); i++) {
                        trainer.step(truths, fbps, null);
                    }
                    double[] t = new double[quick ? 3 : 5];
                    for (int i = 0; i < t.length; i++) {
                        long t0 = System.nanoTime();
                        trainer.step(truths, fbps, null);
                        t[i] = (System.nanoTime() - t0) / 1e9;
                    }
                    Arrays.sort(t);
                    step = t[t.length / 2];
                }
                out.printf(Locale.ROOT, "| %s | %,d | %.1f | %.1f | %.2f | %.2f |%n", e.getKey(), params, g[0], fa[0], g[0] / fa[0], step);
            }
        } finally {
            if (before > 0) {
                BlasInfo.setThreads(before);
            }
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
