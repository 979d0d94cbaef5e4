package io.proxstream.actors.cli;

import io.proxstream.actors.experiments.TvBaselines;
import io.proxstream.actors.train.DataPaths;
import io.proxstream.monitoring.ImageMeters;
import io.proxstream.monitoring.Meters;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/** {@code proxstream experiment NAME}: the experiments of the research results, each writing a report. */
final class ExperimentCommand {
    static final List<String> NAMES = List.of("tv-baselines");

    private ExperimentCommand() {
    }

    static int run(List<String> args, PrintStream out) throws Exception {
        Flags flags = new Flags("experiment")
                .option("quick", "a small configuration (for tests and smoke runs)")
                .value("out", "DIR", "output directory (default runs/experiment-NAME[-quick])");
        Flags.Parsed p = flags.parse(args);
        if (p.has("help") || p.positionals().isEmpty()) {
            out.print(flags.help("proxstream experiment NAME [--quick] [--out DIR]", """
                    Experiments, each writing report.md with a PSNR/SSIM table, pictures and CSVs. Available:
                    tv-baselines  FBP vs TV-PDHG on random-ellipse phantoms for sparse-view (60 angles) and
                                  limited-angle (0-120 degrees) CT at 128x128, and TV deblurring of natural
                                  images at 256x256; parameters chosen on validation images (about 5 minutes
                                  on 2 cores; --quick: 64x64 CT, 128x128 deblurring, about a minute).
                    Needs the scikit-image test images: ./proxstream setup."""));
            return p.has("help") ? 0 : 2;
        }
        String name = p.positionals().get(0);
        if (!NAMES.contains(name)) {
            throw new Flags.UsageException("unknown experiment '" + name + "'; available: " + String.join(", ", NAMES));
        }
        if (p.positionals().size() > 1) {
            throw new Flags.UsageException("experiment takes one name, got " + p.positionals());
        }
        boolean quick = p.has("quick");
        Path dir = Path.of(p.get("out", "runs/experiment-" + name + (quick ? "-quick" : "")));
        Files.createDirectories(dir);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "proxstream-experiment");
        try {
            out.println("experiment " + name + (quick ? " (quick)" : "") + " -> " + dir.toAbsolutePath());
            TvBaselines e = new TvBaselines(quick ? TvBaselines.Config.quick() : TvBaselines.Config.full(),
                    "proxstream experiment " + name + (quick ? " --quick" : ""), DataPaths.dataDir(), dir, out);
            e.run(system, new ImageMeters(new Meters().registry()));
            out.println("report: " + dir.resolve("report.md").toAbsolutePath());
            return 0;
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
