/** Facts about the BLAS in use, for benchmarks and logs. */
package io.proxstream.solvers.blas;
