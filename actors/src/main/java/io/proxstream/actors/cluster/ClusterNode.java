package io.proxstream.actors.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.proxstream.monitoring.ClusterMeters;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;

/**
 * One node of a training cluster: a Pekko Cluster member over Artery TCP with roles
 * {@code coordinator} (may host the coordinator singleton) and/or {@code worker} (runs a
 * {@link Worker}). Membership by seed nodes; the split-brain resolver (keep-majority) downs
 * unreachable members after {@code downAfter}; a JVM shutdown leaves the cluster gracefully
 * (coordinated shutdown), so the singleton hands over to the oldest other coordinator-capable node.
 */
public final class ClusterNode {
    public static final String SYSTEM = "proxstream";

    private ClusterNode() {
    }

    /** The cluster configuration of a node (on top of the application's). */
    public static Config config(String host, int port, List<String> seeds, List<String> roles, Duration downAfter) {
        String seedList = seeds.stream().map(s -> "\"pekko://" + SYSTEM + "@" + s + "\"").collect(Collectors.joining(", "));
        String roleList = roles.stream().map(r -> "\"" + r + "\"").collect(Collectors.joining(", "));
        long ms = downAfter.toMillis();
        String conf = String.format(Locale.ROOT, """
                pekko.actor.provider = cluster
                pekko.actor.serialization-bindings { "io.proxstream.actors.cluster.CborSerializable" = jackson-cbor }
                pekko.remote.artery.canonical.hostname = "%s"
                pekko.remote.artery.canonical.port = %d
                pekko.cluster.seed-nodes = [%s]
                pekko.cluster.roles = [%s]
                pekko.cluster.downing-provider-class = "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"
                pekko.cluster.split-brain-resolver.active-strategy = keep-majority
                pekko.cluster.split-brain-resolver.stable-after = %dms
                pekko.cluster.failure-detector.acceptable-heartbeat-pause = %dms
                pekko.cluster.jmx.enabled = off
                pekko.cluster.log-info-verbose = off
                pekko.coordinated-shutdown.run-by-jvm-shutdown-hook = on
                pekko.cluster.singleton.hand-over-retry-interval = 500ms
                """, host, port, seedList, roleList, ms, Math.max(1000, ms / 2));
        return ConfigFactory.parseString(conf).withFallback(ConfigFactory.load());
    }

    /** Starts a node; the coordinator singleton writes checkpoints and the summary under {@code out}. */
    public static ActorSystem<Void> start(Config config, List<String> roles, DataParallelPam.Config training, Path out,
                                          ClusterMeters meters) {
        Behavior<Void> guardian = Behaviors.setup(ctx -> {
            String self = Cluster.get(ctx.getSystem()).selfMember().address().hostPort();
            if (roles.contains("worker")) {
                ctx.spawn(Worker.create(self, meters), "worker");
            }
            ClusterSingleton.get(ctx.getSystem()).init(SingletonActor.of(Coordinator.create(training, out, meters), "coordinator")
                    .withSettings(ClusterSingletonSettings.create(ctx.getSystem()).withRole("coordinator")));
            Cluster cluster = Cluster.get(ctx.getSystem());
            ctx.getSystem().scheduler().scheduleAtFixedRate(Duration.ofSeconds(1), Duration.ofSeconds(1), () -> {
                int up = 0;
                for (var m : cluster.state().getMembers()) {
                    if (m.status() == MemberStatus.up()) {
                        up++;
                    }
                }
                meters.members(up);
            }, ctx.getExecutionContext());
            return Behaviors.empty();
        });
        return ActorSystem.create(guardian, SYSTEM, config);
    }

    /** {@code n} TCP ports free at the time of asking (for nodes started on one machine). */
    public static int[] freePorts(int n) throws IOException {
        int[] out = new int[n];
        List<ServerSocket> open = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0);
                open.add(s);
                out[i] = s.getLocalPort();
            }
        } finally {
            for (ServerSocket s : open) {
                s.close();
            }
        }
        return out;
    }
}
