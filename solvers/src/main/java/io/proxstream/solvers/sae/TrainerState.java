package io.proxstream.solvers.sae;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a trainer needs to continue exactly where it stopped: parameters, optimiser moments,
 * decoder statistics, anchors and counters, as named arrays (copies, independent of the trainer).
 * Checkpoints store it; {@link SaeTrainer#restore} loads it into a trainer of the same kind and
 * shape.
 *
 * @param algorithm the trainer's {@link SaeTrainer#algorithm()}
 * @param floats    float arrays by name
 * @param doubles   double arrays by name
 * @param longs     long arrays and counters by name
 */
public record TrainerState(String algorithm, Map<String, float[]> floats, Map<String, double[]> doubles,
                           Map<String, long[]> longs) {
    public TrainerState {
        Objects.requireNonNull(algorithm, "algorithm");
        floats = Map.copyOf(floats);
        doubles = Map.copyOf(doubles);
        longs = Map.copyOf(longs);
    }

    /** A mutable builder. */
    public static final class Builder {
        private final String algorithm;
        private final Map<String, float[]> floats = new LinkedHashMap<>();
        private final Map<String, double[]> doubles = new LinkedHashMap<>();
        private final Map<String, long[]> longs = new LinkedHashMap<>();

        public Builder(String algorithm) {
            this.algorithm = algorithm;
        }

        /** Adds a copy of {@code a}. */
        public Builder put(String name, float[] a) {
            floats.put(name, a.clone());
            return this;
        }

        /** Adds a copy of {@code a}. */
        public Builder put(String name, double[] a) {
            doubles.put(name, a.clone());
            return this;
        }

        public Builder put(String name, long... a) {
            longs.put(name, a.clone());
            return this;
        }

        public TrainerState build() {
            return new TrainerState(algorithm, floats, doubles, longs);
        }
    }

    /** Copies the named float array into {@code into} (same length). */
    public void copy(String name, float[] into) {
        float[] a = floats.get(name);
        if (a == null) {
            throw new IllegalArgumentException("state lacks '" + name + "'");
        }
        if (a.length != into.length) {
            throw new IllegalArgumentException("state '" + name + "' has " + a.length + " values, expected " + into.length);
        }
        System.arraycopy(a, 0, into, 0, a.length);
    }

    /** Copies the named double array into {@code into} (same length). */
    public void copy(String name, double[] into) {
        double[] a = doubles.get(name);
        if (a == null) {
            throw new IllegalArgumentException("state lacks '" + name + "'");
        }
        if (a.length != into.length) {
            throw new IllegalArgumentException("state '" + name + "' has " + a.length + " values, expected " + into.length);
        }
        System.arraycopy(a, 0, into, 0, a.length);
    }

    /** The named counter (a one-element long array). */
    public long counter(String name) {
        long[] a = longs.get(name);
        if (a == null || a.length != 1) {
            throw new IllegalArgumentException("state lacks counter '" + name + "'");
        }
        return a[0];
    }

    /** Checks that the state belongs to {@code algorithm}. */
    public void requireAlgorithm(String expected) {
        if (!algorithm.equals(expected)) {
            throw new IllegalArgumentException("state of a '" + algorithm + "' trainer cannot restore a '" + expected + "' trainer");
        }
    }
}
