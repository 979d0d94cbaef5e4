package io.proxstream.actors.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.monitoring.ImageMeters;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Functional;
import io.proxstream.solvers.inverse.Functionals;
import io.proxstream.solvers.inverse.Gradient;
import io.proxstream.solvers.inverse.GradientDescent;
import io.proxstream.solvers.inverse.IterateListener;
import io.proxstream.solvers.inverse.ImageMetrics;
import io.proxstream.solvers.inverse.LinearOperator;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.inverse.Reconstructors;
import io.proxstream.solvers.inverse.SolverResult;
import io.proxstream.solvers.inverse.StoppingRule;
import io.proxstream.solvers.progress.ProgressListener;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImagePipelineTest {
    private static ActorSystem<Void> system;

    @BeforeAll
    static void start() {
        system = ActorSystem.create(Behaviors.empty(), "image-pipeline-test");
    }

    @AfterAll
    static void stop() throws Exception {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private static final ForwardModel DENOISE = new ForwardModel("denoise", "full:1", 0, 1, "gaussian:1", 0.05, Fbp.Filter.HANN, 7);

    /** A method that records how many solves run at once and how many have started. */
    private static final class Probe implements Reconstruction {
        final AtomicInteger running = new AtomicInteger();
        final AtomicInteger maxRunning = new AtomicInteger();
        final AtomicInteger started = new AtomicInteger();
        final long sleepMs;

        Probe(long sleepMs) {
            this.sleepMs = sleepMs;
        }

        @Override
        public String name() {
            return "probe";
        }

        @Override
        public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener) {
            started.incrementAndGet();
            int now = running.incrementAndGet();
            maxRunning.accumulateAndGet(now, Math::max);
            try {
                Thread.sleep(sleepMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                running.decrementAndGet();
            }
            return new SolverResult(y.clone(), 1, false, sleepMs / 1e3, null);
        }
    }

    private static ImageTask ellipse(int n, long i) {
        return new ImageTask("e" + i, Phantoms.randomEllipses(n, i), n, n, i);
    }

    /** Gradient descent on ½‖x − y‖² + 0.05 · Huber-smoothed TV: a method that shows its iterates. */
    private static Reconstruction smoothedDenoise(int iterations) {
        return new Reconstruction() {
            @Override
            public String name() {
                return "gd-" + iterations;
            }

            @Override
            public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener) {
                return solve(a, y, fbp, listener, IterateListener.NONE);
            }

            @Override
            public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener, IterateListener iterates) {
                Functional e = Functionals.sum(Functionals.composed(Functionals.squaredDistance(y, 1), a),
                        Functionals.composed(Functionals.groupHuber(0.05, 0.05, 2), new Gradient(16, 16)));
                return GradientDescent.solve(e, a.adjoint(y), GradientDescent.Options.armijo(iterations), StoppingRule.NEVER, listener,
                        iterates);
            }
        };
    }

    /**
     * Checkpoints score the iterate after k iterations: the same PSNR and SSIM as a solve given k iterations (the solver
     * is deterministic); a method that does not show its iterates is refused as a solver error, counted, and the stream
     * goes on.
     */
    @Test
    void checkpointsScoreTheIteratesAtEachBudget() throws Exception {
        List<ImageTask> tasks = List.of(ellipse(16, 1), ellipse(16, 2));
        ImageMeters meters = new ImageMeters(new SimpleMeterRegistry());
        List<ImagePipeline.Result> rs = ImagePipeline.graph(Source.from(tasks), DENOISE, smoothedDenoise(12), 2, meters, false,
                        new int[] {3, 7, 12}, r -> { })
                .runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(2, rs.size());
        for (int k : new int[] {3, 7}) {
            List<ImagePipeline.Result> alone = ImagePipeline.graph(Source.from(tasks), DENOISE, smoothedDenoise(k), 2, meters, false,
                            r -> { })
                    .runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 2; i++) {
                ImagePipeline.Checkpoint c = rs.get(i).checkpoints().get(k == 3 ? 0 : 1);
                assertEquals(k, c.iteration());
                assertEquals(alone.get(i).psnr(), c.psnr(), 1e-9, "PSNR after " + k + " iterations");
                assertEquals(alone.get(i).ssim(), c.ssim(), 1e-9, "SSIM after " + k + " iterations");
            }
        }
        for (ImagePipeline.Result r : rs) {
            assertEquals(r.psnr(), r.checkpoints().get(2).psnr(), 1e-9, "the last checkpoint is the result");
            // on this blurred, noisy image the iterates fit the noise after a few steps: the budget matters
            assertTrue(Math.abs(r.checkpoints().get(2).psnr() - r.checkpoints().get(0).psnr()) > 0.1, "budgets differ: " + r.checkpoints());
        }
        List<ImagePipeline.Rejected> rejected = Collections.synchronizedList(new ArrayList<>());
        List<ImagePipeline.Result> none = ImagePipeline.graph(Source.from(tasks), DENOISE, new Probe(1), 1, meters, false,
                        new int[] {1}, rejected::add)
                .runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(0, none.size());
        assertEquals(2, rejected.size());
        assertTrue(rejected.get(0).reason().contains("does not show its iterates"), rejected.get(0).reason());
        List<ImagePipeline.Result> beyond = ImagePipeline.graph(Source.from(tasks.subList(0, 1)), DENOISE, smoothedDenoise(4), 1, meters,
                        false, new int[] {5}, rejected::add)
                .runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(0, beyond.size(), "a checkpoint beyond the iterations run is refused");
        assertTrue(rejected.get(2).reason().contains("ran 4 iterations"), rejected.get(2).reason());
    }

    /**
     * The oracle protocol: the best iterate against the truth is at least as good as every scored budget and the
     * result, lies within the iterations run, and its SSIM is the SSIM of that iterate (a solve stopped there).
     */
    @Test
    void theBestIterateIsTheIterateClosestToTheTruth() throws Exception {
        List<ImageTask> tasks = List.of(ellipse(16, 1), ellipse(16, 2));
        ImageMeters meters = new ImageMeters(new SimpleMeterRegistry());
        List<ImagePipeline.Result> rs = ImagePipeline.graph(Source.from(tasks), DENOISE, smoothedDenoise(12), 2, meters, false,
                        new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, true, r -> { })
                .runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
        for (ImagePipeline.Result r : rs) {
            ImagePipeline.Checkpoint best = r.best();
            ImagePipeline.Checkpoint top = r.checkpoints().stream().max(java.util.Comparator.comparingDouble(ImagePipeline.Checkpoint::psnr))
                    .orElseThrow();
            assertEquals(top.iteration(), best.iteration(), "the best of all iterates");
            assertEquals(top.psnr(), best.psnr(), 1e-12);
            assertEquals(top.ssim(), best.ssim(), 1e-12);
            assertTrue(best.psnr() >= r.psnr() && best.iteration() >= 1 && best.iteration() <= r.iterations(), best.toString());
        }
        // a method that does not show its iterates (FBP-like probe) runs, with no best iterate
        List<ImagePipeline.Result> probe = ImagePipeline.graph(Source.from(tasks), DENOISE, new Probe(1), 1, meters, false, new int[0], true,
                        r -> { })
                .runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(2, probe.size());
        assertTrue(probe.stream().allMatch(r -> r.best() == null));
    }

    @Test
    void solvesRunAtMostParallelismAtOnceAndResultsAreScored() throws Exception {
        Probe probe = new Probe(40);
        List<ImageTask> tasks = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            tasks.add(ellipse(16, i));
        }
        List<ImagePipeline.Result> rs = ImagePipeline.graph(Source.from(tasks), DENOISE, probe, 2,
                        new ImageMeters(new SimpleMeterRegistry()), false, r -> { })
                .runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(8, rs.size());
        assertEquals(2, probe.maxRunning.get(), "two solves at once, never more");
        // mapAsync keeps the input order; the scores are those of the returned image against its truth
        for (int i = 0; i < 8; i++) {
            ImagePipeline.Result r = rs.get(i);
            assertEquals("e" + i, r.task().id());
            assertEquals(ImageMetrics.psnr(r.task().truth(), r.x()), r.psnr(), 1e-9);
        }
    }

    @Test
    void aSlowConsumerHoldsBackTheSourceInsteadOfBuffering() throws Exception {
        Probe probe = new Probe(0);
        AtomicInteger pulled = new AtomicInteger();
        Source<ImageTask, ?> endless = Source.range(0, 1_000_000).map(i -> {
            pulled.incrementAndGet();
            return ellipse(8, i);
        });
        var probeSink = org.apache.pekko.stream.javadsl.Sink.<ImagePipeline.Result>asPublisher(
                org.apache.pekko.stream.javadsl.AsPublisher.WITHOUT_FANOUT);
        var publisher = ImagePipeline.graph(endless, DENOISE, probe, 2, new ImageMeters(new SimpleMeterRegistry()), false, r -> { })
                .runWith(probeSink, system);
        List<ImagePipeline.Result> got = Collections.synchronizedList(new ArrayList<>());
        var sub = new org.reactivestreams.Subscriber<ImagePipeline.Result>() {
            org.reactivestreams.Subscription s;

            @Override
            public void onSubscribe(org.reactivestreams.Subscription s) {
                this.s = s;
                s.request(3);
            }

            @Override
            public void onNext(ImagePipeline.Result r) {
                got.add(r);
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onComplete() {
            }
        };
        publisher.subscribe(sub);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (got.size() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        Thread.sleep(300);
        assertEquals(3, got.size());
        int p = pulled.get();
        assertTrue(p < 64, "the source ran ahead by " + p + " images for 3 requested: buffering instead of back-pressure");
        sub.s.cancel();
    }

    @Test
    void badImagesAreRejectedCountedAndTheStreamGoesOn(@TempDir Path dir) throws Exception {
        float[] nan = Phantoms.randomEllipses(16, 1);
        nan[5] = Float.NaN;
        Files.writeString(dir.resolve("broken.png"), "not a png");
        ImageTask unreadable = ImageSources.files(dir.resolve("broken.png")).runWith(Sink.head(), system).toCompletableFuture()
                .get(10, TimeUnit.SECONDS);
        List<ImageTask> tasks = List.of(ellipse(16, 0), new ImageTask("nan", nan, 16, 16, 1), new ImageTask("tiny", new float[16], 4, 4, 2),
                unreadable, new ImageTask("short", new float[10], 16, 16, 4), ellipse(16, 5));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        List<ImagePipeline.Rejected> rejected = Collections.synchronizedList(new ArrayList<>());
        List<ImagePipeline.Result> rs = ImagePipeline.graph(Source.from(tasks), DENOISE,
                        Reconstruction.of(new Reconstructors.Options("tv-pdhg", 0.05, 20, 0, 0.01, Fbp.Filter.HANN)), 2,
                        new ImageMeters(registry), false, rejected::add)
                .runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(List.of("e0", "e5"), rs.stream().map(r -> r.task().id()).toList());
        assertEquals(4, rejected.size(), rejected.toString());
        assertTrue(rejected.get(0).id().equals("nan") && rejected.get(0).reason().contains("NaN"), rejected.get(0).toString());
        assertTrue(rejected.get(1).reason().contains("4x4") && rejected.get(1).reason().contains("8x8"), rejected.get(1).toString());
        assertTrue(rejected.get(2).id().equals("broken.png") && rejected.get(2).reason().contains("broken.png"),
                rejected.get(2).toString());
        assertTrue(rejected.get(3).reason().contains("short") && rejected.get(3).reason().contains("256"), rejected.get(3).toString());
        assertEquals(4.0, registry.get(ImageMeters.REJECTS).tag("stage", "input").counter().count());
    }

    @Test
    void aFailingSolveIsRejectedAndTheNextImageIsSolved() throws Exception {
        Reconstruction flaky = new Reconstruction() {
            @Override
            public String name() {
                return "flaky";
            }

            @Override
            public SolverResult solve(LinearOperator a, float[] y, Fbp fbp, ProgressListener listener) {
                if (y[0] > 1e6) {
                    throw new IllegalStateException("diverged");
                }
                float[] x = y.clone();
                if (y.length == 144) {
                    x[0] = Float.POSITIVE_INFINITY;
                }
                return new SolverResult(x, 1, false, 0, null);
            }
        };
        float[] huge = Phantoms.randomEllipses(16, 2);
        huge[0] = 1e9f;
        List<ImageTask> tasks = List.of(ellipse(16, 0), new ImageTask("huge", huge, 16, 16, 1), ellipse(12, 2), ellipse(16, 3));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        List<ImagePipeline.Rejected> rejected = Collections.synchronizedList(new ArrayList<>());
        List<ImagePipeline.Result> rs = ImagePipeline.graph(Source.from(tasks), DENOISE, flaky, 1, new ImageMeters(registry), false,
                        rejected::add)
                .runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(List.of("e0", "e3"), rs.stream().map(r -> r.task().id()).toList());
        assertEquals(2, rejected.size(), rejected.toString());
        assertTrue(rejected.get(0).stage().equals("solver") && rejected.get(0).reason().contains("diverged"), rejected.toString());
        assertTrue(rejected.get(1).reason().contains("Infinity") || rejected.get(1).reason().contains("non-finite"), rejected.toString());
        assertEquals(2.0, registry.get(ImageMeters.REJECTS).tag("stage", "solver").counter().count());
    }
}
