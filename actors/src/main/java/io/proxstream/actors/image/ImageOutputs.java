package io.proxstream.actors.image;

import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.monitoring.report.Plot;
import io.proxstream.protocol.format.Npy;
import io.proxstream.protocol.format.Png;
import io.proxstream.solvers.progress.Progress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Writes what the image stream produces: per-image PNG/.npy files, a CSV row each, convergence plots. */
public final class ImageOutputs implements AutoCloseable {
    static final List<String> HEADER = List.of("id", "problem", "method", "psnr", "ssim", "iterations", "stopped_early", "seconds");

    private final Path dir;
    private final String problem;
    private final CsvTable csv;
    private final List<ImagePipeline.Result> results = new ArrayList<>();

    public ImageOutputs(Path dir, String problem, String csvName) throws IOException {
        this.dir = dir;
        this.problem = problem;
        this.csv = new CsvTable(dir.resolve(csvName), HEADER);
    }

    /**
     * Writes one result's CSV row and, if {@code images}, its PNG/.npy files and (if it has a trace)
     * its convergence plot. Results are kept without pixels for the summary.
     */
    public synchronized void write(ImagePipeline.Result r, boolean images) throws IOException {
        var t = r.task();
        if (images) {
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (float v : t.truth()) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            Png.writeGrey(dir.resolve(t.id() + "-truth.png"), t.truth(), t.h(), t.w(), lo, hi);
            int[] ds = r.dataShape();
            if (ds.length == 2) {
                Png.writeGrey(dir.resolve(t.id() + "-data.png"), r.data(), ds[0], ds[1]);
            }
            Png.writeGrey(dir.resolve(t.id() + "-" + r.method() + ".png"), r.x(), t.h(), t.w(), lo, hi);
            Npy.write(dir.resolve(t.id() + "-" + r.method() + ".npy"), r.x(), t.h(), t.w());
        }
        csv.row(t.id(), problem, r.method(), r.psnr(), r.ssim(), (long) r.iterations(), r.stoppedEarly() ? "true" : "false", r.seconds());
        if (images && !r.trace().isEmpty()) {
            convergencePlot(dir.resolve(t.id() + "-" + r.method() + "-convergence.png"), r.method(), r.trace());
        }
        results.add(new ImagePipeline.Result(t, r.method(), null, r.dataShape(), null, r.iterations(), r.stoppedEarly(),
                r.seconds(), r.psnr(), r.ssim(), List.of()));
    }

    /**
     * Two panels: the energy E(x_k) (log scale when it stays positive), and the residuals: the
     * critical-point residual ‖x⁺ − x‖/τ, the primal and dual residuals where the solver reports
     * them, and the ergodic mean of the critical-point residual with an O(log k / k) reference line,
     * on log-log axes.
     */
    public static void convergencePlot(Path file, String method, List<Progress> trace) throws IOException {
        int n = trace.size();
        double[] k = new double[n];
        double[] energy = new double[n];
        boolean positive = true;
        for (int i = 0; i < n; i++) {
            Progress p = trace.get(i);
            k[i] = p.iteration();
            energy[i] = p.objective();
            positive &= energy[i] > 0;
        }
        Plot left = new Plot(method + ": energy", "iteration k", "E(x_k)").logY(positive).size(640, 480)
                .add("energy", k, energy);
        // log-log, so that a rate k^-a is a straight line beside the O(log k / k) reference
        Plot right = new Plot(method + ": residuals", "iteration k", "residual").logY(true).logX(true).size(640, 480);
        String[][] series = {
            {"criticalResidual", "critical-point residual |x+ - x|/tau"},
            {"primalResidual", "primal residual"},
            {"dualResidual", "dual residual"},
            {"ergodicResidual", "ergodic mean of the critical-point residual"},
        };
        for (String[] s : series) {
            if (trace.get(0).scalars().containsKey(s[0])) {
                double[] v = new double[n];
                for (int i = 0; i < n; i++) {
                    v[i] = trace.get(i).scalars().getOrDefault(s[0], Double.NaN);
                }
                right.add(s[1], k, v);
            }
        }
        if (trace.get(0).scalars().containsKey("ergodicResidual")) {
            // the O(log k / k) reference line, anchored at the ergodic residual's value at k = 10
            int anchor = Math.min(9, n - 1);
            double at = trace.get(anchor).scalars().get("ergodicResidual");
            double[] reference = new double[n];
            for (int i = 0; i < n; i++) {
                double kk = Math.max(1, k[i]);
                reference[i] = at * (Math.log(kk + 1) / kk) / (Math.log(k[anchor] + 1) / Math.max(1, k[anchor]));
            }
            right.add("O(log k / k) reference", k, reference, true);
        }
        Plot.writePngRow(file, left, right);
    }

    /** Mean ± standard deviation of PSNR and SSIM per method, as markdown rows. */
    public synchronized String summaryTable(String setting) {
        StringBuilder sb = new StringBuilder();
        for (String m : results.stream().map(ImagePipeline.Result::method).distinct().toList()) {
            var rs = results.stream().filter(r -> r.method().equals(m)).toList();
            double[] p = rs.stream().mapToDouble(ImagePipeline.Result::psnr).toArray();
            double[] s = rs.stream().mapToDouble(ImagePipeline.Result::ssim).toArray();
            double[] t = rs.stream().mapToDouble(ImagePipeline.Result::seconds).toArray();
            sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %.2f ± %.2f | %.4f ± %.4f | %.2f |%n", setting, m, rs.size(),
                    mean(p), std(p), mean(s), std(s), mean(t)));
        }
        return sb.toString();
    }

    public synchronized List<ImagePipeline.Result> results() {
        return List.copyOf(results);
    }

    public static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }

    /** Sample standard deviation (0 for fewer than two values). */
    public static double std(double[] v) {
        if (v.length < 2) {
            return 0;
        }
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / (v.length - 1));
    }

    @Override
    public void close() throws IOException {
        csv.close();
    }
}
