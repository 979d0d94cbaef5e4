package io.proxstream.actors.cluster;

/**
 * Marks the messages that cross nodes: Pekko serialises them with Jackson CBOR (bound in the
 * cluster configuration, {@link ClusterNode#config}). Parameters and statistics travel as byte
 * arrays (CBOR byte strings: raw little-endian floats and doubles), split into {@link Chunks}.
 */
public interface CborSerializable {
}
