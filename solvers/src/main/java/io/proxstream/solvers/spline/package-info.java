/**
 * The spline-theory toolkit of the SplInterp paper: the k-means autoencoder (piecewise constant on
 * Voronoi cells), the k-means + local-PCA autoencoder (piecewise affine), and pictures of the
 * power diagrams of TopK SAEs.
 */
package io.proxstream.solvers.spline;
