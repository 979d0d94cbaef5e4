/**
 * Sparse autoencoders: the model and its sparsifiers, the sparse training kernel, Adam, the decoder
 * statistics and closed-form decoder step, the PAM-SGD and Adam trainers, metrics, and the
 * power-diagram geometry of TopK SAEs. References: Budd et al., "SplInterp: Improving our
 * Understanding and Training of Sparse Autoencoders", arXiv 2505.11836 (PAM-SGD, power diagrams);
 * Gao et al., "Scaling and evaluating sparse autoencoders", arXiv 2406.04093 (TopK SAEs).
 */
package io.proxstream.solvers.sae;
