package io.proxstream.actors.bench;

import io.proxstream.solvers.sae.DecoderStatistics;
import io.proxstream.solvers.sae.IterativeDecoder;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.SparseCodes;
import io.proxstream.solvers.sae.SparseStep;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The PAM-SGD decoder update at one shape: the exact step (Cholesky of the m × m statistics) against
 * the iterative step ({@link IterativeDecoder}) on the same stream, in the same run. Both see the same
 * batches with forgetting γ = 0.995; both solve once (the iterative step from the initial decoder, as in
 * training), then take {@code solveEvery} more batches and solve again from their own previous decoder:
 * that second update is what is timed. The objective of each,
 * {@code Σ_i w_i‖z_i W + b − x_i‖² + ρ‖W‖²}, is evaluated directly on the batches with their forgetting
 * weights (no m × m product), and the iterative step's relative gap to the exact one is printed.
 */
public final class DecoderStepBench {

    /** What was measured. */
    public record Result(double exactMs, double iterativeMs, double gap, int iterations, double residual, long windowRows) {
    }

    private DecoderStepBench() {
    }

    public static Result run(SaeBench.Shape s, float[][] batches, SaeModel encoderModel, int solveEvery, boolean withExact,
                             PrintStream out) {
        return run(s, batches, encoderModel, solveEvery, List.of(IterativeDecoder.Options.defaults()), withExact, out).get(0);
    }

    /** One exact step against iterative steps of several settings, all on the same stream; a result per setting. */
    public static List<Result> run(SaeBench.Shape s, float[][] batches, SaeModel encoderModel, int solveEvery,
                                   List<IterativeDecoder.Options> settings, boolean withExact, PrintStream out) {
        int nb = batches.length;
        SaeSpec spec = encoderModel.spec();
        SparseCodes[] codes = new SparseCodes[nb];
        try (SparseStep step = new SparseStep(spec)) {
            for (int i = 0; i < nb; i++) {
                step.encode(encoderModel, batches[i], s.batch());
                codes[i] = step.codes().copy();
            }
        }
        double gamma = 0.995;
        double rho = 1e-6;
        int window = settings.stream().mapToInt(IterativeDecoder.Options::windowRows).max().orElse(0);
        // the first update when the largest window is full (as in training, where the first update comes after
        // solveEvery batches), the timed one solveEvery batches later
        int first = Math.max(solveEvery, (window + s.batch() - 1) / s.batch());
        int total = first + solveEvery;
        double[] weight = new double[nb];
        SaeModel exactModel = SaeModel.initialise(spec, SaeModel.Init.UNIT, 3);
        DecoderStatistics exact = withExact ? new DecoderStatistics(s.m(), s.d()) : null;
        int n = settings.size();
        SaeModel[] cgModels = new SaeModel[n];
        IterativeDecoder[] cg = new IterativeDecoder[n];
        DecoderStatistics.SolveReport[] reports = new DecoderStatistics.SolveReport[n];
        for (int c = 0; c < n; c++) {
            cgModels[c] = exactModel.copy();
            cg[c] = new IterativeDecoder(cgModels[c], settings.get(c));
        }
        double exactMs = 0;
        for (int i = 0; i < total; i++) {
            if (exact != null) {
                exact.forget(gamma);
                exact.accumulate(codes[i % nb], batches[i % nb], s.batch());
            }
            for (int b = 0; b < nb; b++) {
                weight[b] *= gamma;
            }
            weight[i % nb] += 1;
            for (IterativeDecoder step : cg) {
                step.forget(gamma);
                step.accumulate(codes[i % nb], batches[i % nb], s.batch());
            }
            if (i + 1 == first || i + 1 == total) {
                exactMs = exact != null ? exact.solveInto(exactModel, rho, 0, true).millis() : Double.NaN;
                for (int c = 0; c < n; c++) {
                    reports[c] = cg[c].solveInto(cgModels[c], rho, 0, true);
                }
            }
        }
        double fe = exact != null ? objective(exactModel, codes, batches, weight, s, rho) : Double.NaN;
        out.printf(Locale.ROOT, "  decoder update at m=%d (%d batches, then %d more; gamma %.3f): exact step %s%n", s.m(), first,
                solveEvery, gamma, exact != null ? String.format(Locale.ROOT, "%.1f ms", exactMs) : "not measured");
        List<Result> results = new ArrayList<>();
        for (int c = 0; c < n; c++) {
            double gap = exact != null ? (objective(cgModels[c], codes, batches, weight, s, rho) - fe) / fe : Double.NaN;
            DecoderStatistics.SolveReport r = reports[c];
            IterativeDecoder.Options o = settings.get(c);
            String against = exact != null ? String.format(Locale.ROOT, " (%.1fx faster than the exact step)", exactMs / r.millis()) : "";
            String gapText = exact != null ? String.format(Locale.ROOT, "; objective gap to the exact step %.2e", gap) : "";
            out.printf(Locale.ROOT, "  iterative step (window %,d rows, at most %d products): %.1f ms%s, %d products, residual %.1e%s%n",
                    o.windowRows(), o.maxIterations(), r.millis(), against, r.iterations(), r.residual(), gapText);
            results.add(new Result(exactMs, r.millis(), gap, r.iterations(), r.residual(), cg[c].keptRows()));
        }
        return results;
    }

    /** {@code Σ_b weight_b Σ_rows ‖z W + b − x‖² + ρ‖W‖²}, over the distinct batches. */
    static double objective(SaeModel model, SparseCodes[] codes, float[][] batches, double[] weight, SaeBench.Shape s, double rho) {
        int d = s.d();
        float[] w = model.decoderWeights();
        float[] bias = model.decoderBias();
        double f = 0;
        double[] r = new double[d];
        for (int b = 0; b < batches.length; b++) {
            if (weight[b] == 0) {
                continue;
            }
            double sum = 0;
            for (int i = 0; i < s.batch(); i++) {
                for (int t = 0; t < d; t++) {
                    r[t] = bias[t] - batches[b][i * d + t];
                }
                for (int e = codes[b].rowStart(i); e < codes[b].rowEnd(i); e++) {
                    double v = codes[b].value(e);
                    int o = codes[b].index(e) * d;
                    for (int t = 0; t < d; t++) {
                        r[t] += v * w[o + t];
                    }
                }
                for (int t = 0; t < d; t++) {
                    sum += r[t] * r[t];
                }
            }
            f += weight[b] * sum;
        }
        double ww = 0;
        for (float v : w) {
            ww += (double) v * v;
        }
        return f + rho * ww;
    }
}
