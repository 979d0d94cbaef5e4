package io.proxstream.actors.image;

import io.proxstream.monitoring.ImageMeters;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.ImageMetrics;
import io.proxstream.solvers.inverse.LinearOperator;
import io.proxstream.solvers.inverse.Reconstructors;
import io.proxstream.solvers.inverse.SolverResult;
import io.proxstream.solvers.progress.Progress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The image stream: images → forward model (operator, seeded noise) → solver stage (at most
 * {@code parallelism} solves at once on a dedicated pool; back-pressured) → metrics (PSNR, SSIM
 * against the image the data was simulated from, never used by the solver). Operators are built
 * once per image size and shared (they are thread-safe).
 */
public final class ImagePipeline {

    /** A measured image on its way to the solver. */
    public record Measured(ImageTask task, LinearOperator operator, Fbp fbp, float[] data) {
    }

    /**
     * A reconstructed image.
     *
     * @param trace per-iteration reports (empty unless traces were asked for)
     */
    public record Result(ImageTask task, String method, float[] data, int[] dataShape, float[] x, int iterations,
                         boolean stoppedEarly, double seconds, double psnr, double ssim, List<Progress> trace) {
    }

    private ImagePipeline() {
    }

    /**
     * @param keepTrace keep every iteration's report in the result (for convergence plots)
     */
    public static Source<Result, NotUsed> graph(Source<ImageTask, ?> images, ForwardModel model, Reconstructors.Options method,
                                                int parallelism, ImageMeters meters, boolean keepTrace) {
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
                .map(t -> {
                    LinearOperator a = operators.computeIfAbsent(List.of(t.h(), t.w()), k -> model.operator(t.h(), t.w()));
                    return new Measured(t, a, model.fbp(a), model.measure(a, t));
                })
                .mapAsync(parallelism, m -> CompletableFuture.supplyAsync(() -> solve(m, model, method, meters, keepTrace), pool))
                .watchTermination((mat, done) -> {
                    done.whenComplete((d, e) -> pool.shutdown());
                    return NotUsed.getInstance();
                });
    }

    private static Result solve(Measured m, ForwardModel model, Reconstructors.Options method, ImageMeters meters, boolean keepTrace) {
        List<Progress> trace = keepTrace ? new ArrayList<>() : List.of();
        String solver = method.method();
        SolverResult r = Reconstructors.reconstruct(method, m.operator(), m.data(), m.fbp(), p -> {
            if (keepTrace) {
                trace.add(p);
            }
            Double res = p.scalars().get("criticalResidual");
            if (res != null) {
                meters.residual(solver, res);
            }
        });
        ImageTask t = m.task();
        double psnr = ImageMetrics.psnr(t.truth(), r.x());
        double ssim = t.h() >= 7 && t.w() >= 7 ? ImageMetrics.ssim(t.truth(), r.x(), t.h(), t.w()) : Double.NaN;
        meters.image(model.problem(), solver, psnr, ssim, r.seconds());
        return new Result(t, solver, m.data(), m.operator().rangeShape(), r.x(), r.iterations(), r.stoppedEarly(), r.seconds(),
                psnr, ssim, trace);
    }
}
