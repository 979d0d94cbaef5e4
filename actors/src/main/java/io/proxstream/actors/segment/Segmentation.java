package io.proxstream.actors.segment;

import io.proxstream.monitoring.SegmentMeters;
import io.proxstream.solvers.graph.JointSegmentation;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.inverse.Blur;
import io.proxstream.solvers.inverse.ImageMetrics;
import io.proxstream.solvers.inverse.LinearOperator;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The segmentation stage: images (a clean picture, its distortion, labelled pixels) through joint,
 * sequential or plain MBO segmentation, as a back-pressured stream with bounded parallelism and
 * meters per sub-stage (graph, eigenpairs, MBO, reconstruction).
 */
public final class Segmentation {
    private Segmentation() {
    }

    /** A distortion {@code noise:SIGMA} (Gaussian, intensity units) or {@code blur:SIGMA[:NOISE]} (Gaussian blur, default noise 0.02). */
    public record Distortion(String kind, double sigma, double noise) {
        public static Distortion parse(String spec) {
            String[] p = spec.split(":");
            try {
                if (p[0].equals("noise") && p.length == 2) {
                    return new Distortion("noise", 0, positive(Double.parseDouble(p[1]), spec));
                }
                if (p[0].equals("blur") && (p.length == 2 || p.length == 3)) {
                    return new Distortion("blur", positive(Double.parseDouble(p[1]), spec), p.length == 3 ? Double.parseDouble(p[2]) : 0.02);
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("distortion '" + spec + "' has a non-numeric parameter", e);
            }
            throw new IllegalArgumentException("distortion '" + spec + "' is not noise:SIGMA or blur:SIGMA[:NOISE]");
        }

        private static double positive(double v, String spec) {
            if (!(v > 0)) {
                throw new IllegalArgumentException("distortion '" + spec + "' needs a positive parameter");
            }
            return v;
        }

        /** The per-channel forward operator (null = identity). */
        public LinearOperator operator(int h, int w) {
            return kind.equals("blur") ? Blur.gaussian(h, w, sigma) : null;
        }

        /** f = A x + noise, channel by channel, seeded. */
        public float[] apply(float[] clean, int channels, int h, int w, long seed) {
            int n = h * w;
            LinearOperator a = operator(h, w);
            SplittableRandom r = new SplittableRandom(seed);
            float[] out = new float[clean.length];
            for (int ch = 0; ch < channels; ch++) {
                float[] x = java.util.Arrays.copyOfRange(clean, ch * n, (ch + 1) * n);
                float[] y = a == null ? x : a.apply(x);
                for (int i = 0; i < n; i++) {
                    out[ch * n + i] = (float) (y[i] + noise * SaeModel.gaussian(r));
                }
            }
            return out;
        }

        @Override
        public String toString() {
            return kind.equals("noise") ? String.format(Locale.ROOT, "noise σ = %.2f", noise)
                    : String.format(Locale.ROOT, "blur σ = %.1f px + noise %.2f", sigma, noise);
        }
    }

    /**
     * One image to segment.
     *
     * @param clean    the undistorted image (channels × h × w), or null when only the observation is known
     * @param observed the distorted image the methods see
     * @param truth    the true label map, or null
     */
    public record Task(String name, float[] clean, float[] observed, int channels, int h, int w, Distortion distortion, int[] fidelity,
                       int classes, int[] truth, String method, JointSegmentation.Options options) {
    }

    /**
     * A segmented image.
     *
     * @param accuracy  against the truth (NaN without one)
     * @param psnr      of the reconstruction against the clean image (NaN without one)
     */
    public record Result(Task task, JointSegmentation.Outcome outcome, double accuracy, double psnr, double ssim) {
    }

    /** Runs one task on the calling thread. Methods: joint, sequential, mbo (on the observation), clean (MBO on the clean image). */
    public static Result run(Task t) {
        JointSegmentation.Options o = t.options();
        LinearOperator a = t.distortion() == null ? null : t.distortion().operator(t.h(), t.w());
        JointSegmentation.Outcome out = switch (t.method()) {
            case "joint" -> JointSegmentation.joint(t.observed(), t.channels(), t.h(), t.w(), a, t.fidelity(), t.classes(), o);
            case "sequential" -> JointSegmentation.sequential(t.observed(), t.channels(), t.h(), t.w(), a, t.fidelity(), t.classes(), o);
            case "mbo" -> JointSegmentation.mboOnly(t.observed(), t.channels(), t.h(), t.w(), t.fidelity(), t.classes(), o);
            case "clean" -> {
                if (t.clean() == null) {
                    throw new IllegalArgumentException("method clean needs the clean image");
                }
                yield JointSegmentation.mboOnly(t.clean(), t.channels(), t.h(), t.w(), t.fidelity(), t.classes(), o);
            }
            default -> throw new IllegalArgumentException("unknown method '" + t.method() + "'; use joint, sequential, mbo or clean");
        };
        double acc = t.truth() == null ? Double.NaN : JointSegmentation.accuracy(out.labels(), t.truth());
        double psnr = Double.NaN;
        double ssim = Double.NaN;
        if (t.clean() != null) {
            psnr = ImageMetrics.psnr(t.clean(), out.image());
            int n = t.h() * t.w();
            double s = 0;
            for (int ch = 0; ch < t.channels(); ch++) {
                s += ImageMetrics.ssim(java.util.Arrays.copyOfRange(t.clean(), ch * n, (ch + 1) * n),
                        java.util.Arrays.copyOfRange(out.image(), ch * n, (ch + 1) * n), t.h(), t.w());
            }
            ssim = s / t.channels();
        }
        return new Result(t, out, acc, psnr, ssim);
    }

    /**
     * Runs tasks as a stream: at most {@code parallelism} images in flight on the blocking-work
     * dispatcher, pulled from {@code tasks} only as results are taken (back-pressure), meters
     * recorded per image, failures counted as rejects and skipped. Results in completion order.
     */
    public static CompletionStage<List<Result>> stream(ActorSystem<?> system, Source<Task, ?> tasks, int parallelism, SegmentMeters meters,
                                                       List<String> errors) {
        return stream(system, tasks, parallelism, meters, errors, () -> { });
    }

    /** As above, calling {@code onEach} after each task, segmented or refused (progress). */
    public static CompletionStage<List<Result>> stream(ActorSystem<?> system, Source<Task, ?> tasks, int parallelism, SegmentMeters meters,
                                                       List<String> errors, Runnable onEach) {
        Executor blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
        return tasks.mapAsyncUnordered(parallelism, t -> CompletableFuture.supplyAsync(() -> {
            try {
                Result r = run(t);
                JointSegmentation.Timings tm = r.outcome().timings();
                int changes = r.outcome().changes().stream().mapToInt(Integer::intValue).sum();
                meters.record(t.method(), tm.graph(), tm.eigen(), tm.mbo(), tm.reconstruction(), r.outcome().mboIterations(), changes);
                return java.util.Optional.of(r);
            } catch (IllegalArgumentException | ArithmeticException e) {
                meters.rejected(e instanceof ArithmeticException ? "numerical" : "input");
                synchronized (errors) {
                    errors.add(t.name() + " (" + t.method() + "): " + e.getMessage());
                }
                return java.util.Optional.<Result>empty();
            } finally {
                onEach.run();
            }
        }, blocking)).filter(java.util.Optional::isPresent).map(java.util.Optional::get)
                .runWith(Sink.seq(), system).thenApply(ArrayList::new);
    }
}
