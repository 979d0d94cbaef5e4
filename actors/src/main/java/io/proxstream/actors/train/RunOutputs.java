package io.proxstream.actors.train;

import io.proxstream.actors.stream.WindowReport;
import io.proxstream.monitoring.report.Plot;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.TrainConfig;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.sae.FeatureRecovery;
import io.proxstream.solvers.sae.LatentHealth;
import io.proxstream.solvers.sae.SaeEvaluator;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeTrainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes what a finished training run leaves behind: model, plot, evaluation, summary, report. */
final class RunOutputs {
    private RunOutputs() {
    }

    static RunSummary write(TrainConfig config, Path out, SaeTrainer trainer, TrainingRun.ResolvedSource src,
                            List<WindowReport> history, double seconds, double rejected) throws IOException {
        SaeModel model = trainer.model();
        long samples = trainer.samplesSeen();
        Path modelFile = out.resolve("model.safetensors");
        SaeModelFiles.write(modelFile, model, Map.of(
                "algorithm", trainer.algorithm(),
                "samples", Long.toString(samples),
                "config", ConfigLoader.toJson(config)));

        int n = history.size();
        double[] x = new double[n];
        double[] mse = new double[n];
        double[] fvu = new double[n];
        long solves = 0;
        for (int i = 0; i < n; i++) {
            var m = history.get(i).metrics();
            x[i] = m.samples();
            mse[i] = m.mse();
            fvu[i] = m.fvu();
            solves += history.get(i).solves();
        }
        String title = config.run() + ": " + trainer.algorithm() + ", " + model.spec().sparsifier().id()
                + (model.spec().sparsifier().isTopK() ? " k=" + model.spec().k() : "") + ", m=" + model.spec().latents();
        new Plot(title + " - training loss", "training vectors", "MSE per entry").logY(true)
                .add("training MSE (report window)", x, mse).writePng(out.resolve("loss.png"));
        new Plot(title + " - fraction of variance unexplained", "training vectors", "FVU").logY(true)
                .add("training FVU (report window)", x, fvu).writePng(out.resolve("fvu.png"));

        SaeEvaluator.Result eval = src.eval() == null ? null : SaeEvaluator.evaluate(model, src.eval(), 1024);
        LatentHealth.Result health = src.eval() == null ? null : LatentHealth.evaluate(model, src.eval().data(), src.eval().rows(), 256,
                LatentHealth.Settings.defaults());
        if (health != null) {
            List<String> labels = new java.util.ArrayList<>();
            List<Long> counts = new java.util.ArrayList<>();
            String[] bucketLabels = LatentHealth.Result.labels();
            for (int i = 0; i < bucketLabels.length; i++) {
                String l = bucketLabels[i];
                labels.add(l.equals("none") ? "none" : l.equals("-7") ? "<1e-6" : "1e" + l);
                counts.add(health.buckets()[i]);
            }
            Plot.writePng(Plot.bars(title + " - latent firing density on " + health.rows() + " held-out rows",
                    "share of held-out rows a latent fires on (decade; none: on no row)", "latents", labels, counts, 720, 400),
                    out.resolve("density.png"));
        }
        double mmcs = src.truth() == null ? Double.NaN : FeatureRecovery.mmcs(src.truth(), src.truthRows(), model);
        var last = n == 0 ? null : history.get(n - 1).metrics();
        RunSummary summary = new RunSummary(config.run(), trainer.algorithm(), samples, seconds, samples / seconds,
                last == null ? Double.NaN : last.fvu(), last == null ? Double.NaN : last.l0(),
                last == null ? 0 : last.deadLatents(),
                eval == null ? Double.NaN : eval.mse(), eval == null ? Double.NaN : eval.fvu(),
                eval == null ? Double.NaN : eval.l0(), mmcs, solves, (long) rejected, modelFile.toString());
        AtomicFiles.writeString(out.resolve("summary.json"), ConfigLoader.toJson(summary) + "\n");
        AtomicFiles.writeString(out.resolve("report.md"), report(config, src, summary, history, health));
        return summary;
    }

    private static String report(TrainConfig c, TrainingRun.ResolvedSource src, RunSummary s, List<WindowReport> history,
                                 LatentHealth.Result health) {
        boolean evaluated = health != null;
        StringBuilder sb = new StringBuilder();
        sb.append("# Training run `").append(c.run()).append("`\n\n");
        sb.append("- data: ").append(src.description()).append('\n');
        sb.append("- model: ").append(c.sae().sparsifier()).append(", m = ").append(c.sae().latents());
        if (!c.sae().sparsifier().equals("relu")) {
            sb.append(", k = ").append(c.sae().k());
        }
        sb.append(", d = ").append(src.inputDim()).append(", init ").append(c.sae().init()).append('\n');
        sb.append("- trainer: ").append(s.algorithm()).append(", batch ").append(c.batchSize()).append(", lr ").append(c.trainer().lr());
        if (s.algorithm().equals("pam")) {
            sb.append(String.format(Locale.ROOT, ", decoder solved every %d batches (%s), forgetting %.4g, rho %.3g, mu_D %.3g",
                    c.trainer().solveEvery(), c.trainer().order(), c.trainer().forgetting(), c.trainer().rho(), c.trainer().muDec()));
        }
        sb.append('\n');
        sb.append("- seed: ").append(c.seed()).append("; full configuration in `config.json`\n");
        sb.append("- machine: ").append(Runtime.getRuntime().availableProcessors()).append(" cores; ")
                .append(BlasInfo.current().describe()).append("\n\n");
        sb.append("## Result\n\n| metric | value |\n|---|---|\n");
        row(sb, "training vectors", String.format(Locale.ROOT, "%,d", s.samples()));
        row(sb, "wall time", String.format(Locale.ROOT, "%.1f s", s.seconds()));
        row(sb, "throughput", String.format(Locale.ROOT, "%.0f vectors/s", s.vectorsPerSecond()));
        row(sb, "training FVU (last window)", fmt(s.trainFvu()));
        row(sb, "training L0 (last window)", fmt(s.trainL0()));
        row(sb, "dead latents", Integer.toString(s.deadLatents()));
        if (evaluated) {
            row(sb, "held-out MSE", fmt(s.evalMse()));
            row(sb, "held-out FVU", fmt(s.evalFvu()));
            row(sb, "held-out L0", fmt(s.evalL0()));
            row(sb, "held-out shrinkage (mean ‖x̂‖/‖x‖)", fmt(health.shrinkage()));
            row(sb, "dense latents (firing on > 10 % of held-out rows)", Integer.toString(health.dense()));
            row(sb, "latents firing on no held-out row", Long.toString(health.silent()));
            row(sb, "largest cosine between two decoder atoms", fmt(health.maxCosine())
                    + (health.cosineAtoms() < c.sae().latents() ? " (over " + health.cosineAtoms() + " sampled atoms: a lower bound)" : ""));
        }
        if (!Double.isNaN(s.mmcs())) {
            row(sb, "MMCS with planted features", fmt(s.mmcs()));
        }
        row(sb, "decoder solves", Long.toString(s.decoderSolves()));
        row(sb, "rejected input rows", Long.toString(s.rejected()));
        sb.append("\n![training loss](loss.png)\n\n![FVU](fvu.png)\n\n");
        if (evaluated) {
            sb.append("![latent firing density](density.png)\n\n");
        }
        sb.append("Per-window figures are in `metrics.csv`; the model is `model.safetensors` (SAELens tensor names).\n");
        if (!history.isEmpty()) {
            var first = history.get(0).metrics();
            var last = history.get(history.size() - 1).metrics();
            sb.append(String.format(Locale.ROOT, "%nTraining FVU went from %.4g (first window) to %.4g (last window).%n",
                    first.fvu(), last.fvu()));
        }
        return sb.toString();
    }

    private static void row(StringBuilder sb, String k, String v) {
        sb.append("| ").append(k).append(" | ").append(v).append(" |\n");
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.4g", v);
    }
}
