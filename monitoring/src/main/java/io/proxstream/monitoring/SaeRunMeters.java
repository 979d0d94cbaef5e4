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
    private final AtomicLong decoderIterations = new AtomicLong();
    private final AtomicLong decoderResidual = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final Counter samples;
    private final Timer solves;
    private final MeterRegistry registry;
    private final Tags tags;
    /** Latent-health gauges, registered at the first evaluation (a run without hold-out exports none). */
    private AtomicLong[] buckets;
    private final AtomicLong dense = new AtomicLong();
    private final AtomicLong shrinkage = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong maxCosine = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong heldOutFvu = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong heldOutRows = new AtomicLong();

    public SaeRunMeters(MeterRegistry registry, String run, String algo) {
        this(registry, run, algo, 0);
    }

    /** With {@code latents} &gt; 0, also the gauge of the dictionary's size (dead-latent fraction = dead / total). */
    public SaeRunMeters(MeterRegistry registry, String run, String algo, int latents) {
        Tags tags = Tags.of("run", run, "algo", algo);
        this.registry = registry;
        this.tags = tags;
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
        solves = Timer.builder(Meters.DECODER_SOLVES).description("decoder updates (exact solve or iterative step)").tags(tags)
                .register(registry);
        Gauge.builder(Meters.DECODER_ITERATIONS, decoderIterations, AtomicLong::get)
                .description("products of the last iterative decoder update (0: exact step)").tags(tags).register(registry);
        gauge(registry, Meters.DECODER_RESIDUAL, "last iterative decoder update's residual relative to its start (NaN: exact step)",
                tags, decoderResidual);
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

    /**
     * Publishes one latent-health evaluation on held-out rows (a snapshot: each gauge holds the newest value).
     *
     * @param labels    bucket labels of the density distribution ("none", "-7" … "-1"); fixed for a run
     * @param counts    latents per bucket, same order
     * @param rows      held-out rows evaluated
     * @param denseLatents latents firing on more than the dense fraction of rows
     * @param meanShrinkage mean ‖x̂‖/‖x‖
     * @param cosine    largest cosine similarity of two decoder atoms (exact or over a sample, see the run's status)
     * @param fvu       held-out FVU
     */
    public synchronized void health(String[] labels, long[] counts, int rows, int denseLatents, double meanShrinkage,
                                    double cosine, double fvu) {
        if (labels.length != counts.length) {
            throw new IllegalArgumentException(labels.length + " labels for " + counts.length + " buckets");
        }
        if (buckets == null) {
            buckets = new AtomicLong[labels.length];
            for (int i = 0; i < labels.length; i++) {
                buckets[i] = new AtomicLong();
                Gauge.builder(Meters.DENSITY_LATENTS, buckets[i], AtomicLong::get)
                        .description("latents per log10 firing-density bucket on the held-out rows (none = fired on no row)")
                        .tags(tags.and("log10_density", labels[i])).register(registry);
            }
            Gauge.builder(Meters.DENSE_LATENTS, dense, AtomicLong::get)
                    .description("latents firing on more than the dense fraction of the held-out rows").tags(tags).register(registry);
            gauge(registry, Meters.SHRINKAGE, "mean |x_hat|/|x| on the held-out rows", tags, shrinkage);
            gauge(registry, Meters.MAX_COSINE, "largest cosine similarity between two decoder atoms", tags, maxCosine);
            gauge(registry, Meters.HELDOUT_FVU, "fraction of variance unexplained on the held-out rows", tags, heldOutFvu);
            Gauge.builder(Meters.HELDOUT_ROWS, heldOutRows, AtomicLong::get)
                    .description("held-out rows of the last latent-health evaluation").tags(tags).register(registry);
        } else if (buckets.length != counts.length) {
            throw new IllegalArgumentException("density buckets changed from " + buckets.length + " to " + counts.length);
        }
        for (int i = 0; i < counts.length; i++) {
            buckets[i].set(counts[i]);
        }
        dense.set(denseLatents);
        shrinkage.set(Double.doubleToLongBits(meanShrinkage));
        maxCosine.set(Double.doubleToLongBits(cosine));
        heldOutFvu.set(Double.doubleToLongBits(fvu));
        heldOutRows.set(rows);
    }

    /** Records a decoder solve. */
    public void solve(double millis) {
        solves.record(Duration.ofNanos((long) (millis * 1e6)));
    }

    /** Records the last decoder update's iterations and relative residual (iterative step). */
    public void decoderConvergence(int iterations, double residual) {
        decoderIterations.set(iterations);
        decoderResidual.set(Double.doubleToLongBits(residual));
    }
}
