package io.proxstream.monitoring;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Meters of adversarial critic training, tagged {@code regulariser} (e.g. {@code ct-sparse/acr}):
 * the latest critic loss ({@code critic.loss}), gradient-penalty value without its weight
 * ({@code critic.gradient_penalty}), Wasserstein estimate mean R(fake) − mean R(true)
 * ({@code critic.wasserstein}), steps ({@code critic.steps}) and checkpoints written
 * ({@code critic.checkpoints}). Thread-safe.
 */
public final class CriticMeters {
    public static final String LOSS = "critic.loss";
    public static final String PENALTY = "critic.gradient_penalty";
    public static final String WASSERSTEIN = "critic.wasserstein";
    public static final String STEPS = "critic.steps";
    public static final String CHECKPOINTS = "critic.checkpoints";

    private final AtomicLong loss = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong penalty = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong wasserstein = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final Counter steps;
    private final Counter checkpoints;

    public CriticMeters(MeterRegistry registry, String regulariser) {
        gauge(registry, LOSS, "critic loss of the latest step (Wasserstein loss plus weighted gradient penalty)", regulariser, loss);
        gauge(registry, PENALTY, "gradient penalty of the latest step, before its weight", regulariser, penalty);
        gauge(registry, WASSERSTEIN, "Wasserstein estimate mean R(reconstruction) - mean R(truth) of the latest step", regulariser,
                wasserstein);
        steps = Counter.builder(STEPS).description("critic training steps").tag("regulariser", regulariser).register(registry);
        checkpoints = Counter.builder(CHECKPOINTS).description("critic checkpoints written").tag("regulariser", regulariser)
                .register(registry);
    }

    private static void gauge(MeterRegistry registry, String name, String description, String regulariser, AtomicLong bits) {
        Gauge.builder(name, bits, b -> Double.longBitsToDouble(b.get())).description(description).tag("regulariser", regulariser)
                .register(registry);
    }

    /** One training step's figures. */
    public void step(double lossValue, double penaltyValue, double wassersteinValue) {
        loss.set(Double.doubleToLongBits(lossValue));
        penalty.set(Double.doubleToLongBits(penaltyValue));
        wasserstein.set(Double.doubleToLongBits(wassersteinValue));
        steps.increment();
    }

    public void checkpoint() {
        checkpoints.increment();
    }
}
