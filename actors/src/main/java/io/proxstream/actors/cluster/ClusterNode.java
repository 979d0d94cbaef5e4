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
import java.util.LinkedHashMap;
import java.util.Map;
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

    /** The resource holding the cluster's settings (HOCON). */
    public static final String RESOURCE = "proxstream-cluster.conf";

    /**
     * TLS for the cluster transport (Artery {@code tls-tcp}), mutual: every node presents the key in {@code keyStore}
     * (PKCS12) and accepts peers whose certificate {@code trustStore} trusts; both stores open with {@code password}.
     * With one self-signed key shared by the cluster's nodes, the key store is its own trust store.
     */
    public record Tls(Path keyStore, Path trustStore, String password) {
        public Tls {
            java.util.Objects.requireNonNull(keyStore, "keyStore");
            java.util.Objects.requireNonNull(trustStore, "trustStore");
            java.util.Objects.requireNonNull(password, "password");
        }

        /**
         * The TLS of a node started with key store {@code keyStore}, trust store {@code trustStore} (null: the key store) and
         * the stores' password from {@code passwordFile} (null: the environment's {@code PROXSTREAM_TLS_PASSWORD}), both
         * stores opened once ({@link #check()}).
         */
        public static Tls open(Path keyStore, Path trustStore, String passwordFile, java.util.Map<String, String> env) {
            String password = io.proxstream.actors.serve.ServeTls.password(passwordFile, env, keyStore);
            Tls t = new Tls(keyStore, trustStore != null ? trustStore : keyStore, password);
            t.check();
            return t;
        }

        /**
         * Opens both stores once so that a wrong path or password is an error at start naming the file, not a handshake
         * that fails later on every connection.
         */
        public void check() {
            for (Path p : List.of(keyStore, trustStore)) {
                try (var in = java.nio.file.Files.newInputStream(p)) {
                    java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
                    ks.load(in, password.toCharArray());
                    if (ks.size() == 0) {
                        throw new IllegalArgumentException("TLS store " + p + " holds no key or certificate");
                    }
                } catch (IOException | java.security.GeneralSecurityException e) {
                    throw new IllegalArgumentException("TLS store " + p + " cannot be opened: " + e.getMessage(), e);
                }
            }
        }
    }

    /** The members with status Up, as this node sees them. */
    public static int membersUp(Cluster cluster) {
        int up = 0;
        for (var m : cluster.state().getMembers()) {
            if (m.status() == MemberStatus.up()) {
                up++;
            }
        }
        return up;
    }

    /** Whether {@code host} names loopback addresses only (a cluster on one machine). */
    public static boolean loopback(String host) {
        try {
            for (java.net.InetAddress a : java.net.InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return true;
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("node host '" + host + "' does not resolve: " + e.getMessage());
        }
    }

    /** The configuration of a node without TLS (loopback clusters, tests). */
    public static Config config(String host, int port, List<String> seeds, List<String> roles, Duration downAfter) {
        return config(host, port, seeds, roles, downAfter, null);
    }

    /**
     * The configuration of a node: this node's address, seeds, roles, downing times and TLS (from the command
     * line) over {@value #RESOURCE} over the application's configuration.
     */
    public static Config config(String host, int port, List<String> seeds, List<String> roles, Duration downAfter, Tls tls) {
        long ms = downAfter.toMillis();
        Map<String, Object> node = new LinkedHashMap<>();
        if (tls != null) {
            String ssl = "pekko.remote.artery.ssl.config-ssl-engine.";
            node.put("pekko.remote.artery.transport", "tls-tcp");
            node.put(ssl + "key-store", tls.keyStore().toAbsolutePath().toString());
            node.put(ssl + "trust-store", tls.trustStore().toAbsolutePath().toString());
            node.put(ssl + "key-store-password", tls.password());
            node.put(ssl + "key-password", tls.password());
            node.put(ssl + "trust-store-password", tls.password());
            node.put(ssl + "require-mutual-authentication", "on");
        }
        node.put("pekko.remote.artery.canonical.hostname", host);
        node.put("pekko.remote.artery.canonical.port", port);
        node.put("pekko.cluster.seed-nodes", seeds.stream().map(s -> "pekko://" + SYSTEM + "@" + s).toList());
        node.put("pekko.cluster.roles", roles);
        node.put("pekko.cluster.split-brain-resolver.stable-after", ms + "ms");
        node.put("pekko.cluster.failure-detector.acceptable-heartbeat-pause", Math.max(1000, ms / 2) + "ms");
        Config resource = ConfigFactory.parseResources(ClusterNode.class.getClassLoader(), RESOURCE);
        if (resource.isEmpty()) {
            throw new IllegalStateException("the cluster settings " + RESOURCE + " are missing from the classpath");
        }
        return ConfigFactory.parseMap(node, "proxstream node command line").withFallback(resource).withFallback(ConfigFactory.load())
                .resolve();
    }

    /** Starts a node; the coordinator singleton writes checkpoints and the summary under {@code out}. */
    public static ActorSystem<Void> start(Config config, List<String> roles, DataParallelPam.Config training, Path out,
                                          ClusterMeters meters) {
        return start(config, roles, training, out, meters, null);
    }

    /**
     * Starts a node whose worker also trains on {@code live}: the rows pushed to this node's ingest endpoint (null: none).
     */
    public static ActorSystem<Void> start(Config config, List<String> roles, DataParallelPam.Config training, Path out,
                                          ClusterMeters meters, LiveRows live) {
        return start(config, roles, training, out, meters, live, false);
    }

    /**
     * As {@link #start(Config, List, DataParallelPam.Config, Path, ClusterMeters, LiveRows)}; with {@code sharded}, the run is
     * column-sharded: the coordinator singleton is a {@link ShardedCoordinator} and a worker node runs a {@link ShardWorker}
     * (registered under {@link ShardedCoordinator#WORKERS}) instead of a {@link Worker}, which trains on {@code live} too.
     */
    public static ActorSystem<Void> start(Config config, List<String> roles, DataParallelPam.Config training, Path out,
                                          ClusterMeters meters, LiveRows live, boolean sharded) {
        if (sharded) {
            Behavior<Void> guardian = Behaviors.setup(ctx -> {
                var coordinator = ClusterSingleton.get(ctx.getSystem()).init(SingletonActor.of(ShardedCoordinator.create(training, out,
                        meters), "coordinator").withSettings(ClusterSingletonSettings.create(ctx.getSystem()).withRole("coordinator")));
                if (roles.contains("worker")) {
                    var w = ctx.spawn(ShardWorker.create(live, coordinator), "shard-worker");
                    ctx.getSystem().receptionist().tell(org.apache.pekko.actor.typed.receptionist.Receptionist.register(
                            ShardedCoordinator.WORKERS, w));
                }
                Cluster cluster = Cluster.get(ctx.getSystem());
                ctx.getSystem().scheduler().scheduleAtFixedRate(Duration.ofSeconds(1), Duration.ofSeconds(1),
                        () -> meters.members(membersUp(cluster)), ctx.getExecutionContext());
                return Behaviors.empty();
            });
            return ActorSystem.create(guardian, SYSTEM, config);
        }
        Behavior<Void> guardian = Behaviors.setup(ctx -> {
            String self = Cluster.get(ctx.getSystem()).selfMember().address().hostPort();
            var coordinator = ClusterSingleton.get(ctx.getSystem()).init(SingletonActor.of(Coordinator.create(training, out, meters),
                    "coordinator").withSettings(ClusterSingletonSettings.create(ctx.getSystem()).withRole("coordinator")));
            if (roles.contains("worker")) {
                ctx.spawn(Worker.create(self, meters, live, coordinator), "worker");
            }
            Cluster cluster = Cluster.get(ctx.getSystem());
            ctx.getSystem().scheduler().scheduleAtFixedRate(Duration.ofSeconds(1), Duration.ofSeconds(1),
                    () -> meters.members(membersUp(cluster)), ctx.getExecutionContext());
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
