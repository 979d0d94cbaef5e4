package io.proxstream.monitoring;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/** Meters of the segmentation stage, tagged {@code method}: time per sub-stage, MBO iterations, label changes. Thread-safe. */
public final class SegmentMeters {
    private final MeterRegistry registry;

    public SegmentMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Records one segmented image. */
    public void record(String method, double graphSeconds, double eigenSeconds, double mboSeconds, double reconSeconds,
                       int mboIterations, int labelChanges) {
        timer("segment.graph", "patch features and the Nystrom kernel block", method).record(nanos(graphSeconds));
        timer("segment.eigen", "degrees, orthogonalisation and the small eigenproblem", method).record(nanos(eigenSeconds));
        timer("segment.mbo", "MBO iterations", method).record(nanos(mboSeconds));
        timer("segment.reconstruction", "TV reconstructions of the joint and sequential schemes", method).record(nanos(reconSeconds));
        Counter.builder("segment.mbo.iterations").description("MBO iterations").tag("method", method).register(registry)
                .increment(mboIterations);
        Counter.builder("segment.label.changes").description("labels changed by the joint scheme's rounds").tag("method", method)
                .register(registry).increment(labelChanges);
        Counter.builder("segment.images").description("images segmented").tag("method", method).register(registry).increment();
    }

    /** Counts an image the stage rejected (bad input). */
    public void rejected(String reason) {
        Counter.builder("segment.rejects").description("images the segmentation stage rejected").tag("reason", reason)
                .register(registry).increment();
    }

    private Timer timer(String name, String description, String method) {
        return Timer.builder(name).description(description).tag("method", method).register(registry);
    }

    private static Duration nanos(double seconds) {
        return Duration.ofNanos((long) (seconds * 1e9));
    }
}
