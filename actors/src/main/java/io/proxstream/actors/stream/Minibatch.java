package io.proxstream.actors.stream;

/**
 * Exactly {@code rows} validated training rows (the last minibatch of a finite stream may be
 * shorter than the configured size).
 *
 * @param x    row-major values; owned by the minibatch once emitted
 * @param rows number of rows
 * @param cols width
 */
public record Minibatch(float[] x, int rows, int cols) {
}
