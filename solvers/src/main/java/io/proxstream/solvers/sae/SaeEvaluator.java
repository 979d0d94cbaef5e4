package io.proxstream.solvers.sae;

import io.proxstream.solvers.data.Dataset;

/** Reconstruction metrics of a model on a held-out data set (no parameter changes). */
public final class SaeEvaluator {
    private SaeEvaluator() {
    }

    /**
     * @param mse  Σ‖x̂ − x‖²/(n·d)
     * @param fvu  Σ‖x̂ − x‖²/Σ‖x − x̄‖² with x̄ the data set's mean
     * @param l0   mean non-zeros per code
     * @param loss the training objective (MSE plus the L1 term of the spec)
     * @param dead latents that fire on no row of the data set
     */
    public record Result(double mse, double fvu, double l0, double loss, int dead) {
    }

    /** Evaluates {@code model} on all rows of {@code data} in chunks of {@code batch} rows. */
    public static Result evaluate(SaeModel model, Dataset data, int batch) {
        return combine(model.spec(), java.util.List.of(sums(model, data, batch)));
    }

    /**
     * What {@link #evaluate} adds up over a data set, kept apart so that sets held in different places (the workers of a
     * cluster, each with its own rows and the same model) combine into the metrics of their union ({@link #combine}).
     *
     * @param rows     rows evaluated
     * @param sse      Σ‖x̂ − x‖²
     * @param l1       Σ of the codes' L1 norms
     * @param nonZeros non-zeros over all codes
     * @param sum      Σx per input dimension
     * @param squares  Σ‖x‖²
     * @param fired    per latent, whether it fired on some row
     */
    public record Sums(long rows, double sse, double l1, long nonZeros, double[] sum, double squares, boolean[] fired) {
    }

    /** The {@link Sums} of {@code model} on all rows of {@code data}, in chunks of {@code batch} rows. */
    public static Sums sums(SaeModel model, Dataset data, int batch) {
        int d = data.dim();
        if (d != model.spec().inputDim()) {
            throw new IllegalArgumentException("data width " + d + " != model input " + model.spec().inputDim());
        }
        double sse = 0;
        double l1 = 0;
        long nz = 0;
        double[] sum = new double[d];
        double sq = 0;
        float[] buf = new float[batch * d];
        boolean[] fired = new boolean[model.spec().latents()];
        try (SparseStep step = new SparseStep(model.spec())) {
            for (int from = 0; from < data.rows(); from += batch) {
                int to = Math.min(data.rows(), from + batch);
                data.copyRows(from, to, buf);
                step.forward(model, buf, to - from);
                sse += step.sse();
                l1 += step.l1Sum();
                nz += step.codes().nonZeros();
                SparseCodes c = step.codes();
                for (int e = 0, n = c.entries(); e < n; e++) {
                    if (c.value(e) != 0f) {
                        fired[c.index(e)] = true;
                    }
                }
                for (int i = 0; i < (to - from) * d; i++) {
                    sum[i % d] += buf[i];
                    sq += (double) buf[i] * buf[i];
                }
            }
        }
        return new Sums(data.rows(), sse, l1, nz, sum, sq, fired);
    }

    /**
     * The metrics of the union of the data sets whose {@link Sums} are given (the mean of the FVU is the union's mean);
     * NaN metrics and every latent dead when no rows were evaluated.
     */
    public static Result combine(SaeSpec spec, java.util.List<Sums> parts) {
        int d = spec.inputDim();
        long rows = 0;
        double sse = 0;
        double l1 = 0;
        long nz = 0;
        double sq = 0;
        double[] sum = new double[d];
        boolean[] fired = new boolean[spec.latents()];
        for (Sums p : parts) {
            if (p.sum().length != d || p.fired().length != spec.latents()) {
                throw new IllegalArgumentException("sums of width " + p.sum().length + " and " + p.fired().length + " latents do not"
                        + " belong to a model " + d + " -> " + spec.latents());
            }
            rows += p.rows();
            sse += p.sse();
            l1 += p.l1();
            nz += p.nonZeros();
            sq += p.squares();
            for (int i = 0; i < d; i++) {
                sum[i] += p.sum()[i];
            }
            for (int j = 0; j < fired.length; j++) {
                fired[j] |= p.fired()[j];
            }
        }
        double n = rows;
        double mean2 = 0;
        for (double s : sum) {
            mean2 += s * s;
        }
        double centred = sq - mean2 / n;
        double mse = sse / (n * d);
        int dead = 0;
        for (boolean f : fired) {
            dead += f ? 0 : 1;
        }
        return new Result(mse, sse / centred, nz / n, mse + spec.l1() * l1 / n, dead);
    }
}
