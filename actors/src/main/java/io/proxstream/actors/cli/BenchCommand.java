package io.proxstream.actors.cli;

import io.proxstream.actors.bench.IngestBench;
import io.proxstream.actors.bench.GraphBench;
import io.proxstream.actors.bench.RadonBench;
import io.proxstream.actors.bench.SaeBench;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/** {@code proxstream bench NAME}: benchmarks that print their setting, hardware and comparisons. */
final class BenchCommand {
    private BenchCommand() {
    }

    static int run(List<String> args, PrintStream out) throws Exception {
        Flags flags = new Flags("bench").option("quick", "shorter timings (for CI smoke runs)");
        Flags.Parsed p = flags.parse(args);
        if (p.has("help") || p.positionals().isEmpty()) {
            out.print(flags.help("proxstream bench sae|ingest|radon|graph|cluster [--quick]", """
                    Benchmarks. Available: sae (SAE training kernels, decoder statistics and solve,
                    the training stream against a plain loop, at the MNIST and a transformer shape);
                    ingest (serve's HTTP and TCP ingest into a discarding and a training run, against
                    the in-process stream); radon (ray transform forward/adjoint at 128² and 256², TV-PDHG
                    iterations per second); graph (patch graph, Nystrom-QR eigenpairs and MBO on a 256x256
                    colour image, one joint run); cluster (data-parallel PAM-SGD with 1, 2, 3 worker JVMs,
                    bytes per round, a scaling model for N machines). Run on an otherwise idle machine."""));
            return p.has("help") ? 0 : 2;
        }
        String name = p.positionals().get(0);
        if (!List.of("sae", "ingest", "radon", "graph", "cluster").contains(name)) {
            throw new Flags.UsageException("unknown benchmark '" + name + "'; available: sae, ingest, radon, graph, cluster");
        }
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "proxstream-bench");
        try {
            switch (name) {
                case "sae" -> new SaeBench(system, p.has("quick"), out).run();
                case "ingest" -> new IngestBench(system, p.has("quick"), out).run();
                case "graph" -> new GraphBench(p.has("quick"), out).run();
                case "cluster" -> new io.proxstream.actors.bench.ClusterBench(p.has("quick"), out).run();
                default -> new RadonBench(p.has("quick"), out).run();
            }
            return 0;
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
