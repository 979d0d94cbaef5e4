package io.proxstream.monitoring;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** The meters of one SAE training run, tagged {@code run} and {@code algo}. Thread-safe. */
public final class SaeRunMeters {
    private final AtomicLong loss = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong mse = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong fvu = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong l0 = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong throughput = new AtomicLong(Double.doubleToLongBits(0));
    private final AtomicLong aux = new AtomicLong(Double.doubleToLongBits(0));
    private final AtomicLong dead = new AtomicLong();
    private final Counter samples;
    private final Timer solves;

    public SaeRunMeters(MeterRegistry registry, String run, String algo) {
        this(registry, run, algo, 0);
    }

    /** With {@code latents} &gt; 0, also the gauge of the dictionary's size (dead-latent fraction = dead / total). */
    public SaeRunMeters(MeterRegistry registry, String run, String algo, int latents) {
        Tags tags = Tags.of("run", run, "algo", algo);
        if (latents > 0) {
            Gauge.builder(Meters.LATENTS, () -> latents).description("latents of the dictionary").tags(tags).strongReference(true)
                    .register(registry);
        }
        gauge(registry, Meters.TRAIN_LOSS, "training objective over the last report window", tags, loss);
        gauge(registry, Meters.TRAIN_MSE, "mean squared reconstruction error per entry", tags, mse);
        gauge(registry, Meters.TRAIN_FVU, "fraction of variance unexplained", tags, fvu);
        gauge(registry, Meters.L0, "mean non-zero latents per vector", tags, l0);
        gauge(registry, Meters.THROUGHPUT, "training vectors per second", tags, throughput);
        gauge(registry, Meters.AUX_LOSS, "AuxK loss on dead latents over the last window (adam-strong; 0 otherwise)", tags, aux);
        Gauge.builder(Meters.DEAD_LATENTS, dead, AtomicLong::get).description("latents that did not fire in the dead window")
                .tags(tags).register(registry);
        samples = Counter.builder(Meters.SAMPLES).description("training vectors consumed").tags(tags).register(registry);
        solves = Timer.builder(Meters.DECODER_SOLVES).description("closed-form decoder solves").tags(tags).register(registry);
    }

    private static void gauge(MeterRegistry r, String name, String description, Tags tags, AtomicLong bits) {
        Gauge.builder(name, bits, b -> Double.longBitsToDouble(b.get())).description(description).tags(tags).register(r);
    }

    /** Publishes one report window. */
    public void report(double lossValue, double mseValue, double fvuValue, double l0Value, int deadLatents,
                       double vectorsPerSecond, long newSamples, double auxLoss) {
        loss.set(Double.doubleToLongBits(lossValue));
        mse.set(Double.doubleToLongBits(mseValue));
        fvu.set(Double.doubleToLongBits(fvuValue));
        l0.set(Double.doubleToLongBits(l0Value));
        dead.set(deadLatents);
        aux.set(Double.doubleToLongBits(auxLoss));
        throughput.set(Double.doubleToLongBits(vectorsPerSecond));
        samples.increment(newSamples);
    }

    /** Records a decoder solve. */
    public void solve(double millis) {
        solves.record(Duration.ofNanos((long) (millis * 1e6)));
    }
}
