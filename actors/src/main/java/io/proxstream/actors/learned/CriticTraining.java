package io.proxstream.actors.learned;

import io.proxstream.monitoring.TaskProgress;
import io.proxstream.actors.image.ForwardModel;
import io.proxstream.actors.image.ImageTask;
import io.proxstream.monitoring.CriticMeters;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.nn.Critic;
import io.proxstream.solvers.nn.CriticTrainer;
import io.proxstream.solvers.nn.Optimizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * random-ellipse generator and the forward model (made once per index and kept: the training set
 * is fixed and bounded) → batches → one critic step each on a dedicated thread pool
 * ({@link CriticTrainer}, data-parallel over the batch) → meters, a progress callback and atomic
 * checkpoints every {@code checkpointEvery} steps. Back-pressured end to end: nothing is made
 * ahead of the trainer beyond the stages' small buffers.
 *
 * <p>Resume: when the checkpoint file exists (and is a valid regulariser of the same kind), its
 * parameters are loaded and the stream skips the batches already taken; the optimizer's moments
 * restart from zero (they are not saved).
 */
public final class CriticTraining {

    /**
     * @param images          training phantoms (seeds disjoint from validation and test)
     * @param epochs          passes over them
     * @param batch           pairs per step
     * @param learningRate    Adam step (β = 0.5, 0.99)
     * @param mu              gradient-penalty weight (NaN: the kind's default)
     * @param threads         replicas working on one batch
     * @param checkpointEvery steps between checkpoints (0: only at the end)
     * @param seed            phantom seeds start at {@code seed + }{@link #TRAINING_SEED_OFFSET}; order and interpolates
     */
    public record Config(int images, int epochs, int batch, double learningRate, double mu, int threads, int checkpointEvery, long seed) {
        public Config {
            if (images < 1 || epochs < 1 || batch < 1 || batch > images || !(learningRate > 0) || threads < 1 || checkpointEvery < 0) {
                throw new IllegalArgumentException("critic training: need images >= batch >= 1, epochs >= 1, learning rate > 0, "
                        + "threads >= 1, checkpointEvery >= 0");
            }
        }

        public long steps() {
            return (long) epochs * (images / batch);
        }
    }

    /** The figures of one step. */
    public record Step(long step, int epoch, double loss, double wasserstein, double penalty, double seconds) {
    }

    /** One training pair with its data. */
    record Sample(float[] truth, float[] data, float[] recon) {
    }

    /** Phantom seeds of training images are {@code seed + TRAINING_SEED_OFFSET + i}; experiments keep validation and test below. */
    public static final long TRAINING_SEED_OFFSET = 100_000;
    private static final double DIFFERENCE_STEP = 1e-3;

    private CriticTraining() {
    }

    /**
     * Trains {@code critic} in place and returns the steps' figures.
     *
     * @param checkpoint file for checkpoints and resume (null: none)
     * @param onStep     called after every step (from the stream)
     */
    public static List<Step> run(ActorSystem<?> system, Critic critic, ForwardModel model, RayTransform a, double operatorNorm, Config c,
                                 CriticMeters meters, Path checkpoint, Consumer<Step> onStep) throws IOException {
        long done = resume(critic, checkpoint);
        Fbp fbp = model.fbp(a);
        int n = critic.size();
        Map<Integer, Sample> cache = new ConcurrentHashMap<>();
        long perEpoch = c.images() / c.batch();
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "critic-training");
            t.setDaemon(true);
            return t;
        });
        long t0 = System.nanoTime();
        List<Step> steps = new ArrayList<>();
        try (CriticTrainer trainer = new CriticTrainer(critic, Optimizer.adam(c.learningRate(), 0.5, 0.99),
                Double.isNaN(c.mu()) ? critic.kind().defaultMu() : c.mu(), DIFFERENCE_STEP, c.threads(), c.seed());
             TaskProgress progress = TaskProgress.start("critic " + critic.kind().id(), (long) c.epochs() * perEpoch, "steps")) {
            progress.stepBy(done);
            Source.range(0, c.epochs() - 1)
                    .flatMapConcat(epoch -> Source.from(order(c, epoch)).grouped(c.batch()).filter(b -> b.size() == c.batch())
                            .zipWithIndex().map(p -> new Object[] {epoch, p.first(), p.second()}))
                    .drop(done)
                    .map(e -> {
                        @SuppressWarnings("unchecked")
                        List<Integer> idx = (List<Integer>) e[1];
                        List<Sample> batch = new ArrayList<>();
                        for (int i : idx) {
                            batch.add(cache.computeIfAbsent(i, k -> sample(model, a, fbp, n, c.seed(), k)));
                        }
                        return new Object[] {e[0], batch};
                    })
                    .mapAsync(1, e -> CompletableFuture.supplyAsync(() -> {
                        @SuppressWarnings("unchecked")
                        List<Sample> b = (List<Sample>) e[1];
                        Critic.StepResult r = trainer.step(b.stream().map(Sample::truth).toList(), b.stream().map(Sample::recon).toList(),
                                b.stream().map(Sample::data).toList());
                        return new Step(done + trainer.steps(), (Integer) e[0], r.loss(), r.wasserstein(), r.penalty(),
                                (System.nanoTime() - t0) / 1e9);
                    }, pool))
                    .map(s -> {
                        meters.step(s.loss(), s.penalty(), s.wasserstein());
                        if (checkpoint != null && c.checkpointEvery() > 0 && s.step() % c.checkpointEvery() == 0) {
                            save(checkpoint, critic, a, operatorNorm, s.step());
                            meters.checkpoint();
                        }
                        steps.add(s);
                        progress.step();
                        progress.note(String.format(java.util.Locale.ROOT, "W %.4g", s.wasserstein()));
                        onStep.accept(s);
                        return s;
                    })
                    .runWith(Sink.ignore(), system).toCompletableFuture().get();
            if (checkpoint != null) {
                save(checkpoint, critic, a, operatorNorm, done + trainer.steps());
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

    private static long resume(Critic critic, Path checkpoint) throws IOException {
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
        return l.steps();
    }

    private static void save(Path file, Critic critic, RayTransform a, double operatorNorm, long steps) {
        try {
            RegulariserFile.save(file, critic, a, operatorNorm, Double.NaN, Double.NaN, steps, Map.of("state", "training checkpoint"));
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

    static Sample sample(ForwardModel model, RayTransform a, Fbp fbp, int n, long seed, int i) {
        long s = seed + TRAINING_SEED_OFFSET + i;
        ImageTask t = new ImageTask("train-" + s, Phantoms.randomEllipses(n, s), n, n, TRAINING_SEED_OFFSET + i);
        float[] y = model.measure(a, t);
        return new Sample(t.truth(), y, fbp.reconstruct(y));
    }
}
