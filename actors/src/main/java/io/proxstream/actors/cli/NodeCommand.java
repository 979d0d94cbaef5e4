package io.proxstream.actors.cli;

import io.proxstream.actors.cluster.ClusterNode;
import io.proxstream.actors.cluster.DataParallelPam;
import io.proxstream.monitoring.ClusterMeters;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.MetricsServer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;

/** {@code proxstream node}: one member of a training cluster (see {@link ClusterNode}). */
final class NodeCommand {
    private NodeCommand() {
    }

    static Flags flags() {
        Flags f = new Flags("node");
        f.value("role", "R", "coordinator | worker | coordinator,worker (default worker)");
        f.value("host", "H", "this node's address (default 127.0.0.1)");
        f.value("port", "P", "this node's Artery TCP port (default 2552)");
        f.value("seed", "HOST:PORT", "seed nodes, comma separated (default: this node)");
        f.value("out", "DIR", "coordinator: checkpoints and summary.json; give coordinator-capable nodes the same shared "
                + "directory (default runs/cluster)");
        f.value("metrics-port", "P", "serve /metrics and /health on this port (0 = any; default: off)");
        f.value("down-after", "MS", "unreachable members are downed after MS (split-brain resolver; default 5000)");
        f.value("dim", "D", "coordinator: input width of the synthetic stream (default 64)");
        f.value("features", "F", "coordinator: planted features (default 128)");
        f.value("latents", "L", "coordinator: SAE latents (default 256)");
        f.value("k", "K", "coordinator: TopK (default 8)");
        f.value("shards", "S", "coordinator: data shards (default 6)");
        f.value("batch", "B", "coordinator: minibatch rows (default 256)");
        f.value("batches-per-shard", "N", "coordinator: minibatches per shard per round (default 2)");
        f.value("rows", "N", "coordinator: rows to train on (default 1000000)");
        f.value("checkpoint-every", "R", "coordinator: rounds between checkpoints (default 10)");
        f.value("round-timeout", "MS", "coordinator: a round completes without workers slower than this (default 10000)");
        f.value("min-workers", "N", "coordinator: workers the first round waits for (default 1)");
        f.value("algo", "A", "coordinator: pam (PAM-SGD, default) or adam (the untied Adam baseline, parameters averaged)");
        f.value("random-seed", "S", "coordinator: seed of data and initialisation (default 42)");
        return f;
    }

    static DataParallelPam.Config training(Flags.Parsed p) {
        return new DataParallelPam.Config(Integer.parseInt(p.get("dim", "64")), Integer.parseInt(p.get("features", "128")),
                Integer.parseInt(p.get("latents", "256")), Integer.parseInt(p.get("k", "8")), Integer.parseInt(p.get("shards", "6")),
                Integer.parseInt(p.get("batch", "256")), Integer.parseInt(p.get("batches-per-shard", "2")),
                Long.parseLong(p.get("rows", "1000000")), Integer.parseInt(p.get("checkpoint-every", "10")),
                Long.parseLong(p.get("round-timeout", "10000")), Integer.parseInt(p.get("min-workers", "1")),
                Long.parseLong(p.get("random-seed", "42")), p.get("algo", "pam"));
    }

    static int run(List<String> args, PrintStream out) throws Exception {
        Flags flags = flags();
        Flags.Parsed p = flags.parse(args);
        if (p.has("help")) {
            out.print(flags.help("proxstream node [options]", """
                    Starts a member of a Pekko cluster that trains a TopK SAE by data-parallel PAM-SGD on the
                    synthetic planted-dictionary stream: the coordinator (a cluster singleton on a node with
                    role coordinator) runs synchronous rounds; workers run the encoder steps and decoder
                    statistics of their data shards. Start the seed node first. The node runs until stopped
                    (Ctrl-C leaves the cluster gracefully); the coordinator prints "training finished" and
                    writes summary.json. Training flags are read by the coordinator only."""));
            return 0;
        }
        List<String> roles = Arrays.stream(p.get("role", "worker").split(",")).map(String::trim).toList();
        for (String r : roles) {
            if (!r.equals("coordinator") && !r.equals("worker")) {
                throw new Flags.UsageException("unknown role '" + r + "'; use coordinator, worker or coordinator,worker");
            }
        }
        String host = p.get("host", "127.0.0.1");
        int port = Integer.parseInt(p.get("port", "2552"));
        List<String> seeds = Arrays.stream(p.get("seed", host + ":" + port).split(",")).map(String::trim).toList();
        for (String s : seeds) {
            if (!s.matches("[^:]+:\\d+")) {
                throw new Flags.UsageException("seed node '" + s + "' is not HOST:PORT");
            }
        }
        DataParallelPam.Config training = training(p);
        Path dir = Path.of(p.get("out", "runs/cluster"));
        Files.createDirectories(dir);
        Meters meters = new Meters();
        ClusterMeters cm = new ClusterMeters(meters.registry(), host + ":" + port);
        ActorSystem<Void> system = ClusterNode.start(ClusterNode.config(host, port, seeds, roles,
                Duration.ofMillis(Long.parseLong(p.get("down-after", "5000")))), roles, training, dir, cm);
        if (p.has("metrics-port")) {
            var binding = MetricsServer.bind(system, host, Integer.parseInt(p.get("metrics-port", "0")),
                    new MetricsServer(meters, Map::of).routes()).toCompletableFuture().get(30, TimeUnit.SECONDS);
            out.println("proxstream node: metrics http://" + host + ":" + binding.localAddress().getPort() + "/metrics");
        }
        out.println("proxstream node: " + String.join(",", roles) + " at " + host + ":" + port + ", seeds " + seeds);
        out.flush();
        system.getWhenTerminated().toCompletableFuture().get();
        return 0;
    }
}
