package io.proxstream.actors.cli;

import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The options every cluster member has, in {@code node} and in {@code serve --cluster} (a picocli mixin): its roles, the
 * seed nodes, downing, the per-run ingest queue and acknowledgement wait, and the cluster transport's trust store.
 */
final class ClusterOptions {
    @Option(names = "--role", paramLabel = "R", split = ",", completionCandidates = NodeCommand.Roles.class,
            converter = NodeCommand.Roles.class, description = "coordinator | worker | coordinator,worker (default: worker for node,"
            + " coordinator,worker for serve --cluster)")
    List<String> roles;

    /** The roles given, or {@code fallback}. */
    List<String> roles(List<String> fallback) {
        return roles == null ? fallback : roles;
    }

    @Option(names = "--seed", paramLabel = "HOST:PORT", split = ",", description = "seed nodes' cluster ports, comma separated"
            + " (default: this node)")
    List<String> seeds;

    @Option(names = "--down-after", paramLabel = "MS", defaultValue = "5000", description = "unreachable members are downed after MS"
            + " (split-brain resolver; default: ${DEFAULT-VALUE})")
    long downAfter;

    @Option(names = "--ingest-queue-mb", paramLabel = "MB", defaultValue = "256", description = "rows a live run holds on this node"
            + " until they are trained (MiB); a full queue answers 503 with Retry-After (default: ${DEFAULT-VALUE})")
    long ingestQueueMb;

    @Option(names = "--ack-timeout", paramLabel = "MS", defaultValue = "600000", description = "longest wait of a push with"
            + " X-Ack: trained before it is answered 504 (default: ${DEFAULT-VALUE})")
    long ackTimeout;

    @Option(names = "--tls-truststore", paramLabel = "FILE", description = "PKCS12 store of the certificates this node's cluster"
            + " transport trusts (default: the key store, for a key shared by the cluster's nodes)")
    Path tlsTrustStore;

    /** The seed nodes, checked (HOST:PORT each); this node's own address when none are given. */
    List<String> seedNodes(CommandLine cmd, String self) {
        List<String> out = seeds == null ? List.of(self) : seeds.stream().map(String::trim).toList();
        for (String s : out) {
            if (!s.matches("[^:]+:\\d+")) {
                throw new CommandLine.ParameterException(cmd, "seed node '" + s + "' is not HOST:PORT");
            }
        }
        return out;
    }

    /** The ingest queue in bytes, checked against its range and against this JVM's heap (at most half of it). */
    long queueBytes(CommandLine cmd) {
        if (ingestQueueMb < 1 || ingestQueueMb > (1L << 20)) {
            throw new CommandLine.ParameterException(cmd, "--ingest-queue-mb must be 1 .. 1048576, got " + ingestQueueMb);
        }
        long heap = Runtime.getRuntime().maxMemory();
        if ((ingestQueueMb << 20) > heap / 2) {
            throw new CommandLine.ParameterException(cmd, String.format(java.util.Locale.ROOT, "--ingest-queue-mb %d does not fit"
                    + " beside training in this JVM's heap of %d MiB (at most half of it); give a smaller queue or more heap"
                    + " (JAVA_OPTS=-Xmx...)", ingestQueueMb, heap >> 20));
        }
        return ingestQueueMb << 20;
    }
}
