package io.proxstream.solvers.graph;

import io.proxstream.solvers.inverse.Vectors;
import io.proxstream.solvers.parallel.Parallel;

/**
 * Node features of a patch graph: for every pixel the (colour) patch of half-width p around it,
 * reflected at the border ({@code … 2 1 | 0 1 2 … w−1 | w−2 …}), each entry weighted by the square
 * root of a Gaussian spatial mask {@code exp(−(dy² + dx²)/(2 s²))}, so that the squared distance
 * of two feature vectors is the mask-weighted squared difference of the patches.
 *
 * <p>Images are channel-major planes ({@code c × h × w}, as {@code Png.Image}); features are
 * row-major {@code n × F} with {@code n = h·w} and {@code F = c·(2p+1)²}.
 */
public final class PatchFeatures {
    private PatchFeatures() {
    }

    /**
     * @param planes     {@code channels × h × w} image values
     * @param halfWidth  p ≥ 0
     * @param maskSigma  s of the spatial mask in pixels (≤ 0 or infinite: no mask)
     */
    public static float[] of(float[] planes, int channels, int h, int w, int halfWidth, double maskSigma) {
        if (channels < 1 || h < 1 || w < 1) {
            throw new IllegalArgumentException("image shape must be positive, got " + channels + "x" + h + "x" + w);
        }
        Vectors.requireLength("image", planes, channels * h * w);
        Vectors.requireFinite("image", planes);
        if (halfWidth < 0 || halfWidth >= Math.min(h, w)) {
            throw new IllegalArgumentException("patch half-width must be in [0, " + (Math.min(h, w) - 1) + "], got " + halfWidth);
        }
        int p = halfWidth;
        int side = 2 * p + 1;
        int f = channels * side * side;
        float[] mask = new float[side * side];
        for (int dy = -p; dy <= p; dy++) {
            for (int dx = -p; dx <= p; dx++) {
                double m = maskSigma > 0 && Double.isFinite(maskSigma) ? Math.exp(-(dy * dy + dx * dx) / (2 * maskSigma * maskSigma)) : 1;
                mask[(dy + p) * side + dx + p] = (float) Math.sqrt(m);
            }
        }
        int[] rowIdx = reflected(h, p);
        int[] colIdx = reflected(w, p);
        float[] out = new float[h * w * f];
        Parallel.forRange(h, 8, (from, to) -> {
            for (int i = from; i < to; i++) {
                for (int j = 0; j < w; j++) {
                    int o = (i * w + j) * f;
                    for (int c = 0; c < channels; c++) {
                        int plane = c * h * w;
                        for (int dy = 0; dy < side; dy++) {
                            int row = plane + rowIdx[i + dy] * w;
                            for (int dx = 0; dx < side; dx++) {
                                out[o++] = planes[row + colIdx[j + dx]] * mask[dy * side + dx];
                            }
                        }
                    }
                }
            }
        });
        return out;
    }

    /** Feature width {@code channels·(2p+1)²}. */
    public static int width(int channels, int halfWidth) {
        return channels * (2 * halfWidth + 1) * (2 * halfWidth + 1);
    }

    /** {@code idx[t]} for t in [0, n + 2p): the reflected index of position t − p. */
    private static int[] reflected(int n, int p) {
        int[] idx = new int[n + 2 * p];
        for (int t = 0; t < idx.length; t++) {
            int v = t - p;
            if (v < 0) {
                v = -v;
            }
            if (v >= n) {
                v = 2 * (n - 1) - v;
            }
            idx[t] = Math.max(0, Math.min(n - 1, v));
        }
        return idx;
    }

    /**
     * The image with, per channel, a texture-energy channel appended: {@code weight} times the local
     * standard deviation over a {@code (2r+1)²} box (reflected border). Patch features of the result
     * see texture contrast as well as intensity — raw patches alone cannot tell apart textures of
     * equal brightness whose fine structure does not align between patches.
     *
     * @return {@code 2·channels × h × w} planes
     */
    public static float[] withLocalDeviation(float[] planes, int channels, int h, int w, int radius, double weight) {
        Vectors.requireLength("image", planes, channels * h * w);
        int n = h * w;
        float[] out = new float[2 * channels * n];
        System.arraycopy(planes, 0, out, 0, channels * n);
        int[] rowIdx = reflected(h, radius);
        int[] colIdx = reflected(w, radius);
        int side = 2 * radius + 1;
        double count = side * side;
        for (int c = 0; c < channels; c++) {
            int plane = c * n;
            int dst = (channels + c) * n;
            Parallel.forRange(h, 8, (from, to) -> {
                for (int i = from; i < to; i++) {
                    for (int j = 0; j < w; j++) {
                        double s = 0;
                        double s2 = 0;
                        for (int dy = 0; dy < side; dy++) {
                            int row = plane + rowIdx[i + dy] * w;
                            for (int dx = 0; dx < side; dx++) {
                                double v = planes[row + colIdx[j + dx]];
                                s += v;
                                s2 += v * v;
                            }
                        }
                        double mean = s / count;
                        out[dst + i * w + j] = (float) (weight * Math.sqrt(Math.max(0, s2 / count - mean * mean)));
                    }
                }
            });
        }
        return out;
    }
}
