package io.proxstream.actors.experiments;

import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.monitoring.report.Plot;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.sae.SaeEvaluator;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Tables, plots and verdicts shared by the SAE experiments' reports. */
final class SaeReport {
    private SaeReport() {
    }

    static String header(String title, String command, long seed, double minutes) {
        return "# " + title + "\n\nMade by `" + command + "` on " + Instant.now().truncatedTo(ChronoUnit.SECONDS)
                + String.format(Locale.ROOT, " in %.1f minutes", minutes) + " (" + Runtime.getRuntime().availableProcessors()
                + " cores; " + BlasInfo.current().describe() + "); seed " + seed + ".\n\n";
    }

    /** Test MSE after the listed epochs, then the final FVU, L0, dead latents and time. */
    static String curveTable(List<SaeStudy.Curve> curves, int[] epochs) {
        StringBuilder sb = new StringBuilder("| trainer |");
        List<Integer> shown = new ArrayList<>();
        int max = curves.get(0).epochs().size() - 1;
        for (int e : epochs) {
            if (e <= max && !shown.contains(e)) {
                shown.add(e);
            }
        }
        if (!shown.contains(max)) {
            shown.add(max);
        }
        for (int e : shown) {
            sb.append(" MSE ep ").append(e).append(" |");
        }
        sb.append(" FVU | L0 | dead | s |\n|---|");
        sb.append("---|".repeat(shown.size() + 4)).append('\n');
        for (SaeStudy.Curve c : curves) {
            sb.append("| ").append(c.name()).append(" |");
            for (int e : shown) {
                sb.append(' ').append(SaeStudy.num(c.epochs().get(e).mse())).append(" |");
            }
            SaeEvaluator.Result l = c.last();
            sb.append(String.format(Locale.ROOT, " %.4f | %.1f | %d | %.0f |%n", l.fvu(), l.l0(), l.dead(), c.seconds()));
        }
        return sb.toString();
    }

    /**
     * {@code curves.csv} with every curve, and {@code test-mse-topk.png} and {@code test-mse-relu.png} plotting each group;
     * returns all curves, TopK first.
     */
    static List<SaeStudy.Curve> writeCurves(java.nio.file.Path out, List<SaeStudy.Curve> topk, List<SaeStudy.Curve> relu, String topkTitle,
                            String reluTitle) throws java.io.IOException {
        List<SaeStudy.Curve> all = new java.util.ArrayList<>(topk);
        all.addAll(relu);
        curveCsv(out.resolve("curves.csv"), all);
        curvePlot(out.resolve("test-mse-topk.png"), topkTitle, topk);
        curvePlot(out.resolve("test-mse-relu.png"), reluTitle, relu);
        return all;
    }

    static void curveCsv(Path file, List<SaeStudy.Curve> curves) throws IOException {
        try (CsvTable csv = new CsvTable(file, List.of("trainer", "epoch", "mse", "fvu", "l0", "dead"))) {
            for (SaeStudy.Curve c : curves) {
                for (int e = 0; e < c.epochs().size(); e++) {
                    SaeEvaluator.Result r = c.epochs().get(e);
                    csv.row(c.name(), (long) e, r.mse(), r.fvu(), r.l0(), (long) r.dead());
                }
            }
        }
    }

    static void curvePlot(Path file, String title, List<SaeStudy.Curve> curves) throws IOException {
        Plot plot = new Plot(title, "epoch", "test MSE").logY(true);
        for (SaeStudy.Curve c : curves) {
            int n = c.epochs().size() - 1;
            double[] x = new double[n];
            double[] y = new double[n];
            for (int e = 1; e <= n; e++) {
                x[e - 1] = e;
                y[e - 1] = c.epochs().get(e).mse();
            }
            plot.add(c.name(), x, y);
        }
        plot.writePng(file);
    }

    /** "A is below/above B at epoch e (a vs b)" for the first and the last epoch, and where the curves cross. */
    static String compare(SaeStudy.Curve a, SaeStudy.Curve b) {
        int n = a.epochs().size() - 1;
        double a1 = a.epochs().get(1).mse();
        double b1 = b.epochs().get(1).mse();
        double an = a.last().mse();
        double bn = b.last().mse();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s vs %s: after epoch 1 %s (%s vs %s); after epoch %d %s (%s vs %s)", a.name(), b.name(),
                a1 < b1 ? "lower" : "higher", SaeStudy.num(a1), SaeStudy.num(b1), n, an < bn ? "lower" : "higher", SaeStudy.num(an),
                SaeStudy.num(bn)));
        for (int e = 2; e <= n; e++) {
            boolean before = a.epochs().get(e - 1).mse() < b.epochs().get(e - 1).mse();
            boolean now = a.epochs().get(e).mse() < b.epochs().get(e).mse();
            if (before != now) {
                sb.append("; the curves cross at epoch ").append(e);
                break;
            }
        }
        return sb.append('.').toString();
    }
}
