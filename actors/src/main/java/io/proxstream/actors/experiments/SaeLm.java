package io.proxstream.actors.experiments;

import io.proxstream.actors.lm.Activations;
import io.proxstream.actors.train.DataPaths;
import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.protocol.format.Npy;
import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.sae.Adam;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.Sparsifier;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * {@code experiment sae-lm}: the sae-mnist comparison on real transformer activations — the
 * residual stream after block 3 of all-MiniLM-L6-v2 over the fortunes corpus, per-dimension
 * z-scored, 90/10 split — at the paper's LLM-script settings scaled to width 384 (m = 768 ≈ 2d and
 * k = 64 ≈ 8 % of m, as 4096 ≈ 1.8 · 2304 and 320 ≈ 8 % in the paper; batch 256, lr 1e-3,
 * μ_E = ν_E = 1e-3 with clip 1, ρ = 1e-10, decoder block first; ReLU with L1 1e-5), with the μ ablation.
 */
public final class SaeLm implements Experiment {
    static final long SEED = 42;
    static final int BLOCK = 3;

    record Config(int rows, int epochs, int ablationEpochs, double[] mus, int switchEpoch) {
        static Config full() {
            return new Config(100_000, 20, 8, new double[] {1e-4, 1e-3, 1e-2, 1e-1, 1}, 3);
        }

        static Config quick() {
            return new Config(6_000, 2, 1, new double[] {1e-3, 1e-1}, 1);
        }
    }

    /** The cached activations (made once per setting, then reused). */
    static Path activations(int rows, int maxTokens, PrintStream log) throws Exception {
        Path file = DataPaths.dataDir().resolve("minilm").resolve(String.format(Locale.ROOT, "block%d-rows%d-tok%d-seed%d.npy", BLOCK,
                rows, maxTokens, SEED));
        if (!Files.isRegularFile(file)) {
            log.println("caching " + rows + " MiniLM activations (block " + BLOCK + ") to " + file);
            Activations.cache(BLOCK, rows, maxTokens, SEED, file, log);
        }
        return file;
    }

    @Override
    public void run(boolean quick, Path out, PrintStream log, ActorSystem<?> system) throws Exception {
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        Config c = quick ? Config.quick() : Config.full();
        Path file = activations(c.rows(), 128, log);
        float[] all = Npy.readAll(file);
        int d = 384;
        int n = all.length / d;
        int nTrain = (int) Math.round(0.9 * n);
        Dataset train = new Dataset(java.util.Arrays.copyOfRange(all, 0, nTrain * d), nTrain, d);
        Dataset test = new Dataset(java.util.Arrays.copyOfRange(all, nTrain * d, n * d), n - nTrain, d);
        SaeStudy.zScore(train, test);
        int batch = 256;
        int m = 768;
        SaeSpec topk = new SaeSpec(d, m, Sparsifier.TOPK_ABS, 64, 0, false);
        SaeSpec relu = new SaeSpec(d, m, Sparsifier.RELU, 0, 1e-5, false);
        PamSgdTrainer.Options pam = PamSgdTrainer.Options.paperLm();
        Adam.Options lr = Adam.Options.withLr(1e-3);
        log.println("MiniLM block " + BLOCK + ": " + train.rows() + " training and " + test.rows() + " test vectors; " + c.epochs()
                + " epochs");
        List<SaeStudy.Arm> arms = List.of(
                new SaeStudy.Arm("PAM-SGD", "pam", topk, pam, lr, 0, SaeModel.Init.PAPER),
                new SaeStudy.Arm("Adam, tied (faithful)", "adam-tied", topk.withTied(true), pam, lr, 0, SaeModel.Init.PAPER),
                new SaeStudy.Arm("Adam, strong", "adam-strong", topk, pam, lr, 0, SaeModel.Init.UNIT),
                new SaeStudy.Arm("PAM-SGD then Adam", "pam-adam", topk, pam, lr, c.switchEpoch(), SaeModel.Init.PAPER));
        log.println("TopK (signed, k = 64):");
        List<SaeStudy.Curve> topkCurves = SaeStudy.trainAll(arms, train, test, c.epochs(), batch, SEED, log);
        log.println("ReLU (L1 1e-5):");
        List<SaeStudy.Curve> reluCurves = SaeStudy.trainAll(List.of(
                new SaeStudy.Arm("PAM-SGD, ReLU", "pam", relu, pam, lr, 0, SaeModel.Init.PAPER),
                new SaeStudy.Arm("Adam, tied, ReLU", "adam-tied", relu.withTied(true), pam, lr, 0, SaeModel.Init.PAPER)),
                train, test, c.epochs(), batch, SEED, log);
        List<SaeStudy.Curve> allCurves = SaeReport.writeCurves(out, topkCurves, reluCurves,
                "MiniLM block 3, TopK (signed) k = 64: test MSE per epoch",
                "MiniLM block 3, ReLU + L1: test MSE per epoch");

        log.println("mu ablation (PAM-SGD, mu_E = nu_E = mu, " + c.ablationEpochs() + " epochs):");
        double[] muMse = new double[c.mus().length];
        for (int i = 0; i < c.mus().length; i++) {
            double mu = c.mus()[i];
            PamSgdTrainer.Options o = new PamSgdTrainer.Options(pam.adam(), pam.sgdRepeats(), mu, mu, pam.clipNorm(), pam.rho(),
                    pam.muDec(), pam.order(), pam.solveEvery(), pam.forgetting(), pam.holdUnfired());
            muMse[i] = SaeStudy.train(new SaeStudy.Arm("PAM-SGD mu = " + mu, "pam", topk, o, lr, 0, SaeModel.Init.PAPER), train, test,
                    c.ablationEpochs(), batch, SEED, log).last().mse();
        }

        double minutes = (System.nanoTime() - t0) / 60e9;
        StringBuilder rep = new StringBuilder(SaeReport.header("sae-lm: PAM-SGD against the baselines on transformer activations",
                "proxstream experiment sae-lm" + (quick ? " --quick" : ""), SEED, minutes));
        rep.append("Data: ").append(n).append(" residual-stream vectors (width 384) after block ").append(BLOCK)
                .append(" of all-MiniLM-L6-v2 (ONNX Runtime), one per token of the Debian fortunes in a seeded order, texts cut to ")
                .append("128 tokens, [CLS]/[SEP] left out; the first 90 % (").append(train.rows()).append(") train, the last 10 % (")
                .append(test.rows()).append(") test; z-scored per dimension with the training statistics. SAE: m = 768, TopK k = 64 in the paper code's ")
                .append("convention (`topk-abs`, signed) or ReLU with L1 1e-5, batch 256. PAM-SGD as the paper's LLM script: per epoch the closed-form decoder on ")
                .append("all training codes first (ρ = 1e-10), then an Adam pass (lr 1e-3) over the encoder with the anchor ")
                .append("μ_E = ν_E = 1e-3 and gradient clipping at 1. Baselines as in sae-mnist with lr 1e-3; PAM-SGD then Adam ")
                .append("switches after ").append(c.switchEpoch()).append(" epochs. No causal language model is reachable offline; ")
                .append("a BERT encoder's residual stream is the real-activation source (spec/data.md).\n\n");
        rep.append("## Test MSE per epoch\n\n").append(SaeReport.curveTable(allCurves, new int[] {1, 2, 5, 10}));
        rep.append("\n![TopK](test-mse-topk.png)\n\n![ReLU](test-mse-relu.png)\n\n");
        rep.append("**Did PAM-SGD beat the baselines?** ").append(SaeReport.compare(topkCurves.get(0), topkCurves.get(1))).append(' ')
                .append(SaeReport.compare(topkCurves.get(0), topkCurves.get(2))).append(' ')
                .append(SaeReport.compare(topkCurves.get(3), topkCurves.get(1))).append("\n\n");
        rep.append("**ReLU sparsity.** ").append(SaeReport.compare(reluCurves.get(0), reluCurves.get(1)))
                .append(String.format(Locale.ROOT, " L0: %.1f active latents per token (PAM-SGD) vs %.1f (tied Adam), of %d; %s.%n%n",
                        reluCurves.get(0).last().l0(), reluCurves.get(1).last().l0(), m,
                        reluCurves.get(0).last().l0() < reluCurves.get(1).last().l0() ? "PAM-SGD's codes are sparser"
                                : "PAM-SGD's codes are denser"));
        rep.append("## μ ablation (PAM-SGD, μ_E = ν_E = μ, ").append(c.ablationEpochs())
                .append(" epochs)\n\n| μ | test MSE |\n|---|---|\n");
        try (CsvTable csv = new CsvTable(out.resolve("mu-ablation.csv"), List.of("mu", "test_mse"))) {
            for (int i = 0; i < muMse.length; i++) {
                rep.append("| ").append(c.mus()[i]).append(" | ").append(SaeStudy.num(muMse[i])).append(" |\n");
                csv.row(c.mus()[i], muMse[i]);
            }
        }
        AtomicFiles.writeString(out.resolve("report.md"), rep.toString());
    }
}
