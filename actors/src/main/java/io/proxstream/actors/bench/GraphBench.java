package io.proxstream.actors.bench;

import io.proxstream.actors.segment.Composites;
import io.proxstream.actors.segment.Segmentation;
import io.proxstream.actors.train.DataPaths;
import io.proxstream.protocol.format.Png;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.graph.GraphMbo;
import io.proxstream.solvers.graph.JointSegmentation;
import io.proxstream.solvers.graph.Labels;
import io.proxstream.solvers.graph.Nystrom;
import io.proxstream.solvers.graph.PatchFeatures;
import io.proxstream.solvers.parallel.Parallel;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * {@code proxstream bench graph}: a 256 × 256 colour image (65 536 nodes), m = 300, K = 50: patch
 * features, the Nyström kernel block, the eigenpairs by QR and by the one-shot orthogonalisation
 * (same run, same samples), 30 MBO iterations, and one whole joint run.
 */
public final class GraphBench {
    private final boolean quick;
    private final PrintStream out;

    public GraphBench(boolean quick, PrintStream out) {
        this.quick = quick;
        this.out = out;
    }

    public void run() throws IOException {
        int size = quick ? 128 : 256;
        int reps = quick ? 3 : 7;
        out.println("== proxstream bench graph ==");
        out.printf(Locale.ROOT, "machine: %d cores; kernel threads %d; Java %s; %s; Java float kernels: %s%n",
                Runtime.getRuntime().availableProcessors(), Parallel.threads(), System.getProperty("java.version"),
                BlasInfo.current().describe(), io.proxstream.solvers.linalg.Vec.describeKernels());
        Png.Image img = Png.readRgb(Composites.require(DataPaths.dataDir().resolve("skimage"), "astronaut.png"));
        Png.Image scaled = img.subsample(img.h() / size);
        if (scaled.h() != size || scaled.w() != size) {
            throw new IllegalStateException("astronaut.png is " + img.h() + "x" + img.w() + ", not a square multiple of " + size);
        }
        int n = size * size;
        float[] planes = scaled.data();
        int p = 3;
        int f = PatchFeatures.width(3, p);
        out.printf(Locale.ROOT, "setting: astronaut.png at %dx%d RGB (%d nodes), 7x7 colour patches (%d features), m = 300, K = 50; "
                + "medians of %d runs after one warm-up%n%n", size, size, n, f, reps);
        double[] feat = new double[reps];
        double[] graph = new double[reps];
        double[] qr = new double[reps];
        double[] shot = new double[reps];
        double[] mbo = new double[reps];
        int[] fid = Labels.fromRects(Labels.parseRects(quick ? "0:0,0,10,10;1:50,30,60,40" : "0:0,0,20,20;1:100,60,120,80"), size, size);
        GraphMbo.Options mo = new GraphMbo.Options(0.3, 5, 300, 0, false, 1, 30, -1);
        float[] z = null;
        for (int r = -1; r < reps; r++) {
            long t0 = System.nanoTime();
            z = PatchFeatures.of(planes, 3, size, size, p, 2.0);
            long t1 = System.nanoTime();
            Nystrom.Eigen e = Nystrom.eigen(z, n, f, new Nystrom.Options(300, 50, Double.NaN, 1 + r, Nystrom.Method.QR, 1e-7));
            Nystrom.Eigen e2 = Nystrom.eigen(z, n, f, new Nystrom.Options(300, 50, Double.NaN, 1 + r, Nystrom.Method.ONE_SHOT, 1e-7));
            GraphMbo.Result res = GraphMbo.run(e, 2, fid, null, null, mo);
            if (res.iterations() != 30) {
                throw new IllegalStateException("MBO ran " + res.iterations() + " iterations, expected 30");
            }
            if (r >= 0) {
                feat[r] = (t1 - t0) / 1e9;
                graph[r] = e.graphSeconds();
                qr[r] = e.eigenSeconds();
                shot[r] = e2.eigenSeconds();
                mbo[r] = res.seconds();
            }
        }
        double total = median(feat) + median(graph) + median(qr);
        out.println("| stage | median (s) | min (s) |");
        out.println("|---|---|---|");
        row("patch features", feat);
        row("Nyström kernel block C (n x m) and sigma", graph);
        row("eigenpairs by QR (degrees, sgeqrf, small eigenproblem, Q Phi)", qr);
        row("eigenpairs by one-shot orthogonalisation (comparison)", shot);
        row("30 MBO iterations (2 classes)", mbo);
        out.printf(Locale.ROOT, "| features + graph + Nyström-QR eigenpairs | %.3f | |%n", total);
        long j0 = System.nanoTime();
        Segmentation.Distortion d = Segmentation.Distortion.parse("noise:0.2");
        float[] observed = d.apply(planes, 3, size, size, 1);
        JointSegmentation.Outcome jo = JointSegmentation.joint(observed, 3, size, size, null, fid, 2, new JointSegmentation.Options(0.08, 0.5,
                0.5, 3, 1e-3, 200, p, 2.0, 0, 0, new Nystrom.Options(300, 50, Double.NaN, 1, Nystrom.Method.QR, 1e-7),
                GraphMbo.Options.defaults(), JointSegmentation.Segmenter.MBO));
        double joint = (System.nanoTime() - j0) / 1e9;
        out.printf(Locale.ROOT, "| whole joint run (noise 0.2, sequential start + %d rounds, 200 PDHG iterations per channel and "
                + "reconstruction) | %.2f | |%n", jo.changes().size(), joint);
        var tm = jo.timings();
        out.printf(Locale.ROOT, "%njoint run split: reconstruction %.2f s, graph %.2f s, eigenpairs %.2f s, MBO %.2f s%n%n", tm.reconstruction(),
                tm.graph(), tm.eigen(), tm.mbo());
        out.println((total < 1.5 ? "[met]     " : "[NOT MET] ") + String.format(Locale.ROOT,
                "features + graph + Nyström-QR eigenpairs under 1.5 s: %.3f s", total));
        out.println((median(mbo) < 0.3 ? "[met]     " : "[NOT MET] ") + String.format(Locale.ROOT, "30 MBO iterations under 0.3 s: %.3f s",
                median(mbo)));
    }

    private void row(String what, double[] v) {
        out.printf(Locale.ROOT, "| %s | %.3f | %.3f |%n", what, median(v), Arrays.stream(v).min().orElse(Double.NaN));
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
    }
}
