package io.proxstream.solvers.sae;

import io.proxstream.solvers.parallel.Parallel;

/**
 * Training metrics over a reporting window of minibatches, plus dead latents over a sample window.
 *
 * <ul>
 *   <li>MSE: Σ‖x̂ − x‖² / (n·d) over the window;</li>
 *   <li>FVU: Σ‖x̂ − x‖² / Σ‖x − x̄‖², x̄ the window mean (explained variance = 1 − FVU);</li>
 *   <li>L0: mean number of non-zero code entries per row;</li>
 *   <li>dead latents: latents that did not fire in the last {@code deadWindow} samples (or in all
 *       samples seen, while fewer than that have been seen);</li>
 *   <li>throughput: rows per second of wall time given to {@link #report};</li>
 *   <li>AuxK loss: the strong baseline's auxiliary loss on dead latents, mean over the window's batches.</li>
 * </ul>
 * Not thread-safe.
 */
public final class TrainingMetrics {

    /** One window's figures. */
    public record Report(long samples, long windowRows, double loss, double mse, double fvu, double l0,
                         int deadLatents, double vectorsPerSecond, double auxLoss) {
    }

    private final int d;
    private final int m;
    private final long deadWindow;
    private final long[] lastFired;
    private final double[] sumX;
    private long samples;
    private long rows;
    private double sse;
    private double lossSum;
    private double auxSum;
    private long batches;
    private double sumSq;
    private long nonZeros;

    public TrainingMetrics(int inputDim, int latents, long deadWindow) {
        if (deadWindow <= 0) {
            throw new IllegalArgumentException("deadWindow must be positive, got " + deadWindow);
        }
        this.d = inputDim;
        this.m = latents;
        this.deadWindow = deadWindow;
        this.lastFired = new long[m];
        this.sumX = new double[d];
    }

    /** Adds a minibatch {@code x} ({@code rows × d}, not modified) and the step's measurements. */
    public void add(float[] x, int batchRows, StepResult r) {
        double[] sum = sumX;
        sumSq += Parallel.sum(d, 64, (from, to) -> {
            double part = 0;
            for (int b = 0; b < batchRows; b++) {
                int o = b * d;
                for (int i = from; i < to; i++) {
                    double v = x[o + i];
                    sum[i] += v;
                    part += v * v;
                }
            }
            return part;
        });
        samples += batchRows;
        rows += batchRows;
        sse += r.sse();
        lossSum += r.loss();
        auxSum += r.auxLoss();
        batches++;
        nonZeros += r.nonZeros();
        boolean[] fired = r.fired();
        for (int j = 0; j < m; j++) {
            if (fired[j]) {
                lastFired[j] = samples;
            }
        }
    }

    /** Adds the dead-latent tracker under {@code metrics.*} (the report window itself is not kept). */
    public void saveTo(TrainerState.Builder b) {
        b.put("metrics.lastFired", lastFired).put("metrics.samples", samples);
    }

    /** Loads the dead-latent tracker written by {@link #saveTo}, if present. */
    public void loadFrom(TrainerState s) {
        if (s.longs().containsKey("metrics.lastFired")) {
            long[] lf = s.longs().get("metrics.lastFired");
            if (lf.length != m) {
                throw new IllegalArgumentException("metrics state has " + lf.length + " latents, expected " + m);
            }
            System.arraycopy(lf, 0, lastFired, 0, m);
            samples = s.counter("metrics.samples");
        }
    }

    /** Samples added so far. */
    public long samples() {
        return samples;
    }

    /** Rows in the current window. */
    public long windowRows() {
        return rows;
    }

    /** Dead latents now. */
    public int deadLatents() {
        if (samples == 0) {
            return 0;
        }
        long horizon = Math.min(deadWindow, samples);
        int dead = 0;
        for (int j = 0; j < m; j++) {
            if (samples - lastFired[j] >= horizon) {
                dead++;
            }
        }
        return dead;
    }

    /** The figures of the window so far, then starts a new window. */
    public Report report(double elapsedSeconds) {
        double n = rows;
        double centred = sumSq;
        if (n > 0) {
            double mean2 = 0;
            for (int i = 0; i < d; i++) {
                mean2 += sumX[i] * sumX[i];
            }
            centred -= mean2 / n;
        }
        Report r = new Report(samples, rows,
                batches == 0 ? Double.NaN : lossSum / batches,
                n == 0 ? Double.NaN : sse / (n * d),
                n == 0 || centred <= 0 ? Double.NaN : sse / centred,
                n == 0 ? Double.NaN : nonZeros / n,
                deadLatents(),
                elapsedSeconds > 0 ? n / elapsedSeconds : Double.NaN,
                batches == 0 ? Double.NaN : auxSum / batches);
        rows = 0;
        sse = 0;
        lossSum = 0;
        auxSum = 0;
        batches = 0;
        sumSq = 0;
        nonZeros = 0;
        java.util.Arrays.fill(sumX, 0);
        return r;
    }
}
