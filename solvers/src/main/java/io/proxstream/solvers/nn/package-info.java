/**
 * A small neural-network layer set for the learned regularisers (spec/inverse.md): convolution,
 * dense, activations, spatial mean, parameters, initialisers, Adam and RMSprop; forward and
 * gradients with respect to inputs and parameters, all checked against finite differences.
 */
package io.proxstream.solvers.nn;
