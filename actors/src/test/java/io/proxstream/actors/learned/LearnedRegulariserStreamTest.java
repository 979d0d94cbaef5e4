package io.proxstream.actors.learned;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.actors.image.ForwardModel;
import io.proxstream.monitoring.CriticMeters;
import io.proxstream.protocol.format.FormatException;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.nn.Critic;
import io.proxstream.solvers.nn.Param;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Regulariser files, the training stream with checkpoints and resume, and reconstruction with a trained R. */
class LearnedRegulariserStreamTest {
    private static final int N = 16;
    private static final ForwardModel MODEL = new ForwardModel("ct", "sparse:12", 0, 1, "gaussian:1", 0.01, Fbp.Filter.HANN, 3);
    private static final RayTransform A = (RayTransform) MODEL.operator(N, N);
    private static final double NORM = A.normEstimate(40, 13);
    private static final Critic.Architecture ARCH = new Critic.Architecture(2, 3, 3, new int[] {2}, 1e-3);
    private static ActorSystem<Void> system;

    @BeforeAll
    static void start() {
        system = ActorSystem.create(Behaviors.empty(), "learned-test");
    }

    @AfterAll
    static void stop() throws Exception {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void aSavedRegulariserLoadsWithTheSameValuesAndCorruptFilesAreRefused(@TempDir Path dir) throws IOException {
        for (Critic.Kind k : Critic.Kind.values()) {
            Critic c = new Critic(k, ARCH, N, A, NORM, 17);
            for (Param p : c.params()) {
                for (int i = 0; i < p.value().length; i++) {
                    p.value()[i] += 0.01f * (i % 7);
                }
            }
            Path f = dir.resolve(k.id() + ".safetensors");
            RegulariserFile.save(f, c, A, NORM, 2.5, 7.0, 40, Map.of("setting", "test"));
            RegulariserFile.Loaded l = RegulariserFile.load(f);
            assertEquals(k, l.critic().kind());
            assertEquals(2.5, l.lambda());
            assertEquals(7.0, l.lipschitz());
            assertEquals(40, l.steps());
            assertArrayEquals(A.angles(), l.geometry().angles());
            float[] x = Phantoms.randomEllipses(N, 5);
            assertEquals(c.net().forward(x)[0], l.critic().net().forward(x)[0], 0, k.id() + ": same value after loading");
        }
        Path f = dir.resolve("acr.safetensors");
        byte[] bytes = Files.readAllBytes(f);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length - 10));
        IOException e = assertThrows(IOException.class, () -> RegulariserFile.load(cut));
        assertTrue(e.getMessage().contains("cut.safetensors"), e.getMessage());
        Path other = dir.resolve("other.safetensors");
        io.proxstream.protocol.format.Safetensors.writeArrays(other, Map.of("w", io.proxstream.protocol.format.Safetensors.Array.of(new float[3])),
                Map.of());
        FormatException fe = assertThrows(FormatException.class, () -> RegulariserFile.load(other));
        assertTrue(fe.getMessage().contains("not a proxstream regulariser"), fe.getMessage());
    }

    @Test
    void aStridedSmoothMapIsSavedAndLoadedWithItsStrides(@TempDir Path dir) throws IOException {
        Critic.Architecture strided = new Critic.Architecture(2, 3, 3, new int[] {2, 4}, 1e-3, new int[] {2, 2});
        Critic c = new Critic(Critic.Kind.AWCR, strided, N, A, NORM, 19);
        Path f = dir.resolve("awcr.safetensors");
        RegulariserFile.save(f, c, A, NORM, 1.5, 3.0, 8, Map.of());
        RegulariserFile.Loaded l = RegulariserFile.load(f);
        assertArrayEquals(new int[] {2, 2}, l.critic().architecture().smoothStrides());
        assertEquals(strided.toString(), l.critic().architecture().toString());
        float[] x = Phantoms.randomEllipses(N, 6);
        assertEquals(c.net().forward(x)[0], l.critic().net().forward(x)[0], 0, "same value after loading");
        // a file whose strides are not numbers, or not one per smooth convolution, is refused naming the file
        var contents = io.proxstream.protocol.format.Safetensors.readArrays(f);
        for (String bad : new String[] {"2,x", "2", "2,0"}) {
            Map<String, String> meta = new java.util.LinkedHashMap<>(contents.metadata());
            meta.put("smooth_strides", bad);
            Path broken = dir.resolve("strides-" + bad.replace(',', '_') + ".safetensors");
            io.proxstream.protocol.format.Safetensors.writeArrays(broken, contents.arrays(), meta);
            FormatException e = assertThrows(FormatException.class, () -> RegulariserFile.load(broken), bad);
            assertTrue(e.getMessage().contains(broken.getFileName().toString()), e.getMessage());
        }
    }

    @Test
    void theTrainingStreamCheckpointsMetersAndResumesWhereItStopped(@TempDir Path dir) throws IOException {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        CriticMeters meters = new CriticMeters(registry, "test/acr");
        Path ckpt = dir.resolve("acr.safetensors");
        Critic c = new Critic(Critic.Kind.ACR, ARCH, N, A, NORM, 3);
        CriticTraining.Config two = new CriticTraining.Config(8, 2, 4, 1e-2, Double.NaN, 2, 2, 5);
        List<CriticTraining.Step> seen = new ArrayList<>();
        List<CriticTraining.Step> steps = CriticTraining.run(system, c, MODEL, A, NORM, two, meters, ckpt, seen::add);
        assertEquals(4, steps.size());
        assertEquals(List.of(1L, 2L, 3L, 4L), steps.stream().map(CriticTraining.Step::step).toList());
        assertEquals(steps, seen);
        assertEquals(4, registry.get(CriticMeters.STEPS).counter().count());
        assertEquals(3, registry.get(CriticMeters.CHECKPOINTS).counter().count(), "at steps 2 and 4, and at the end");
        assertEquals(steps.get(3).loss(), registry.get(CriticMeters.LOSS).gauge().value(), 1e-9);
        assertTrue(Double.isFinite(registry.get(CriticMeters.WASSERSTEIN).gauge().value()));
        RegulariserFile.Loaded saved = RegulariserFile.load(ckpt);
        assertEquals(4, saved.steps());
        float[] x = Phantoms.randomEllipses(N, 9);
        assertEquals(c.net().forward(x)[0], saved.critic().net().forward(x)[0], 0, "the checkpoint holds the trained parameters");

        // a fresh critic with a longer schedule resumes from the checkpoint: steps 5 and 6 only
        Critic resumed = new Critic(Critic.Kind.ACR, ARCH, N, A, NORM, 3);
        CriticTraining.Config three = new CriticTraining.Config(8, 3, 4, 1e-2, Double.NaN, 2, 2, 5);
        List<CriticTraining.Step> more = CriticTraining.run(system, resumed, MODEL, A, NORM, three, meters, ckpt, s -> { });
        assertEquals(List.of(5L, 6L), more.stream().map(CriticTraining.Step::step).toList());
        assertEquals(6, RegulariserFile.load(ckpt).steps());

        // a checkpoint of another kind is refused with the reason, not silently overwritten
        Critic ar = new Critic(Critic.Kind.AR, ARCH, N, A, NORM, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CriticTraining.run(system, ar, MODEL, A, NORM, two, meters, ckpt, s -> { }));
        assertTrue(e.getMessage().contains("move it away"), e.getMessage());
    }

    /**
     * Resume is exact: parameters, the optimizer's moments and step count come back from the checkpoint and the
     * steps' random numbers depend on (seed, step) only, so one epoch, a stop, and two more epochs from the checkpoint
     * give the parameters of three epochs in one go, bit for bit (two replicas, gradient penalty on).
     */
    @Test
    void aResumedTrainingRepeatsTheUninterruptedOneBitForBit(@TempDir Path dir) throws IOException {
        CriticMeters meters = new CriticMeters(new SimpleMeterRegistry(), "test/awcr");
        CriticTraining.Config three = new CriticTraining.Config(8, 3, 4, 1e-2, Double.NaN, 2, 0, 5);
        CriticTraining.Config one = new CriticTraining.Config(8, 1, 4, 1e-2, Double.NaN, 2, 0, 5);
        Critic straight = new Critic(Critic.Kind.AWCR, ARCH, N, A, NORM, 3);
        List<CriticTraining.Step> all = CriticTraining.run(system, straight, MODEL, A, NORM, three, meters, null, s -> { });
        Path ckpt = dir.resolve("awcr.safetensors");
        Critic interrupted = new Critic(Critic.Kind.AWCR, ARCH, N, A, NORM, 3);
        CriticTraining.run(system, interrupted, MODEL, A, NORM, one, meters, ckpt, s -> { });
        Critic resumed = new Critic(Critic.Kind.AWCR, ARCH, N, A, NORM, 3);
        List<CriticTraining.Step> rest = CriticTraining.run(system, resumed, MODEL, A, NORM, three, meters, ckpt, s -> { });
        assertEquals(List.of(3L, 4L, 5L, 6L), rest.stream().map(CriticTraining.Step::step).toList());
        assertEquals(all.get(5).loss(), rest.get(3).loss(), 0, "the last step's loss");
        for (int i = 0; i < straight.params().size(); i++) {
            assertArrayEquals(straight.params().get(i).value(), resumed.params().get(i).value(), straight.params().get(i).name());
        }
    }

    /**
     * The plateau rule: with a required rise no measurement can make (minDelta 1e6 × |best|), the first measurement
     * sets the best and the next {@code patience} ones are stale, so training stops after 1 + patience measurements,
     * long before its epochs; the checkpoint records the stop and a rerun trains no further. The held-out estimate
     * is the training loss's Wasserstein term on other pairs (same definition: {@code Critic.wasserstein}).
     */
    @Test
    void trainingStopsWhenTheHeldOutWassersteinEstimateLevelsOffAndStaysStopped(@TempDir Path dir) throws IOException {
        CriticMeters meters = new CriticMeters(new SimpleMeterRegistry(), "test/ar");
        CriticTraining.Config c = new CriticTraining.Config(8, 50, 4, 1e-2, Double.NaN, 1, 0, 5)
                .withStopping(new CriticTraining.Stopping(2, 3, 2, 1e6));
        Path ckpt = dir.resolve("ar.safetensors");
        Critic critic = new Critic(Critic.Kind.AR, ARCH, N, A, NORM, 3);
        List<CriticTraining.Step> steps = CriticTraining.run(system, critic, MODEL, A, NORM, c, meters, ckpt, s -> { });
        assertEquals(6, steps.size(), "measured at steps 2, 4, 6: the best, then two without a rise");
        for (CriticTraining.Step s : steps) {
            assertEquals(s.step() % 2 == 0, Double.isFinite(s.validation()), "measured every 2 steps: step " + s.step());
        }
        RegulariserFile.Loaded l = RegulariserFile.load(ckpt);
        assertEquals(6, l.steps());
        assertEquals("true", l.metadata().get("plateau_stopped"));
        assertEquals("2", l.metadata().get("plateau_best_step"));
        Critic again = new Critic(Critic.Kind.AR, ARCH, N, A, NORM, 3);
        assertEquals(List.of(), CriticTraining.run(system, again, MODEL, A, NORM, c, meters, ckpt, s -> { }), "a stopped run stays stopped");
        float[] x = Phantoms.randomEllipses(N, 9);
        assertEquals(critic.net().forward(x)[0], again.net().forward(x)[0], 0, "and holds the parameters it stopped with");

        // without the impossible rise it trains on: the estimate rises while the critic learns
        CriticTraining.Config patient = c.withStopping(new CriticTraining.Stopping(2, 3, 2, 0));
        Critic learner = new Critic(Critic.Kind.AR, ARCH, N, A, NORM, 3);
        List<CriticTraining.Step> longer = CriticTraining.run(system, learner, MODEL, A, NORM, patient, meters, null, s -> { });
        assertTrue(longer.size() > 6, "with minDelta 0 the first measurements keep rising: " + longer.size() + " steps");
    }

    /**
     * Early stopping proper: with {@code restoreBest} the critic ends with the parameters of its best held-out
     * measurement — here step 2, the first (no later one can rise by 1e6 × |best|) — exactly those of a run of 2 steps
     * without the rule (the steps' random numbers depend on the seed and the step only), where the same rule without it
     * ends with step 6's. The checkpoint carries the best parameters, so a rerun of the stopped run holds them too; the
     * option shows in the training configuration's text (the key of checkpoints) only when set.
     */
    @Test
    void restoringTheBestKeepsTheBestMeasurementsParameters(@TempDir Path dir) throws IOException {
        CriticMeters meters = new CriticMeters(new SimpleMeterRegistry(), "test/ar");
        CriticTraining.Stopping rule = new CriticTraining.Stopping(2, 3, 2, 1e6);
        CriticTraining.Config last = new CriticTraining.Config(8, 50, 4, 1e-2, Double.NaN, 1, 0, 5).withStopping(rule);
        CriticTraining.Config best = last.withStopping(rule.restoringBest());
        assertTrue(best.toString().contains("restoreBest=true") && !last.toString().contains("restoreBest"), best + " / " + last);
        Path ckpt = dir.resolve("ar.safetensors");
        Critic restored = new Critic(Critic.Kind.AR, ARCH, N, A, NORM, 3);
        assertEquals(6, CriticTraining.run(system, restored, MODEL, A, NORM, best, meters, ckpt, s -> { }).size());
        Critic kept = new Critic(Critic.Kind.AR, ARCH, N, A, NORM, 3);
        assertEquals(6, CriticTraining.run(system, kept, MODEL, A, NORM, last, meters, null, s -> { }).size());
        Critic twoSteps = new Critic(Critic.Kind.AR, ARCH, N, A, NORM, 3);
        assertEquals(2, CriticTraining.run(system, twoSteps, MODEL, A, NORM, new CriticTraining.Config(8, 1, 4, 1e-2, Double.NaN, 1, 0, 5),
                meters, null, s -> { }).size());
        boolean differs = false;
        for (int i = 0; i < twoSteps.params().size(); i++) {
            assertArrayEquals(twoSteps.params().get(i).value(), restored.params().get(i).value(), "parameter " + i + " is step 2's");
            differs |= !java.util.Arrays.equals(twoSteps.params().get(i).value(), kept.params().get(i).value());
        }
        assertTrue(differs, "without the option the critic ends with step 6's parameters");
        assertTrue(RegulariserFile.load(ckpt).extras().containsKey("best.0"), "the checkpoint carries the best parameters");
        Critic again = new Critic(Critic.Kind.AR, ARCH, N, A, NORM, 3);
        assertEquals(List.of(), CriticTraining.run(system, again, MODEL, A, NORM, best, meters, ckpt, s -> { }));
        for (int i = 0; i < again.params().size(); i++) {
            assertArrayEquals(restored.params().get(i).value(), again.params().get(i).value(), "the rerun holds the best, parameter " + i);
        }
        assertThrows(IllegalArgumentException.class, () -> CriticTraining.Stopping.NONE.restoringBest());
    }

    @Test
    void texturedTrainingPairsComeFromTheTexturedFamily() {
        Fbp fbp = MODEL.fbp(A);
        CriticTraining.Sample e = CriticTraining.sample(MODEL, A, fbp, N, 5, Phantoms.Family.ELLIPSES, CriticTraining.TRAINING_SEED_OFFSET);
        CriticTraining.Sample t = CriticTraining.sample(MODEL, A, fbp, N, 5, Phantoms.Family.TEXTURED, CriticTraining.TRAINING_SEED_OFFSET);
        assertArrayEquals(Phantoms.randomEllipses(N, 5 + CriticTraining.TRAINING_SEED_OFFSET), e.truth());
        assertArrayEquals(Phantoms.textured(N, 5 + CriticTraining.TRAINING_SEED_OFFSET), t.truth());
    }

    @Test
    void reconstructionWithALearnedRegulariserRunsBothSolversAndChecksTheGeometry() throws IOException {
        Critic c = new Critic(Critic.Kind.AWCR, ARCH, N, A, NORM, 3);
        float[] x = Phantoms.randomEllipses(N, 4);
        float[] y = MODEL.measure(A, new io.proxstream.actors.image.ImageTask("p", x, N, N, 0));
        Fbp fbp = MODEL.fbp(A);
        var gd = LearnedReconstruction.gradientDescent("awcr-gd", c, 1.0, 30).solve(A, y, fbp, io.proxstream.solvers.progress.ProgressListener.NONE);
        var pd = LearnedReconstruction.primalDual("awcr-pd", c, 1.0, 10, 30).solve(A, y, fbp, io.proxstream.solvers.progress.ProgressListener.NONE);
        var data = LearnedReconstruction.dataOnly("data-pd", true, 30).solve(A, y, fbp, io.proxstream.solvers.progress.ProgressListener.NONE);
        assertEquals(30, gd.iterations());
        assertEquals(30, pd.iterations());
        for (float v : pd.x()) {
            assertTrue(v >= 0, "the primal-dual method keeps x >= 0");
        }
        assertTrue(pd.last().scalars().containsKey("ergodicResidual"));
        assertTrue(data.last().objective() <= 0.5 * sq(fbpResidual(fbp, y)), "iterating on the data term lowers it below the FBP's");
        RayTransform big = (RayTransform) MODEL.operator(2 * N, 2 * N);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LearnedReconstruction
                .gradientDescent("awcr-gd", c, 1, 5).solve(big, big.apply(new float[4 * N * N]), MODEL.fbp(big),
                        io.proxstream.solvers.progress.ProgressListener.NONE));
        assertTrue(e.getMessage().contains("trained on 16² images"), e.getMessage());
    }

    /**
     * The weakly convex primal-dual method on a trained AWCR critic, with the Lipschitz constant sampled at the FBP
     * as the CT experiment gives it: backtracking keeps the descent inequality along the iterates, the ergodic
     * critical-point residual falls, and the reconstruction reaches the PSNR of gradient descent on the same energy
     * (plus x ≥ 0, which only the primal-dual method enforces).
     */
    @Test
    void primalDualOnATrainedCriticReachesGradientDescentWithAFallingErgodicResidual() throws Exception {
        Critic c = new Critic(Critic.Kind.AWCR, ARCH, N, A, NORM, 5);
        CriticTraining.run(system, c, MODEL, A, NORM, new CriticTraining.Config(24, 4, 4, 1e-2, Double.NaN, 1, 0, 11),
                new CriticMeters(new SimpleMeterRegistry(), "test/awcr"), null, s -> { });
        Fbp fbp = MODEL.fbp(A);
        List<float[]> truths = new ArrayList<>();
        List<float[]> data = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            float[] x = Phantoms.randomEllipses(N, 40 + i);
            truths.add(x);
            data.add(MODEL.measure(A, new io.proxstream.actors.image.ImageTask("p" + i, x, N, N, i)));
        }
        double lambda = io.proxstream.solvers.nn.LearnedRegulariser.lambdaHeuristic(A, truths, data);
        double sampledLip = 2 * lambda * io.proxstream.solvers.nn.LearnedRegulariser.estimateLipschitz(c.net(), 1,
                fbp.reconstruct(data.get(0)), 8, 1e-2, 3);
        double gdSum = 0;
        double pdSum = 0;
        for (int i = 0; i < truths.size(); i++) {
            var gd = LearnedReconstruction.gradientDescent("awcr-gd", c, lambda, 300).solve(A, data.get(i), fbp,
                    io.proxstream.solvers.progress.ProgressListener.NONE);
            List<io.proxstream.solvers.progress.Progress> trace = new ArrayList<>();
            var pd = LearnedReconstruction.primalDual("awcr-pd", c, lambda, sampledLip, 300).solve(A, data.get(i), fbp, trace::add);
            double gdPsnr = io.proxstream.solvers.inverse.ImageMetrics.psnr(truths.get(i), gd.x());
            double pdPsnr = io.proxstream.solvers.inverse.ImageMetrics.psnr(truths.get(i), pd.x());
            gdSum += gdPsnr;
            pdSum += pdPsnr;
            double e20 = trace.get(19).scalars().get("ergodicResidual");
            double e300 = trace.get(299).scalars().get("ergodicResidual");
            System.out.printf(java.util.Locale.ROOT, "[awcr-pd] image %d: L sampled %.3g, final %.3g after %.0f backtracks; ergodic residual"
                            + " %.3g -> %.3g; PSNR pd %.2f dB, gd %.2f dB%n", i, sampledLip, trace.get(299).scalars().get("lipschitz"),
                    trace.get(299).scalars().get("backtracks"), e20, e300, pdPsnr, gdPsnr);
            assertTrue(e300 < e20 / 3, "the ergodic residual falls: " + e20 + " -> " + e300);
        }
        assertTrue(pdSum >= gdSum, "mean PSNR of the primal-dual method " + pdSum / 3 + " dB reaches gradient descent's " + gdSum / 3);
    }

    private static float[] fbpResidual(Fbp fbp, float[] y) {
        float[] r = A.apply(fbp.reconstruct(y));
        for (int i = 0; i < r.length; i++) {
            r[i] -= y[i];
        }
        return r;
    }

    private static double sq(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return s;
    }
}
