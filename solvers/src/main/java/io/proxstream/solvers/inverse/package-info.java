/**
 * Variational reconstruction: linear operators (ray transform, blur, gradient) with matched
 * adjoints, functionals with proximal maps, PDHG and primal-dual solvers, gradient descent, FBP,
 * image metrics and phantoms. References: Chambolle and Pock, JMIV 2011; Condat, JOTA 2013;
 * Shumaylov, Budd, Mukherjee, Schönlieb, "Weakly convex regularisers for inverse problems", ICML
 * 2024 (arXiv 2402.01052).
 */
package io.proxstream.solvers.inverse;
