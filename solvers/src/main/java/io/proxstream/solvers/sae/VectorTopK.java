package io.proxstream.solvers.sae;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The block scan of {@link TopKHeaps} a vector at a time (the JDK's incubating vector API, 256-bit vectors of 8 floats on
 * every CPU, the species of {@code VecSimd}). Loaded only when {@link TopKHeaps#VECTOR} holds. One species for the whole
 * process matters more than the widest: with this scan at 512 bits beside the 256-bit kernels of the decode and the
 * backward, C2's type profiles of the vector API's shared code saw both vector classes, and after a few training steps
 * the selection ran at half speed (its chunk-maxima pass 54 against 17 ms at 4 096 × 16 384, the trainer's whole
 * selection 80 against 45 ms; measured on an AVX-512 host in alternating JVMs). Once a row's heap is full almost
 * no key beats its root, so the scan is a compare of each vector against the root; a vector that holds a larger key goes
 * through the scalar loop, which keeps the order of the heap operations (and so the result) of the scalar scan.
 */
final class VectorTopK {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_256;

    private VectorTopK() {
    }

    static float scan(TopKHeaps h, int o, float[] s, int from, int to, int c0, boolean abs, float root) {
        int j = from;
        int lanes = S.length();
        int head = Math.min(to, from + Math.floorMod(-from, lanes));
        root = h.scan(o, s, j, head, c0, abs, root);
        j = head;
        int end = to - lanes;
        if (abs) {
            for (; j <= end; j += lanes) {
                if (FloatVector.fromArray(S, s, j).abs().compare(VectorOperators.GT, root).anyTrue()) {
                    root = h.scan(o, s, j, j + lanes, c0, true, root);
                }
            }
        } else {
            for (; j <= end; j += lanes) {
                if (FloatVector.fromArray(S, s, j).compare(VectorOperators.GT, root).anyTrue()) {
                    root = h.scan(o, s, j, j + lanes, c0, false, root);
                }
            }
        }
        return h.scan(o, s, j, to, c0, abs, root);
    }

    /** Keys per chunk of {@link TopKHeaps#selectRow}: four vectors. */
    static int chunk() {
        return 4 * S.length();
    }

    /**
     * {@link TopKHeaps#chunkMaxima} a vector at a time (lane-wise maxima of four vectors, then across the lanes). The
     * magnitude and the signed cases are separate loops: a vector assigned on one branch only is boxed where the branches
     * meet (JDK 17's C2), which made the scan several times slower.
     */
    static float chunkMaxima(float[] s, int chunks, boolean abs, float[] out) {
        return abs ? chunkMaximaAbs(s, chunks, out) : chunkMaximaSigned(s, chunks, out);
    }

    /**
     * {@link #chunkMaxima} after {@code s[j] += bias[j]} over the chunks, in the same pass (a row read once instead of
     * twice); {@code bias} null is {@link #chunkMaxima}.
     */
    static float chunkMaxima(float[] s, float[] bias, int chunks, boolean abs, float[] out) {
        if (bias == null) {
            return chunkMaxima(s, chunks, abs, out);
        }
        return abs ? chunkMaximaAbsBiased(s, bias, chunks, out) : chunkMaximaSignedBiased(s, bias, chunks, out);
    }

    // The loads, adds and stores are written out in each loop, not in a helper that returns a vector: C2 did not always
    // inline such a helper ("callee uses too much stack"), and a vector that crosses a call is boxed — the biased pass
    // then took 40 ms a step instead of 6 at 4 096 × 16 384 (measured after a few training steps had compiled it).
    private static float chunkMaximaSignedBiased(float[] s, float[] bias, int chunks, float[] out) {
        int lanes = S.length();
        float all = Float.NEGATIVE_INFINITY;
        for (int c = 0, j = 0; c < chunks; c++, j += 4 * lanes) {
            FloatVector v0 = FloatVector.fromArray(S, bias, j).add(FloatVector.fromArray(S, s, j));
            FloatVector v1 = FloatVector.fromArray(S, bias, j + lanes).add(FloatVector.fromArray(S, s, j + lanes));
            FloatVector v2 = FloatVector.fromArray(S, bias, j + 2 * lanes).add(FloatVector.fromArray(S, s, j + 2 * lanes));
            FloatVector v3 = FloatVector.fromArray(S, bias, j + 3 * lanes).add(FloatVector.fromArray(S, s, j + 3 * lanes));
            v0.intoArray(s, j);
            v1.intoArray(s, j + lanes);
            v2.intoArray(s, j + 2 * lanes);
            v3.intoArray(s, j + 3 * lanes);
            float mx = v0.max(v1).max(v2.max(v3)).reduceLanes(VectorOperators.MAX);
            out[c] = mx;
            all = Math.max(all, mx);
        }
        return all;
    }

    private static float chunkMaximaAbsBiased(float[] s, float[] bias, int chunks, float[] out) {
        int lanes = S.length();
        float all = Float.NEGATIVE_INFINITY;
        for (int c = 0, j = 0; c < chunks; c++, j += 4 * lanes) {
            FloatVector v0 = FloatVector.fromArray(S, bias, j).add(FloatVector.fromArray(S, s, j));
            FloatVector v1 = FloatVector.fromArray(S, bias, j + lanes).add(FloatVector.fromArray(S, s, j + lanes));
            FloatVector v2 = FloatVector.fromArray(S, bias, j + 2 * lanes).add(FloatVector.fromArray(S, s, j + 2 * lanes));
            FloatVector v3 = FloatVector.fromArray(S, bias, j + 3 * lanes).add(FloatVector.fromArray(S, s, j + 3 * lanes));
            v0.intoArray(s, j);
            v1.intoArray(s, j + lanes);
            v2.intoArray(s, j + 2 * lanes);
            v3.intoArray(s, j + 3 * lanes);
            float mx = v0.abs().max(v1.abs()).max(v2.abs().max(v3.abs())).reduceLanes(VectorOperators.MAX);
            out[c] = mx;
            all = Math.max(all, mx);
        }
        return all;
    }

    private static float chunkMaximaSigned(float[] s, int chunks, float[] out) {
        int lanes = S.length();
        float all = Float.NEGATIVE_INFINITY;
        for (int c = 0, j = 0; c < chunks; c++, j += 4 * lanes) {
            FloatVector a = FloatVector.fromArray(S, s, j).max(FloatVector.fromArray(S, s, j + lanes));
            FloatVector b = FloatVector.fromArray(S, s, j + 2 * lanes).max(FloatVector.fromArray(S, s, j + 3 * lanes));
            float mx = a.max(b).reduceLanes(VectorOperators.MAX);
            out[c] = mx;
            all = Math.max(all, mx);
        }
        return all;
    }

    private static float chunkMaximaAbs(float[] s, int chunks, float[] out) {
        int lanes = S.length();
        float all = Float.NEGATIVE_INFINITY;
        for (int c = 0, j = 0; c < chunks; c++, j += 4 * lanes) {
            FloatVector a = FloatVector.fromArray(S, s, j).abs().max(FloatVector.fromArray(S, s, j + lanes).abs());
            FloatVector b = FloatVector.fromArray(S, s, j + 2 * lanes).abs().max(FloatVector.fromArray(S, s, j + 3 * lanes).abs());
            float mx = a.max(b).reduceLanes(VectorOperators.MAX);
            out[c] = mx;
            all = Math.max(all, mx);
        }
        return all;
    }

    /** {@link TopKHeaps#candidates} over a whole row, skipping a vector at a time the keys below {@code t}. */
    static int candidates(TopKHeaps h, int o, float[] s, int m, boolean abs, float t) {
        int lanes = S.length();
        int have = 0;
        int j = 0;
        int end = m - lanes;
        if (abs) {
            for (; j <= end; j += lanes) {
                if (FloatVector.fromArray(S, s, j).abs().compare(VectorOperators.GE, t).anyTrue()) {
                    have = h.candidates(o, s, j, j + lanes, true, t, have);
                }
            }
        } else {
            for (; j <= end; j += lanes) {
                if (FloatVector.fromArray(S, s, j).compare(VectorOperators.GE, t).anyTrue()) {
                    have = h.candidates(o, s, j, j + lanes, false, t, have);
                }
            }
        }
        return h.candidates(o, s, j, m, abs, t, have);
    }
}
