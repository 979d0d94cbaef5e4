package io.proxstream.actors.experiments;

import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.monitoring.report.Plot;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.monitoring.TaskProgress;
import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.data.PlantedDictionary;
import io.proxstream.solvers.sae.Adam;
import io.proxstream.solvers.sae.AdamTrainer;
import io.proxstream.solvers.sae.FeatureRecovery;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeEvaluator;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.SaeTrainer;
import io.proxstream.solvers.sae.Sparsifier;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * {@code experiment sae-synthetic}: feature recovery on the planted-dictionary stream (spec: 512
 * unit features in 256 dimensions, p_i = 0.99^i · 5/512, magnitudes U(0,1)). Every trainer sees the
 * same stream of fresh samples (online, no epochs) and is measured every interval: MMCS, MCC
 * (Hungarian-matched |cos|), dead latents, L0 and FVU on held-out samples.
 */
public final class SaeSynthetic implements Experiment {
    static final long SEED = 42;

    private record Point(long samples, double mmcs, double mcc, int dead, double l0, double fvu) {
    }

    @Override
    public void run(boolean quick, Path out, PrintStream log, ActorSystem<?> system) throws Exception {
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        long total = quick ? 60_000 : 1_500_000;
        long every = quick ? 20_000 : 100_000;
        int batch = 256;
        PlantedDictionary gen = new PlantedDictionary(PlantedDictionary.Options.defaults(SEED));
        Dataset test = gen.sample(quick ? 2_000 : 10_000, SEED + 1);
        int d = 256;
        int m = 1024;
        int k = 8;
        SaeSpec spec = new SaeSpec(d, m, Sparsifier.TOPK, k, 0, false);
        String[] names = {"PAM-SGD (streaming)", "Adam, tied (faithful)", "Adam, untied", "Adam, strong"};
        List<List<Point>> curves = new ArrayList<>();
        double[] seconds = new double[names.length];
        for (int a = 0; a < names.length; a++) {
            SaeModel model = SaeModel.initialise(a == 1 ? spec.withTied(true) : spec, SaeModel.Init.UNIT, SEED);
            SaeTrainer trainer = switch (a) {
                case 0 -> new PamSgdTrainer(model, PamSgdTrainer.Options.experimentDefaults());
                case 1, 2 -> new AdamTrainer(model, Adam.Options.withLr(1e-3));
                default -> new AdamTrainer(model, Adam.Options.withLr(1e-3), AdamTrainer.Recipe.strong(spec, 200_000));
            };
            List<Point> pts = new ArrayList<>();
            pts.add(measure(0, gen, test, model));
            SplittableRandom rnd = new SplittableRandom(SEED + 7);      // the same stream for every trainer
            float[] x = new float[batch * d];
            long seen = 0;
            long s0 = System.nanoTime();
            try (trainer; TaskProgress progress = TaskProgress.start(names[a], total, "samples")) {
                while (seen < total) {
                    gen.fill(x, batch, rnd);
                    trainer.decoderStage(trainer.encoderStage(x, batch));
                    seen += batch;
                    progress.stepBy(batch);
                    if (seen % every < batch) {
                        seconds[a] += (System.nanoTime() - s0) / 1e9;
                        pts.add(measure(seen, gen, test, model));
                        s0 = System.nanoTime();
                    }
                }
            }
            seconds[a] += (System.nanoTime() - s0) / 1e9;
            Point last = pts.get(pts.size() - 1);
            log.printf(Locale.ROOT, "  %-22s %,9d samples  MMCS %.4f  MCC %.4f  dead %4d  L0 %.2f  FVU %.4f  %5.1f s%n", names[a], last.samples(),
                    last.mmcs(), last.mcc(), last.dead(), last.l0(), last.fvu(), seconds[a]);
            curves.add(pts);
        }
        try (CsvTable csv = new CsvTable(out.resolve("recovery.csv"), List.of("trainer", "samples", "mmcs", "mcc", "dead", "l0", "fvu"))) {
            for (int a = 0; a < names.length; a++) {
                for (Point p : curves.get(a)) {
                    csv.row(names[a], p.samples(), p.mmcs(), p.mcc(), (long) p.dead(), p.l0(), p.fvu());
                }
            }
        }
        Plot mmcs = new Plot("MMCS against samples seen", "samples", "MMCS").size(640, 420);
        Plot mcc = new Plot("MCC (Hungarian-matched |cos|)", "samples", "MCC").size(640, 420);
        Plot fvu = new Plot("held-out FVU", "samples", "FVU").logY(true).size(640, 420);
        for (int a = 0; a < names.length; a++) {
            List<Point> pts = curves.get(a);
            double[] s = pts.stream().mapToDouble(Point::samples).toArray();
            mmcs.add(names[a], s, pts.stream().mapToDouble(Point::mmcs).toArray());
            mcc.add(names[a], s, pts.stream().mapToDouble(Point::mcc).toArray());
            fvu.add(names[a], s, pts.stream().mapToDouble(Point::fvu).toArray());
        }
        Plot.writePngRow(out.resolve("recovery.png"), mmcs, mcc, fvu);

        double minutes = (System.nanoTime() - t0) / 60e9;
        StringBuilder rep = new StringBuilder(SaeReport.header("sae-synthetic: feature recovery on the planted-dictionary stream",
                "proxstream experiment sae-synthetic" + (quick ? " --quick" : ""), SEED, minutes));
        rep.append(String.format(Locale.ROOT, "Data: 512 planted unit features in 256 dimensions, feature i fires with probability "
                + "0.99^i · 5/512 (%.2f active per sample on average), magnitude U(0,1), no noise; %,d fresh samples per trainer, "
                + "the same stream for all; %,d held-out samples. SAE: m = 1024, TopK k = 8, unit-sphere init, batch 256. "
                + "PAM-SGD: the streaming variant (decoder statistics forgotten by γ = 0.995 per batch, closed-form solve every 8 "
                + "batches, Adam lr 1e-3 on the encoder). Adam baselines lr 1e-3; the strong one with unit-norm atoms, median b_dec "
                + "and AuxK (dead = silent for 200 000 samples).%n%n", gen.expectedActive(), total, test.rows()));
        rep.append("| trainer | samples | MMCS | MCC | dead | L0 | FVU | seconds |\n|---|---|---|---|---|---|---|---|\n");
        for (int a = 0; a < names.length; a++) {
            List<Point> pts = curves.get(a);
            Point last = pts.get(pts.size() - 1);
            for (Point p : pts) {
                if (p.samples() > 0 && (p.samples() == every || p.samples() == 5 * every || p == last)) {
                    rep.append(String.format(Locale.ROOT, "| %s | %,d | %.4f | %.4f | %d | %.2f | %.4f | %s |%n", names[a], p.samples(),
                            p.mmcs(), p.mcc(), p.dead(), p.l0(), p.fvu(), p == last ? String.format(Locale.ROOT, "%.0f", seconds[a]) : ""));
                }
            }
        }
        rep.append("\n![recovery](recovery.png)\n\n");
        Point pam = curves.get(0).get(curves.get(0).size() - 1);
        int bestBaseline = 1;
        for (int a = 2; a < names.length; a++) {
            if (curves.get(a).get(curves.get(a).size() - 1).mcc() > curves.get(bestBaseline).get(curves.get(bestBaseline).size() - 1).mcc()) {
                bestBaseline = a;
            }
        }
        Point base = curves.get(bestBaseline).get(curves.get(bestBaseline).size() - 1);
        Point pamEarly = curves.get(0).get(1);
        Point baseEarly = curves.get(bestBaseline).get(1);
        rep.append(String.format(Locale.ROOT, "**Did PAM-SGD beat the baselines?** After %,d samples PAM-SGD's MCC is %.4f against %.4f for the "
                        + "best baseline (%s): %s. After the first %,d samples: %.4f vs %.4f.%n", pam.samples(), pam.mcc(), base.mcc(),
                names[bestBaseline], pam.mcc() > base.mcc() ? "yes" : "no", every, pamEarly.mcc(), baseEarly.mcc()));
        AtomicFiles.writeString(out.resolve("report.md"), rep.toString());
    }

    private static Point measure(long samples, PlantedDictionary gen, Dataset test, SaeModel model) {
        SaeEvaluator.Result r = SaeEvaluator.evaluate(model, test, 1024);
        int features = gen.options().features();
        return new Point(samples, FeatureRecovery.mmcs(gen.dictionary(), features, model), FeatureRecovery.mcc(gen.dictionary(), features, model),
                r.dead(), r.l0(), r.fvu());
    }
}
