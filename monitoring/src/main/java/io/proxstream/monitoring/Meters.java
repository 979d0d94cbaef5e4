package io.proxstream.monitoring;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * The process's meter registry, in Prometheus format. Meter names follow DESIGN.md: lowercase,
 * dot-separated, with tags ({@code sae.train.fvu{run,algo}}); Prometheus sees them with
 * underscores ({@code sae_train_fvu}) and counters with {@code _total}.
 */
public final class Meters {
    public static final String TRAIN_LOSS = "sae.train.loss";
    public static final String TRAIN_MSE = "sae.train.mse";
    public static final String TRAIN_FVU = "sae.train.fvu";
    public static final String L0 = "sae.l0";
    public static final String DEAD_LATENTS = "sae.latents.dead";
    public static final String LATENTS = "sae.dictionary.size";
    /** A served run's state: one series per state, 1 for the current one ({@code serve_run_state{run,state}}). */
    public static final String RUN_STATE = "serve.run.state";
    /** When a served run's newest durable checkpoint was written, or its start if it has none (Unix seconds). */
    public static final String CHECKPOINT_TIMESTAMP = "serve.checkpoint.timestamp";
    public static final String AUX_LOSS = "sae.train.aux_loss";
    /** Latents per log10-density bucket on the held-out rows (tag {@code log10_density}: "none", "-7" … "-1"). */
    public static final String DENSITY_LATENTS = "sae.latents.density";
    public static final String DENSE_LATENTS = "sae.latents.dense";
    public static final String SHRINKAGE = "sae.heldout.shrinkage";
    public static final String MAX_COSINE = "sae.decoder.max_cosine";
    public static final String HELDOUT_FVU = "sae.heldout.fvu";
    public static final String HELDOUT_ROWS = "sae.heldout.rows";
    public static final String THROUGHPUT = "sae.train.throughput";
    public static final String SAMPLES = "sae.train.samples";
    public static final String DECODER_SOLVES = "sae.decoder.solve";
    /** Products of the last iterative decoder update (0 for the exact step). */
    public static final String DECODER_ITERATIONS = "sae.decoder.iterations";
    /** Residual of the last iterative decoder update relative to its starting residual (NaN for the exact step). */
    public static final String DECODER_RESIDUAL = "sae.decoder.residual";
    public static final String RECORDS_ACCEPTED = "stream.records.accepted";
    public static final String RECORDS_REJECTED = "stream.records.rejected";
    public static final String BACKPRESSURE_WAIT = "stream.backpressure.wait";

    private final PrometheusMeterRegistry registry;

    public Meters() {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** The Prometheus text exposition of all meters. */
    public String scrape() {
        return registry.scrape();
    }

    /**
     * Removes every meter tagged {@code run=NAME}: called when a run's actor ends, so that a run started again
     * under the same name (restart, start-fresh) registers fresh meters instead of finding the ended run's
     * gauges (which would report its last values, or NaN once those are collected).
     */
    public static int removeRun(io.micrometer.core.instrument.MeterRegistry registry, String run) {
        var ours = registry.getMeters().stream().filter(m -> run.equals(m.getId().getTag("run"))).toList();
        ours.forEach(registry::remove);
        return ours.size();
    }
}
