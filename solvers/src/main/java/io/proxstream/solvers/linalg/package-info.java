/** Dense linear-algebra helpers: vector kernels on float arrays and LAPACK solves in double. */
package io.proxstream.solvers.linalg;
