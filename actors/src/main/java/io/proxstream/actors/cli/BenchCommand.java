package io.proxstream.actors.cli;

import io.proxstream.actors.bench.IngestBench;
import io.proxstream.actors.bench.GraphBench;
import io.proxstream.actors.bench.RadonBench;
import io.proxstream.actors.bench.SaeBench;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/** {@code proxstream bench NAME}: benchmarks that print their setting, hardware and comparisons. */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        header = "benchmarks: sae, ingest, radon, graph, cluster", usageHelpAutoWidth = true,
        description = {"Benchmarks. Available: sae (SAE training kernels, decoder statistics and solve, the training stream against"
                + " a plain loop, at the MNIST and a transformer shape); ingest (serve's HTTP and TCP ingest into a discarding and a"
                + " training run, against the in-process stream); radon (ray transform forward/adjoint at 128² and 256², TV-PDHG"
                + " iterations per second); graph (patch graph, Nystrom-QR eigenpairs and MBO on a 256x256 colour image, one joint"
                + " run); cluster (data-parallel PAM-SGD with 1, 2, 3 worker JVMs, bytes per round, a scaling model for N machines).",
            "Run on an otherwise idle machine.", ""})
final class BenchCommand implements Callable<Integer> {
    /** The benchmarks. */
    static final class Names extends Cli.OneOf {
        Names() {
            super(List.of("sae", "ingest", "radon", "graph", "cluster"));
        }
    }

    private final PrintStream out;

    @Parameters(paramLabel = "NAME", completionCandidates = Names.class, converter = Names.class,
            description = "one of ${COMPLETION-CANDIDATES}")
    String name;

    @Option(names = "--quick", description = "shorter timings (for CI smoke runs)")
    boolean quick;

    @Option(names = "--shape", paramLabel = "D,M,K,B", description = "sae: benchmark this shape (input width, latents, k, batch)"
            + " instead of the MNIST and transformer rows, e.g. --shape 768,16384,32,4096 (repeatable)")
    List<String> shapes = new java.util.ArrayList<>();

    @Option(names = "--model-only", paramLabel = "MS_PER_MB", description = "cluster: print only the scaling models at 768 -> 16384,"
            + " with the transport's cost per MB given (a namespace run of bench cluster measures it; 3.0 on a 2-core EPYC)")
    Double modelOnly;

    @Option(names = "--sharded-namespaces-only", description = "cluster: only the column-sharded round between three processes in"
            + " network namespaces at 10, 1 and 0.2 Gbit/s, with its model check (needs root and iproute2; a few minutes)")
    boolean shardedNamespacesOnly;

    BenchCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws Exception {
        if (!shapes.isEmpty() && !name.equals("sae")) {
            throw new Cli.UsageException("--shape applies to bench sae only");
        }
        shapes.forEach(SaeBench::parseShape);
        if (modelOnly != null && !name.equals("cluster")) {
            throw new Cli.UsageException("--model-only applies to bench cluster only");
        }
        if (shardedNamespacesOnly && (!name.equals("cluster") || modelOnly != null)) {
            throw new Cli.UsageException("--sharded-namespaces-only applies to bench cluster only, without --model-only");
        }
        io.proxstream.actors.bench.ClusterBench cluster = new io.proxstream.actors.bench.ClusterBench(quick, out);
        if (shardedNamespacesOnly) {
            cluster.shardedNamespacesOnly();
        }
        if (modelOnly != null) {
            try {
                cluster.modelOnly(modelOnly);
            } catch (IllegalArgumentException e) {
                throw new Cli.UsageException(e.getMessage());
            }
        }
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "proxstream-bench");
        try {
            switch (name) {
                case "sae" -> new SaeBench(system, quick, out, shapes.stream().map(SaeBench::parseShape).toList()).run();
                case "ingest" -> new IngestBench(system, quick, out).run();
                case "graph" -> new GraphBench(quick, out).run();
                case "cluster" -> cluster.run();
                default -> new RadonBench(quick, out).run();
            }
            return 0;
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
