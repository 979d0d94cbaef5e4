/** Data sets and generators: in-memory tables and the planted-dictionary benchmark. */
package io.proxstream.solvers.data;
