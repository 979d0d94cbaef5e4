package io.proxstream.solvers.spline;

/**
 * The k-means autoencoder: encode = index of the nearest centroid, decode = that centroid.
 * Piecewise constant on the Voronoi cells of the centroids.
 */
public final class KMeansAutoencoder implements Autoencoder {
    private final float[] centroids;
    private final int k;
    private final int d;

    public KMeansAutoencoder(KMeans.Result clustering) {
        this.centroids = clustering.centroids().clone();
        this.k = clustering.k();
        this.d = clustering.dim();
    }

    @Override
    public int dim() {
        return d;
    }

    public int cells() {
        return k;
    }

    @Override
    public int cell(float[] x, int offset) {
        return KMeans.nearest(centroids, k, d, x, offset);
    }

    @Override
    public void reconstruct(float[] x, int offset, float[] out, int outOffset) {
        System.arraycopy(centroids, cell(x, offset) * d, out, outOffset, d);
    }
}
