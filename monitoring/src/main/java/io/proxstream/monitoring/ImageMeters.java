package io.proxstream.monitoring;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Meters of the image stream: per-iteration residuals of running solves
 * ({@code solver.iteration.residual{solver}}), iterations, and per-image quality and time
 * ({@code recon.psnr}, {@code recon.ssim}, {@code recon.seconds}, tagged problem and method), and
 * rejected images ({@code recon.rejects{stage}}, stage {@code input} or {@code solver}).
 * Thread-safe.
 */
public final class ImageMeters {
    public static final String RESIDUAL = "solver.iteration.residual";
    public static final String ITERATIONS = "solver.iterations";
    public static final String PSNR = "recon.psnr";
    public static final String SSIM = "recon.ssim";
    public static final String SECONDS = "recon.seconds";
    public static final String IMAGES = "recon.images";
    public static final String REJECTS = "recon.rejects";

    private final MeterRegistry registry;
    private final ConcurrentMap<String, AtomicLong> residuals = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> iterations = new ConcurrentHashMap<>();

    public ImageMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    /** The latest critical-point residual of a solve by {@code solver}. */
    public void residual(String solver, double value) {
        residuals.computeIfAbsent(solver, s -> {
            AtomicLong bits = new AtomicLong(Double.doubleToLongBits(Double.NaN));
            Gauge.builder(RESIDUAL, bits, b -> Double.longBitsToDouble(b.get()))
                    .description("critical-point residual of the latest iteration").tag("solver", s).register(registry);
            return bits;
        }).set(Double.doubleToLongBits(value));
        iterations.computeIfAbsent(solver, s -> Counter.builder(ITERATIONS).description("solver iterations")
                .tag("solver", s).register(registry)).increment();
    }

    /** One reconstructed image. */
    public void image(String problem, String method, double psnr, double ssim, double seconds) {
        if (Double.isFinite(psnr)) {
            DistributionSummary.builder(PSNR).description("PSNR of reconstructions (dB)").tag("problem", problem).tag("method", method)
                    .register(registry).record(psnr);
        }
        if (Double.isFinite(ssim)) {
            DistributionSummary.builder(SSIM).description("SSIM of reconstructions").tag("problem", problem).tag("method", method)
                    .register(registry).record(ssim);
        }
        Timer.builder(SECONDS).description("reconstruction time").tag("problem", problem).tag("method", method).register(registry)
                .record(Duration.ofNanos((long) (seconds * 1e9)));
        Counter.builder(IMAGES).description("images reconstructed").tag("problem", problem).tag("method", method).register(registry)
                .increment();
    }

    /** One image dropped by the stream at {@code stage} (input or solver). */
    public void reject(String stage) {
        Counter.builder(REJECTS).description("images rejected by the image stream").tag("stage", stage).register(registry).increment();
    }
}
