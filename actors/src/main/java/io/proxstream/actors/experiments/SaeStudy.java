package io.proxstream.actors.experiments;

import io.proxstream.monitoring.TaskProgress;
import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.sae.Adam;
import io.proxstream.solvers.sae.AdamTrainer;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeEvaluator;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.SaeTrainer;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Offline (epoch-based) SAE training for the experiments: the paper's setting, where every trainer
 * sees the same shuffled minibatches of a fixed training set and is evaluated on held-out rows
 * after every epoch.
 */
public final class SaeStudy {
    private SaeStudy() {
    }

    /**
     * A trainer of the study.
     *
     * @param name        label in tables and plots
     * @param algo        {@code pam}, {@code adam-tied}, {@code adam}, {@code adam-strong}, or
     *                    {@code pam-adam} (PAM-SGD for {@code switchEpoch} epochs, then joint Adam on all
     *                    parameters from there)
     * @param spec        the SAE (tied for adam-tied)
     * @param pam         PAM-SGD options (pam, pam-adam)
     * @param adam        Adam options of the baselines and of the pam-adam fine-tuning
     * @param switchEpoch pam-adam: epochs of PAM-SGD before the switch
     * @param init        initialisation of the model
     */
    public record Arm(String name, String algo, SaeSpec spec, PamSgdTrainer.Options pam, Adam.Options adam, int switchEpoch,
                      SaeModel.Init init) {
    }

    /** Held-out metrics after each epoch (index 0: the initial model). */
    public record Curve(String name, List<SaeEvaluator.Result> epochs, double seconds, long samples) {
        public SaeEvaluator.Result last() {
            return epochs.get(epochs.size() - 1);
        }

        public double[] mse() {
            return epochs.stream().mapToDouble(SaeEvaluator.Result::mse).toArray();
        }
    }

    /** Trains {@code arm} from a seeded initialisation for {@code epochs} epochs and records the test curve. */
    /** {@link #train} for each arm in order. */
    public static List<Curve> trainAll(List<Arm> arms, Dataset train, Dataset test, int epochs, int batch, long seed, PrintStream log) {
        List<Curve> out = new ArrayList<>();
        for (Arm a : arms) {
            out.add(train(a, train, test, epochs, batch, seed, log));
        }
        return out;
    }

    public static Curve train(Arm arm, Dataset train, Dataset test, int epochs, int batch, long seed, PrintStream log) {
        SaeModel model = SaeModel.initialise(arm.spec(), arm.init(), seed);
        List<SaeEvaluator.Result> curve = new ArrayList<>();
        curve.add(SaeEvaluator.evaluate(model, test, 1024));
        SplittableRandom order = new SplittableRandom(seed + 17);
        long t0 = System.nanoTime();
        long samples = 0;
        SaeTrainer trainer = create(arm, model, train.rows());
        try (TaskProgress progress = TaskProgress.start(arm.name(), epochs, "epochs")) {
            for (int e = 1; e <= epochs; e++) {
                if (arm.algo().equals("pam-adam") && e == arm.switchEpoch() + 1) {
                    trainer.close();
                    trainer = new AdamTrainer(model, arm.adam());
                }
                if (trainer instanceof PamSgdTrainer pam) {
                    pam.offlineEpoch(train, batch, order);
                } else {
                    adamEpoch(trainer, train, batch, order);
                }
                samples += train.rows();
                if (!model.isFinite()) {
                    throw new IllegalStateException(arm.name() + ": parameters became non-finite in epoch " + e);
                }
                curve.add(SaeEvaluator.evaluate(model, test, 1024));
                progress.step();
                progress.note(String.format(Locale.ROOT, "test FVU %.4f", curve.get(curve.size() - 1).fvu()));
            }
        } finally {
            trainer.close();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        SaeEvaluator.Result last = curve.get(curve.size() - 1);
        log.printf(Locale.ROOT, "  %-22s %3d epochs  test MSE %.5f  FVU %.4f  L0 %7.2f  dead %4d   %6.1f s%n", arm.name(), epochs,
                last.mse(), last.fvu(), last.l0(), last.dead(), seconds);
        return new Curve(arm.name(), List.copyOf(curve), seconds, samples);
    }

    static SaeTrainer create(Arm arm, SaeModel model, int trainRows) {
        return switch (arm.algo()) {
            case "pam", "pam-adam" -> new PamSgdTrainer(model, arm.pam());
            case "adam", "adam-tied" -> new AdamTrainer(model, arm.adam());
            case "adam-strong" -> new AdamTrainer(model, arm.adam(), AdamTrainer.Recipe.strong(model.spec(), trainRows));
            default -> throw new IllegalArgumentException("unknown algorithm " + arm.algo());
        };
    }

    /** One pass of Adam steps over shuffled minibatches. */
    static void adamEpoch(SaeTrainer trainer, Dataset data, int batch, SplittableRandom rnd) {
        int[] perm = data.permutation(rnd);
        float[] buf = new float[batch * data.dim()];
        for (int from = 0; from < data.rows(); from += batch) {
            int to = Math.min(data.rows(), from + batch);
            data.gather(perm, from, to, buf);
            trainer.decoderStage(trainer.encoderStage(to - from == batch ? buf : java.util.Arrays.copyOf(buf, (to - from) * data.dim()),
                    to - from));
        }
    }

    /** Per-dimension z-scores with the statistics of {@code train} applied to both sets (in place). */
    public static void zScore(Dataset train, Dataset test) {
        int d = train.dim();
        double[] mean = new double[d];
        double[] sq = new double[d];
        float[] x = train.data();
        for (int i = 0; i < train.rows(); i++) {
            for (int t = 0; t < d; t++) {
                mean[t] += x[i * d + t];
                sq[t] += (double) x[i * d + t] * x[i * d + t];
            }
        }
        float[] mu = new float[d];
        float[] inv = new float[d];
        for (int t = 0; t < d; t++) {
            double m = mean[t] / train.rows();
            double var = Math.max(sq[t] / train.rows() - m * m, 0);
            mu[t] = (float) m;
            inv[t] = (float) (var > 0 ? 1 / Math.sqrt(var) : 1);
        }
        for (Dataset ds : new Dataset[] {train, test}) {
            float[] v = ds.data();
            for (int i = 0; i < ds.rows(); i++) {
                for (int t = 0; t < d; t++) {
                    v[i * d + t] = (v[i * d + t] - mu[t]) * inv[t];
                }
            }
        }
    }

    /** A markdown number with 4 significant digits. */
    static String num(double v) {
        return String.format(Locale.ROOT, "%.4g", v);
    }
}
