package io.proxstream.solvers.inverse;

/**
 * Image quality against a reference, with the definitions of scikit-image
 * ({@code peak_signal_noise_ratio}, {@code structural_similarity} with its defaults): the data
 * range is max − min of the reference; SSIM uses a 7×7 uniform window with reflected borders,
 * K1 = 0.01, K2 = 0.03, sample (N−1) covariances, and averages the SSIM map over the interior
 * (3 pixels cropped from each side) (Wang et al., "Image quality assessment: from error visibility
 * to structural similarity", IEEE TIP 2004).
 */
public final class ImageMetrics {
    private ImageMetrics() {
    }

    private static void check(float[] truth, float[] x, int h, int w) {
        Vectors.requireLength("reference image", truth, h * w);
        Vectors.requireLength("image", x, h * w);
        Vectors.requireFinite("reference image", truth);
        Vectors.requireFinite("image", x);
    }

    /** max − min of the reference. */
    public static double dataRange(float[] truth) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (float v : truth) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        return hi - lo;
    }

    /** 10 log10(range² / MSE) in dB (+∞ for identical images). */
    public static double psnr(float[] truth, float[] x) {
        Vectors.requireLength("image", x, truth.length);
        double mse = 0;
        for (int i = 0; i < truth.length; i++) {
            double d = (double) truth[i] - x[i];
            mse += d * d;
        }
        mse /= truth.length;
        double range = dataRange(truth);
        return 10 * Math.log10(range * range / mse);
    }

    /** ‖x − truth‖ / ‖truth‖. */
    public static double relativeError(float[] truth, float[] x) {
        return Vectors.distance(truth, x) / Vectors.norm(truth);
    }

    /** Mean SSIM of {@code h × w} images (both at least 7×7). */
    public static double ssim(float[] truth, float[] x, int h, int w) {
        check(truth, x, h, w);
        int win = 7;
        if (h < win || w < win) {
            throw new IllegalArgumentException("SSIM needs images of at least 7x7, got " + h + "x" + w);
        }
        double range = dataRange(truth);
        double c1 = Math.pow(0.01 * range, 2);
        double c2 = Math.pow(0.03 * range, 2);
        int np = win * win;
        double cov = np / (double) (np - 1);
        double[] ux = boxMean(truth, h, w, win, false, null);
        double[] uy = boxMean(x, h, w, win, false, null);
        double[] uxx = boxMean(truth, h, w, win, true, truth);
        double[] uyy = boxMean(x, h, w, win, true, x);
        double[] uxy = boxMean(truth, h, w, win, true, x);
        int pad = (win - 1) / 2;
        double sum = 0;
        int count = 0;
        for (int i = pad; i < h - pad; i++) {
            for (int j = pad; j < w - pad; j++) {
                int p = i * w + j;
                double vx = cov * (uxx[p] - ux[p] * ux[p]);
                double vy = cov * (uyy[p] - uy[p] * uy[p]);
                double vxy = cov * (uxy[p] - ux[p] * uy[p]);
                double s = (2 * ux[p] * uy[p] + c1) * (2 * vxy + c2)
                        / ((ux[p] * ux[p] + uy[p] * uy[p] + c1) * (vx + vy + c2));
                sum += s;
                count++;
            }
        }
        return sum / count;
    }

    /** Local means over a win×win window with reflected borders (of a·b when {@code product}). */
    private static double[] boxMean(float[] a, int h, int w, int win, boolean product, float[] b) {
        int r = win / 2;
        double[] out = new double[h * w];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                double s = 0;
                for (int u = -r; u <= r; u++) {
                    int ii = reflect(i + u, h);
                    for (int v = -r; v <= r; v++) {
                        int jj = reflect(j + v, w);
                        int q = ii * w + jj;
                        s += product ? (double) a[q] * b[q] : a[q];
                    }
                }
                out[i * w + j] = s / (win * win);
            }
        }
        return out;
    }

    /** scipy.ndimage 'reflect' (half-sample symmetric): ... 1 0 | 0 1 2 ... n−1 | n−1 n−2 ... */
    static int reflect(int i, int n) {
        while (i < 0 || i >= n) {
            i = i < 0 ? -i - 1 : 2 * n - i - 1;
        }
        return i;
    }
}
