package io.proxstream.actors.image;

import io.proxstream.monitoring.ImageMeters;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.ImageMetrics;
import io.proxstream.solvers.inverse.IterateListener;
import io.proxstream.solvers.inverse.LinearOperator;
import io.proxstream.solvers.inverse.SolverResult;
import io.proxstream.solvers.inverse.Vectors;
import io.proxstream.solvers.progress.Progress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The image stream: images → forward model (operator, seeded noise) → solver stage (at most
 * {@code parallelism} solves at once on a dedicated pool; back-pressured, so at most
 * {@code parallelism} measured images wait beyond the stage buffers) → metrics (PSNR, SSIM against
 * the image the data was simulated from, never seen by the solver). Operators are built once per
 * image size and shared (they are thread-safe).
 *
 * <p>Images that cannot be used (unreadable files, non-finite pixels, too small for the operator, a solve that
 * fails) are dropped, counted ({@code recon.rejects}) and reported to the reject listener; the
 * stream goes on with the next image.
 */
public final class ImagePipeline {

    /** A measured image on its way to the solver. */
    public record Measured(ImageTask task, LinearOperator operator, Fbp fbp, float[] data) {
    }

    /** An image the stream dropped, with the reason. */
    public record Rejected(String id, String stage, String reason) {
    }

    /**
     * A reconstructed image.
     *
     * @param trace       per-iteration reports (empty unless traces were asked for)
     * @param checkpoints the scores of the iterates at the iteration counts asked for (empty unless asked for)
     * @param best        the iterate closest to the truth by PSNR (the oracle "best iterate" protocol of the public
     *                    code: it looks at the truth, so it is a yardstick, not a method); null unless asked for and
     *                    the method shows its iterates
     */
    public record Result(ImageTask task, String method, float[] data, int[] dataShape, float[] x, int iterations,
                         boolean stoppedEarly, double seconds, double psnr, double ssim, List<Progress> trace,
                         List<Checkpoint> checkpoints, Checkpoint best) {
        public Result(ImageTask task, String method, float[] data, int[] dataShape, float[] x, int iterations,
                      boolean stoppedEarly, double seconds, double psnr, double ssim, List<Progress> trace) {
            this(task, method, data, dataShape, x, iterations, stoppedEarly, seconds, psnr, ssim, trace, List.of(), null);
        }

        public Result(ImageTask task, String method, float[] data, int[] dataShape, float[] x, int iterations,
                      boolean stoppedEarly, double seconds, double psnr, double ssim, List<Progress> trace,
                      List<Checkpoint> checkpoints) {
            this(task, method, data, dataShape, x, iterations, stoppedEarly, seconds, psnr, ssim, trace, checkpoints, null);
        }
    }

    /** The scores of the iterate after {@code iteration} iterations (for choosing a budget on validation images). */
    public record Checkpoint(int iteration, double psnr, double ssim) {
    }

    /** Smallest image side the stream accepts (SSIM's 7×7 window needs it; so does a useful ray transform). */
    public static final int MIN_SIDE = 8;

    private ImagePipeline() {
    }

    /**
     * @param keepTrace keep every iteration's report in the result (for convergence plots)
     * @param onReject  called (from stream threads) for every dropped image
     */
    public static Source<Result, NotUsed> graph(Source<ImageTask, ?> images, ForwardModel model, Reconstruction method,
                                                int parallelism, ImageMeters meters, boolean keepTrace, Consumer<Rejected> onReject) {
        return graph(images, model, method, parallelism, meters, keepTrace, new int[0], false, onReject);
    }

    /**
     * As above, scoring the iterates after each of {@code checkpoints} iterations as well (the method must
     * show its iterates; a checkpoint beyond the iterations run is refused as a solver error).
     */
    public static Source<Result, NotUsed> graph(Source<ImageTask, ?> images, ForwardModel model, Reconstruction method,
                                                int parallelism, ImageMeters meters, boolean keepTrace, int[] checkpoints,
                                                Consumer<Rejected> onReject) {
        return graph(images, model, method, parallelism, meters, keepTrace, checkpoints, false, onReject);
    }

    /** As above; with {@code best}, each result also carries its best iterate against the truth ({@link Result#best}). */
    public static Source<Result, NotUsed> graph(Source<ImageTask, ?> images, ForwardModel model, Reconstruction method,
                                                int parallelism, ImageMeters meters, boolean keepTrace, int[] checkpoints,
                                                boolean best, Consumer<Rejected> onReject) {
        int[] at = checkpoints.clone();
        if (parallelism <= 0) {
            throw new IllegalArgumentException("parallelism must be positive, got " + parallelism);
        }
        Map<List<Integer>, LinearOperator> operators = new ConcurrentHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(parallelism, r -> {
            Thread t = new Thread(r, "image-solver");
            t.setDaemon(true);
            return t;
        });
        return images
                .mapConcat(t -> {
                    try {
                        if (t.error() != null) {
                            throw new IllegalArgumentException(t.error());
                        }
                        if (t.h() < MIN_SIDE || t.w() < MIN_SIDE) {
                            throw new IllegalArgumentException("image is " + t.h() + "x" + t.w() + "; at least " + MIN_SIDE + "x"
                                    + MIN_SIDE + " is needed");
                        }
                        Vectors.requireLength("image " + t.id(), t.truth(), t.h() * t.w());
                        Vectors.requireFinite("image " + t.id(), t.truth());
                        LinearOperator a = operators.computeIfAbsent(List.of(t.h(), t.w()), k -> model.operator(t.h(), t.w()));
                        return List.of(new Measured(t, a, model.fbp(a), model.measure(a, t)));
                    } catch (IllegalArgumentException e) {
                        meters.reject("input");
                        onReject.accept(new Rejected(t.id(), "input", e.getMessage()));
                        return List.<Measured>of();
                    }
                })
                .mapAsync(parallelism, m -> CompletableFuture.supplyAsync(() -> {
                    try {
                        return Optional.of(solve(m, model.problem(), method, meters, keepTrace, at, best));
                    } catch (RuntimeException e) {
                        meters.reject("solver");
                        onReject.accept(new Rejected(m.task().id(), "solver", method.name() + ": " + e));
                        return Optional.<Result>empty();
                    }
                }, pool))
                .mapConcat(r -> r.map(List::of).orElse(List.of()))
                .watchTermination((mat, done) -> {
                    done.whenComplete((d, e) -> pool.shutdown());
                    return NotUsed.getInstance();
                });
    }

    /** Reconstructs one measured image and scores it against its truth. */
    public static Result solve(Measured m, String problem, Reconstruction method, ImageMeters meters, boolean keepTrace) {
        return solve(m, problem, method, meters, keepTrace, new int[0]);
    }

    /** As above, scoring the iterates after each of {@code checkpoints} iterations. */
    public static Result solve(Measured m, String problem, Reconstruction method, ImageMeters meters, boolean keepTrace,
                               int[] checkpoints) {
        return solve(m, problem, method, meters, keepTrace, checkpoints, false);
    }

    /**
     * As above; with {@code best}, the iterate of highest PSNR against the truth is kept as well (scored by SSIM at
     * the end) when the method shows its iterates, and the result carries it.
     */
    public static Result solve(Measured m, String problem, Reconstruction method, ImageMeters meters, boolean keepTrace,
                               int[] checkpoints, boolean best) {
        List<Progress> trace = keepTrace ? new ArrayList<>() : List.of();
        String solver = method.name();
        ImageTask task = m.task();
        List<Checkpoint> scores = new ArrayList<>();
        double[] bestPsnr = {Double.NEGATIVE_INFINITY};
        int[] bestAt = {-1};
        float[][] bestX = {null};
        // the best iterate is watched whenever the iterates are shown: asked for by checkpoints, or offered by the method
        boolean watchBest = best && (checkpoints.length > 0 || method.showsIterates());
        IterateListener iterates = checkpoints.length == 0 && !watchBest ? IterateListener.NONE : (it, x) -> {
            for (int c : checkpoints) {
                if (c == it) {
                    scores.add(new Checkpoint(it, ImageMetrics.psnr(task.truth(), x), ImageMetrics.ssim(task.truth(), x, task.h(), task.w())));
                }
            }
            if (watchBest) {
                double p = ImageMetrics.psnr(task.truth(), x);
                if (p > bestPsnr[0]) {
                    bestPsnr[0] = p;
                    bestAt[0] = it;
                    bestX[0] = bestX[0] == null ? x.clone() : copyInto(x, bestX[0]);
                }
            }
        };
        SolverResult r = method.solve(m.operator(), m.data(), m.fbp(), p -> {
            if (keepTrace) {
                trace.add(p);
            }
            Double res = p.scalars().get("criticalResidual");
            if (res != null) {
                meters.residual(solver, res);
            }
        }, iterates);
        ImageTask t = m.task();
        Vectors.requireFinite(solver + " reconstruction of " + t.id(), r.x());
        if (scores.size() != checkpoints.length) {
            throw new IllegalStateException(solver + " ran " + r.iterations() + " iterations on " + t.id() + "; scores were asked after "
                    + Arrays.toString(checkpoints));
        }
        double psnr = ImageMetrics.psnr(t.truth(), r.x());
        double ssim = ImageMetrics.ssim(t.truth(), r.x(), t.h(), t.w());
        meters.image(problem, solver, psnr, ssim, r.seconds());
        Checkpoint top = bestX[0] == null ? null
                : new Checkpoint(bestAt[0], bestPsnr[0], ImageMetrics.ssim(t.truth(), bestX[0], t.h(), t.w()));
        return new Result(t, solver, m.data(), m.operator().rangeShape(), r.x(), r.iterations(), r.stoppedEarly(), r.seconds(),
                psnr, ssim, trace, List.copyOf(scores), top);
    }

    private static float[] copyInto(float[] from, float[] to) {
        System.arraycopy(from, 0, to, 0, from.length);
        return to;
    }
}
