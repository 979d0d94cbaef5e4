/** A small dedicated compute pool and range-splitting loops used by the numerical kernels. */
package io.proxstream.solvers.parallel;
