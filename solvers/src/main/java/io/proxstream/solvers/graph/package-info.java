/**
 * Segmentation on graphs (spec/graph.md): patch features of images, Nyström-QR eigenpairs of the
 * normalised graph Laplacian without forming the n × n matrix, fidelity-forced graph MBO and SDIE,
 * and the joint reconstruction-segmentation scheme with its sequential baseline.
 */
package io.proxstream.solvers.graph;
