package io.proxstream.solvers.spline;

import io.proxstream.solvers.data.Dataset;

/** An autoencoder of the spline toolkit: maps each input to its cell and reconstructs it there. */
public interface Autoencoder {

    int dim();

    /** The cell (region of the partition) of the row at {@code x[offset ..]}. */
    int cell(float[] x, int offset);

    /** Writes the reconstruction of the row at {@code x[offset ..]} into {@code out[outOffset ..]}. */
    void reconstruct(float[] x, int offset, float[] out, int outOffset);

    /**
     * MSE per entry and FVU of the reconstructions of {@code data}, defined as for SAEs
     * ({@code Σ‖x̂ − x‖²/(n·d)} and {@code Σ‖x̂ − x‖²/Σ‖x − x̄‖²}).
     */
    default double[] evaluate(Dataset data) {
        int d = dim();
        if (data.dim() != d) {
            throw new IllegalArgumentException("data width " + data.dim() + " != autoencoder width " + d);
        }
        float[] x = data.data();
        float[] r = new float[d];
        double sse = 0;
        double[] sum = new double[d];
        double sq = 0;
        for (int i = 0; i < data.rows(); i++) {
            reconstruct(x, i * d, r, 0);
            for (int t = 0; t < d; t++) {
                double e = (double) r[t] - x[i * d + t];
                sse += e * e;
                sum[t] += x[i * d + t];
                sq += (double) x[i * d + t] * x[i * d + t];
            }
        }
        double mean2 = 0;
        for (double s : sum) {
            mean2 += s * s;
        }
        double n = data.rows();
        return new double[] {sse / (n * d), sse / (sq - mean2 / n)};
    }
}
