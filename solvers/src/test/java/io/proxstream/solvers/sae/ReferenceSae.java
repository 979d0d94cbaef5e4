package io.proxstream.solvers.sae;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;

/**
 * A deliberately plain, dense, double-precision SAE used as the independent reference in tests:
 * pre-activations by explicit loops, the support by sorting, the loss by definition.
 */
final class ReferenceSae {
    private ReferenceSae() {
    }

    static double[] toDouble(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[i];
        }
        return r;
    }

    /** Sorted supports of every row under the spec's sparsifier. */
    static int[][] supports(SaeSpec spec, double[] wEnc, double[] bEnc, float[] x, int rows) {
        int d = spec.inputDim();
        int m = spec.latents();
        int[][] out = new int[rows][];
        for (int b = 0; b < rows; b++) {
            double[] a = pre(spec, wEnc, bEnc, x, b);
            out[b] = support(spec, a, m);
        }
        return out;
    }

    static double[] pre(SaeSpec spec, double[] wEnc, double[] bEnc, float[] x, int b) {
        int d = spec.inputDim();
        int m = spec.latents();
        double[] a = new double[m];
        for (int j = 0; j < m; j++) {
            double s = bEnc[j];
            for (int i = 0; i < d; i++) {
                s += wEnc[j * d + i] * x[b * d + i];
            }
            a[j] = s;
        }
        return a;
    }

    static int[] support(SaeSpec spec, double[] a, int m) {
        Integer[] order = new Integer[m];
        for (int j = 0; j < m; j++) {
            order[j] = j;
        }
        int[] sup;
        switch (spec.sparsifier()) {
            case TOPK -> {
                Arrays.sort(order, Comparator.comparingDouble((Integer j) -> -a[j]));
                sup = new int[spec.k()];
                for (int t = 0; t < spec.k(); t++) {
                    sup[t] = order[t];
                }
            }
            case TOPK_ABS -> {
                Arrays.sort(order, Comparator.comparingDouble((Integer j) -> -Math.abs(a[j])));
                sup = new int[spec.k()];
                for (int t = 0; t < spec.k(); t++) {
                    sup[t] = order[t];
                }
            }
            case RELU -> sup = java.util.stream.IntStream.range(0, m).filter(j -> a[j] > 0).toArray();
            default -> throw new IllegalStateException();
        }
        Arrays.sort(sup);
        return sup;
    }

    /** The loss of SparseStep, computed densely in double. {@code wDec} may be {@code wEnc} (tied). */
    static double loss(SaeSpec spec, double[] wEnc, double[] bEnc, double[] wDec, double[] bDec, float[] x, int rows) {
        int d = spec.inputDim();
        int m = spec.latents();
        double sse = 0;
        double l1 = 0;
        for (int b = 0; b < rows; b++) {
            double[] a = pre(spec, wEnc, bEnc, x, b);
            int[] sup = support(spec, a, m);
            double[] xh = bDec.clone();
            for (int j : sup) {
                double zj = spec.sparsifier() == Sparsifier.TOPK ? Math.max(a[j], 0) : a[j];
                l1 += Math.abs(zj);
                for (int i = 0; i < d; i++) {
                    xh[i] += zj * wDec[j * d + i];
                }
            }
            for (int i = 0; i < d; i++) {
                double r = xh[i] - x[b * d + i];
                sse += r * r;
            }
        }
        return sse / ((double) rows * d) + spec.l1() * l1 / rows;
    }

    /** A model with random weights and biases (biases non-zero so that they are tested). */
    static SaeModel randomModel(SaeSpec spec, long seed) {
        SaeModel model = SaeModel.initialise(spec, SaeModel.Init.PAPER, seed);
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x5eed);
        float[] be = model.encoderBias();
        for (int j = 0; j < be.length; j++) {
            be[j] = (float) (0.1 * SaeModel.gaussian(rnd));
        }
        float[] bd = model.decoderBias();
        for (int i = 0; i < bd.length; i++) {
            bd[i] = (float) (0.1 * SaeModel.gaussian(rnd));
        }
        if (!spec.tied()) {
            float[] wd = model.decoderWeights();
            for (int i = 0; i < wd.length; i++) {
                wd[i] = (float) (0.3 * SaeModel.gaussian(rnd));
            }
        }
        model.encoderChanged();
        return model;
    }

    static float[] gaussianRows(int rows, int d, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[rows * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) SaeModel.gaussian(rnd);
        }
        return x;
    }
}
