package io.proxstream.actors.learned;

import io.proxstream.monitoring.TaskProgress;
import io.proxstream.actors.image.ForwardModel;
import io.proxstream.actors.image.ImageTask;
import io.proxstream.monitoring.CriticMeters;
import io.proxstream.protocol.format.FormatException;
import io.proxstream.protocol.format.Safetensors;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.nn.Critic;
import io.proxstream.solvers.nn.CriticTrainer;
import io.proxstream.solvers.nn.Optimizer;
import io.proxstream.solvers.nn.Param;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Adversarial training of a learned regulariser as a stream (spec/inverse.md): training indices,
 * epoch by epoch in a seeded shuffled order → (ground truth, noisy data, FBP) pairs from the
 * phantom family and the forward model (made once per index and kept: the training set is fixed
 * and bounded) → batches → one critic step each on a dedicated thread ({@link CriticTrainer},
 * data-parallel over the batch) → meters, a progress callback and atomic checkpoints every
 * {@code checkpointEvery} steps. Back-pressured end to end: nothing is made ahead of the trainer
 * beyond the stages' small buffers.
 *
 * <p>Stopping: at most {@code epochs} passes; with a {@link Stopping} rule the Wasserstein estimate
 * on pairs held out from training (seeds disjoint from training, validation and test) is measured
 * every {@code every} steps, and training stops once it has not risen by {@code minDelta} (relative)
 * above its best for {@code patience} measurements in a row: the critic has levelled off.
 *
 * <p>Resume: when the checkpoint file exists (and is a critic of the same kind and architecture),
 * its parameters, the optimizer's moments and step count and the stopping rule's state are loaded,
 * and the stream skips the batches already taken; since the steps' random numbers depend on the seed
 * and the step only, the resumed run repeats the uninterrupted one. A checkpoint that already stopped
 * on the plateau trains no further. Checkpoints are written on the training thread between steps.
 */
public final class CriticTraining {

    /**
     * When to stop before the last epoch: the validation Wasserstein estimate, measured every {@code every} steps on
     * {@code pairs} held-out pairs, has not risen by more than {@code minDelta} × |best| above its best for
     * {@code patience} measurements. {@link #NONE}: train every epoch.
     */
    public record Stopping(int every, int pairs, int patience, double minDelta, boolean restoreBest) {
        public static final Stopping NONE = new Stopping(0, 0, 0, 0);

        public Stopping {
            if (every < 0 || pairs < 0 || patience < 0 || !(minDelta >= 0) || (every > 0 && (pairs < 1 || patience < 1))) {
                throw new IllegalArgumentException("stopping rule: need every >= 0 and, when every > 0, pairs >= 1, patience >= 1, "
                        + "minDelta >= 0; got " + every + ", " + pairs + ", " + patience + ", " + minDelta);
            }
            if (restoreBest && every == 0) {
                throw new IllegalArgumentException("stopping rule: restoring the best parameters needs held-out measurements (every > 0)");
            }
        }

        /** The rule that keeps the parameters of the last step. */
        public Stopping(int every, int pairs, int patience, double minDelta) {
            this(every, pairs, patience, minDelta, false);
        }

        /**
         * The same rule, ending with the parameters of the best held-out measurement instead of the last step's (early
         * stopping proper: a critic that collapses after its best is not kept collapsed).
         */
        public Stopping restoringBest() {
            return new Stopping(every, pairs, patience, minDelta, true);
        }

        public boolean enabled() {
            return every > 0;
        }

        /**
         * As the record's, without {@code restoreBest} when it is false: checkpoints and finished critics are matched by
         * the training configuration's text, and the ones trained before the option existed keep theirs.
         */
        @Override
        public String toString() {
            return "Stopping[every=" + every + ", pairs=" + pairs + ", patience=" + patience + ", minDelta=" + minDelta
                    + (restoreBest ? ", restoreBest=true" : "") + "]";
        }
    }

    /**
     * @param images          training phantoms (seeds disjoint from validation and test)
     * @param epochs          passes over them at most
     * @param batch           pairs per step
     * @param learningRate    Adam step (β = 0.5, 0.99)
     * @param mu              gradient-penalty weight (NaN: the kind's default)
     * @param threads         replicas working on one batch
     * @param checkpointEvery steps between checkpoints (0: only at the end)
     * @param seed            phantom seeds start at {@code seed + }{@link #TRAINING_SEED_OFFSET}; order and interpolates
     * @param stopping        the plateau rule ({@link Stopping#NONE}: every epoch)
     * @param phantoms        the phantom family of the training (and held-out) pairs
     */
    public record Config(int images, int epochs, int batch, double learningRate, double mu, int threads, int checkpointEvery, long seed,
                         Stopping stopping, Phantoms.Family phantoms) {
        public Config {
            if (images < 1 || epochs < 1 || batch < 1 || batch > images || !(learningRate > 0) || threads < 1 || checkpointEvery < 0
                    || stopping == null || phantoms == null) {
                throw new IllegalArgumentException("critic training: need images >= batch >= 1, epochs >= 1, learning rate > 0, "
                        + "threads >= 1, checkpointEvery >= 0, a stopping rule and a phantom family");
            }
        }

        /** Every epoch on random ellipses. */
        public Config(int images, int epochs, int batch, double learningRate, double mu, int threads, int checkpointEvery, long seed) {
            this(images, epochs, batch, learningRate, mu, threads, checkpointEvery, seed, Stopping.NONE, Phantoms.Family.ELLIPSES);
        }

        /** The most steps: every epoch. */
        public long steps() {
            return (long) epochs * (images / batch);
        }

        /** The same configuration with another step size. */
        public Config withLearningRate(double lr) {
            return new Config(images, epochs, batch, lr, mu, threads, checkpointEvery, seed, stopping, phantoms);
        }

        public Config withStopping(Stopping s) {
            return new Config(images, epochs, batch, learningRate, mu, threads, checkpointEvery, seed, s, phantoms);
        }

        public Config withPhantoms(Phantoms.Family f) {
            return new Config(images, epochs, batch, learningRate, mu, threads, checkpointEvery, seed, stopping, f);
        }
    }

    /**
     * The figures of one step.
     *
     * @param validation the held-out Wasserstein estimate after this step (NaN when not measured at this step)
     */
    public record Step(long step, int epoch, double loss, double wasserstein, double penalty, double seconds, double validation) {
    }

    /** A step's figures and whether the plateau rule stopped training at it. */
    private record Taken(Step step, boolean last) {
    }

    /** One training pair with its data. */
    record Sample(float[] truth, float[] data, float[] recon) {
    }

    /** The plateau rule's state; touched only on the training thread. */
    private static final class Plateau {
        double best = Double.NEGATIVE_INFINITY;
        long bestStep;
        int stale;
        boolean stopped;
        /** With {@link Stopping#restoreBest}: the parameters at the best measurement (null before the first). */
        float[][] bestParams;
    }

    /** Phantom seeds of training images are {@code seed + TRAINING_SEED_OFFSET + i}; experiments keep validation and test below. */
    public static final long TRAINING_SEED_OFFSET = 100_000;
    /** Seeds of the held-out pairs of the stopping rule: {@code seed + HELD_OUT_SEED_OFFSET + i}. */
    public static final long HELD_OUT_SEED_OFFSET = 200_000;
    private static final double DIFFERENCE_STEP = 1e-3;

    private CriticTraining() {
    }

    /**
     * Trains {@code critic} in place and returns the steps' figures (of this call; none when the checkpoint had
     * already stopped).
     *
     * @param checkpoint file for checkpoints and resume (null: none)
     * @param onStep     called after every step (from the stream)
     */
    public static List<Step> run(ActorSystem<?> system, Critic critic, ForwardModel model, RayTransform a, double operatorNorm, Config c,
                                 CriticMeters meters, Path checkpoint, Consumer<Step> onStep) throws IOException {
        Fbp fbp = model.fbp(a);
        int n = critic.size();
        Map<Integer, Sample> cache = new ConcurrentHashMap<>();
        long perEpoch = c.images() / c.batch();
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "critic-training");
            t.setDaemon(true);
            return t;
        });
        Plateau plateau = new Plateau();
        List<Sample> heldOut = new ArrayList<>();
        for (int i = 0; i < c.stopping().pairs(); i++) {
            heldOut.add(sample(model, a, fbp, n, c.seed(), c.phantoms(), HELD_OUT_SEED_OFFSET + i));
        }
        long t0 = System.nanoTime();
        List<Step> steps = new ArrayList<>();
        Taken skipped = new Taken(null, true);
        try (CriticTrainer trainer = new CriticTrainer(critic, Optimizer.adam(c.learningRate(), 0.5, 0.99),
                Double.isNaN(c.mu()) ? critic.kind().defaultMu() : c.mu(), DIFFERENCE_STEP, c.threads(), c.seed());
             TaskProgress progress = TaskProgress.start("critic " + critic.kind().id(), (long) c.epochs() * perEpoch, "steps")) {
            long done = resume(critic, trainer, plateau, checkpoint);
            trainer.continueFrom(done);
            progress.stepBy(done);
            if (plateau.stopped) {
                // a kill between the stop's checkpoint and the final one must not leave the last step's parameters
                restoreBest(critic, plateau, c.stopping());
                return steps;
            }
            Source.range(0, c.epochs() - 1)
                    .flatMapConcat(epoch -> Source.from(order(c, epoch)).grouped(c.batch()).filter(b -> b.size() == c.batch())
                            .zipWithIndex().map(p -> new Object[] {epoch, p.first(), p.second()}))
                    .drop(done)
                    .map(e -> {
                        @SuppressWarnings("unchecked")
                        List<Integer> idx = (List<Integer>) e[1];
                        List<Sample> batch = new ArrayList<>();
                        for (int i : idx) {
                            batch.add(cache.computeIfAbsent(i, k -> sample(model, a, fbp, n, c.seed(), c.phantoms(), TRAINING_SEED_OFFSET + k)));
                        }
                        return new Object[] {e[0], batch};
                    })
                    .mapAsync(1, e -> CompletableFuture.supplyAsync(() -> {
                        if (plateau.stopped) {
                            // a batch fetched before the stream saw the stop
                            return skipped;
                        }
                        @SuppressWarnings("unchecked")
                        List<Sample> b = (List<Sample>) e[1];
                        Critic.StepResult r = trainer.step(b.stream().map(Sample::truth).toList(), b.stream().map(Sample::recon).toList(),
                                b.stream().map(Sample::data).toList());
                        long step = trainer.steps();
                        double validation = Double.NaN;
                        if (c.stopping().enabled() && step % c.stopping().every() == 0) {
                            validation = critic.wasserstein(heldOut.stream().map(Sample::truth).toList(),
                                    heldOut.stream().map(Sample::recon).toList(), heldOut.stream().map(Sample::data).toList());
                            observe(plateau, c.stopping(), step, validation);
                            if (c.stopping().restoreBest() && plateau.bestStep == step) {
                                plateau.bestParams = critic.params().stream().map(p -> p.value().clone()).toArray(float[][]::new);
                            }
                        }
                        if (checkpoint != null && (plateau.stopped || c.checkpointEvery() > 0 && step % c.checkpointEvery() == 0)) {
                            save(checkpoint, critic, trainer, plateau, a, operatorNorm, c, model);
                            meters.checkpoint();
                        }
                        return new Taken(new Step(step, (Integer) e[0], r.loss(), r.wasserstein(), r.penalty(),
                                (System.nanoTime() - t0) / 1e9, validation), plateau.stopped);
                    }, pool))
                    .filter(t -> t != skipped)
                    .takeWhile(t -> !t.last(), true)
                    .map(Taken::step)
                    .map(s -> {
                        meters.step(s.loss(), s.penalty(), s.wasserstein());
                        steps.add(s);
                        progress.step();
                        progress.note(String.format(java.util.Locale.ROOT, "W %.4g", s.wasserstein()));
                        onStep.accept(s);
                        return s;
                    })
                    .runWith(Sink.ignore(), system).toCompletableFuture().get();
            // on the training thread, after the last step
            pool.submit(() -> {
                restoreBest(critic, plateau, c.stopping());
                if (checkpoint != null) {
                    save(checkpoint, critic, trainer, plateau, a, operatorNorm, c, model);
                }
                return null;
            }).get();
            if (checkpoint != null) {
                meters.checkpoint();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("critic training interrupted", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof UncheckedIOException u) {
                throw u.getCause();
            }
            throw new IllegalStateException("critic training of " + critic.kind().id() + " failed: " + cause, cause);
        } finally {
            pool.shutdownNow();
        }
        return steps;
    }

    /** With {@link Stopping#restoreBest}, puts the best measurement's parameters back into the critic. */
    private static void restoreBest(Critic critic, Plateau plateau, Stopping s) {
        if (!s.restoreBest() || plateau.bestParams == null) {
            return;
        }
        for (int i = 0; i < plateau.bestParams.length; i++) {
            critic.setParam(i, plateau.bestParams[i]);
        }
    }

    /** The plateau rule after a measurement at {@code step}. */
    private static void observe(Plateau p, Stopping s, long step, double w) {
        if (w > p.best + s.minDelta() * Math.abs(p.best) || p.best == Double.NEGATIVE_INFINITY) {
            p.best = w;
            p.bestStep = step;
            p.stale = 0;
        } else if (++p.stale >= s.patience()) {
            p.stopped = true;
        }
    }

    private static long resume(Critic critic, CriticTrainer trainer, Plateau plateau, Path checkpoint) throws IOException {
        if (checkpoint == null || !Files.isRegularFile(checkpoint)) {
            return 0;
        }
        RegulariserFile.Loaded l = RegulariserFile.load(checkpoint);
        if (l.critic().kind() != critic.kind() || l.critic().size() != critic.size()
                || !l.critic().architecture().toString().equals(critic.architecture().toString())) {
            throw new IllegalArgumentException("checkpoint " + checkpoint + " holds " + l.critic() + " at " + l.critic().size() + "², not "
                    + critic + " at " + critic.size() + "²; move it away to start afresh");
        }
        critic.setParams(l.critic().params());
        List<Param> ps = critic.params();
        Map<String, String> m = l.metadata();
        if (m.containsKey("optimizer_steps")) {
            float[][][] moments = new float[ps.size()][][];
            for (int i = 0; i < ps.size(); i++) {
                moments[i] = new float[][] {moment(checkpoint, l, "optimizer.m." + i), moment(checkpoint, l, "optimizer.v." + i)};
            }
            try {
                trainer.optimizer().restore(ps, moments, Long.parseLong(m.get("optimizer_steps")));
                if (l.extras().containsKey("best.0")) {
                    plateau.bestParams = new float[ps.size()][];
                    for (int i = 0; i < ps.size(); i++) {
                        plateau.bestParams[i] = moment(checkpoint, l, "best." + i);
                        if (plateau.bestParams[i].length != ps.get(i).value().length) {
                            throw new FormatException(checkpoint, "best parameters " + i + " hold " + plateau.bestParams[i].length
                                    + " values, the critic's " + ps.get(i).value().length);
                        }
                    }
                }
                if (m.containsKey("plateau_best")) {
                    plateau.best = Double.parseDouble(m.get("plateau_best"));
                    plateau.bestStep = Long.parseLong(m.get("plateau_best_step"));
                    plateau.stale = Integer.parseInt(m.get("plateau_stale"));
                    plateau.stopped = Boolean.parseBoolean(m.get("plateau_stopped"));
                }
            } catch (IllegalArgumentException e) {
                throw new FormatException(checkpoint, "training state: " + e.getMessage());
            }
        }
        return l.steps();
    }

    private static float[] moment(Path file, RegulariserFile.Loaded l, String key) throws FormatException {
        Safetensors.Array arr = l.extras().get(key);
        if (arr == null || !(arr.data() instanceof float[] v)) {
            throw new FormatException(file, "training checkpoint without the F32 tensor " + key);
        }
        return v;
    }

    private static void save(Path file, Critic critic, CriticTrainer trainer, Plateau plateau, RayTransform a, double operatorNorm,
                             Config c, ForwardModel model) {
        Map<String, Safetensors.Array> state = new LinkedHashMap<>();
        float[][][] moments = trainer.optimizer().moments(critic.params());
        for (int i = 0; i < moments.length; i++) {
            state.put("optimizer.m." + i, Safetensors.Array.of(moments[i][0]));
            state.put("optimizer.v." + i, Safetensors.Array.of(moments[i][1]));
        }
        if (plateau.bestParams != null) {
            for (int i = 0; i < plateau.bestParams.length; i++) {
                state.put("best." + i, Safetensors.Array.of(plateau.bestParams[i]));
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("state", "training checkpoint");
        meta.put("training", c.toString());
        meta.put("data", model.describe());
        meta.put("optimizer_steps", Long.toString(trainer.optimizer().stepCount()));
        meta.put("plateau_best", Double.toString(plateau.best));
        meta.put("plateau_best_step", Long.toString(plateau.bestStep));
        meta.put("plateau_stale", Integer.toString(plateau.stale));
        meta.put("plateau_stopped", Boolean.toString(plateau.stopped));
        try {
            RegulariserFile.save(file, critic, a, operatorNorm, Double.NaN, Double.NaN, trainer.steps(), meta, state);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Integer> order(Config c, int epoch) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < c.images(); i++) {
            idx.add(i);
        }
        SplittableRandom r = new SplittableRandom(c.seed() * 31 + epoch);
        for (int i = idx.size() - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            idx.set(j, idx.set(i, idx.get(j)));
        }
        return idx;
    }

    static Sample sample(ForwardModel model, RayTransform a, Fbp fbp, int n, long seed, Phantoms.Family family, long offset) {
        long s = seed + offset;
        ImageTask t = new ImageTask("train-" + s, family.draw(n, s), n, n, offset);
        float[] y = model.measure(a, t);
        return new Sample(t.truth(), y, fbp.reconstruct(y));
    }
}
