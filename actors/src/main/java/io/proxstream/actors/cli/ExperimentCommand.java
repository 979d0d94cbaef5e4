package io.proxstream.actors.cli;

import io.proxstream.actors.experiments.CtExperiment;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.actors.experiments.Experiment;
import io.proxstream.actors.experiments.SaeLm;
import io.proxstream.actors.experiments.SaeMnist;
import io.proxstream.actors.experiments.SaeSynthetic;
import io.proxstream.actors.experiments.SplineToy;
import io.proxstream.actors.experiments.TvBaselines;
import io.proxstream.actors.train.DataPaths;
import io.proxstream.monitoring.ImageMeters;
import io.proxstream.monitoring.Meters;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/** {@code proxstream experiment NAME}: the experiments of the research results, each writing a report. */
@Command(name = "experiment", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        header = "the experiments of the research results, each writing a report", usageHelpAutoWidth = true,
        description = {"Experiments, each writing report.md with tables, plots and CSVs (times on 2 cores):",
            "  spline-toy     k-means and local-PCA autoencoders vs TopK SAEs on the paper's 2-D toy, power-diagram pictures (seconds)",
            "  sae-mnist      PAM-SGD vs the faithful (tied Adam) and the strong baseline on MNIST, TopK and ReLU: test MSE per epoch,"
                + " training fractions, SGD repeats, k-means+PCA",
            "  sae-lm         the same on MiniLM residual-stream activations, with ReLU sparsity and the mu ablation",
            "  sae-synthetic  feature recovery (MMCS, MCC, dead, L0, FVU) against samples seen",
            "  sae-scale      PAM-SGD (large-dictionary cg step) vs strong Adam at 16 384 latents on MiniLM and planted"
                + " activations, 3 seeds: FVU against samples and wall time, dead latents, memory (about 26 minutes)",
            "  sae-steps      PAM-SGD's iterative (cg) decoder step vs its exact step at 4 096 latents on MiniLM and planted"
                + " activations, 3 seeds: does the approximation cost held-out FVU",
            "  segmentation   joint reconstruction-segmentation vs sequential and the clean/raw bounds on a texture composite"
                + " and a colour photo, under noise and blur",
            "  tv-baselines   FBP vs TV-PDHG for sparse-view and limited-angle CT, TV deblurring",
            "  ct             learned regularisers (AR, ACR, AWCR-GD/-PD, ACNCR) trained adversarially against FBP and TV-PDHG"
                + " for the same CT settings; convexity checks",
            "Data come from ./proxstream setup (MNIST, fortunes, scikit-image images).", ""})
final class ExperimentCommand implements Callable<Integer> {
    static final Map<String, Experiment> EXPERIMENTS = new LinkedHashMap<>();

    static {
        EXPERIMENTS.put("spline-toy", new SplineToy());
        EXPERIMENTS.put("sae-mnist", new SaeMnist());
        EXPERIMENTS.put("sae-lm", new SaeLm());
        EXPERIMENTS.put("sae-synthetic", new SaeSynthetic());
        EXPERIMENTS.put("sae-scale", new io.proxstream.actors.experiments.SaeScale());
        EXPERIMENTS.put("sae-steps", io.proxstream.actors.experiments.SaeScale.steps());
        EXPERIMENTS.put("segmentation", new io.proxstream.actors.experiments.SegmentationExperiment());
        EXPERIMENTS.put("tv-baselines", (quick, out, log, system) -> new TvBaselines(
                quick ? TvBaselines.Config.quick() : TvBaselines.Config.full(),
                "proxstream experiment tv-baselines" + (quick ? " --quick" : ""), DataPaths.dataDir(), out, log)
                .run(system, new ImageMeters(new Meters().registry())));
        EXPERIMENTS.put("ct", (quick, out, log, system) -> new CtExperiment(quick ? CtExperiment.Config.quick() : CtExperiment.Config.full(),
                "proxstream experiment ct" + (quick ? " --quick" : ""), out, log, new Meters().registry()).run(system));
    }

    /** {@code experiment ct} with its options: the full or quick configuration, changed as they say. */
    private void runCt(CtExperiment.Config config, String invocation, Path out, PrintStream log, ActorSystem<?> system) throws Exception {
        new CtExperiment(config, invocation, out, log, new Meters().registry()).run(system);
    }

    /** The ct configuration the options ask for, and the command line that states it; usage errors name the option. */
    private Object[] ctConfig() {
        CtExperiment.Config c = quick ? CtExperiment.Config.quick() : CtExperiment.Config.full();
        StringBuilder cmd = new StringBuilder("proxstream experiment ct" + (quick ? " --quick" : ""));
        if (regularisers != null) {
            c = option("--regularisers", c, x -> x.withKinds(regularisers));
            cmd.append(" --regularisers ").append(String.join(",", regularisers));
        }
        if (phantoms != null) {
            c = option("--phantoms", c, x -> x.withPhantoms(Phantoms.Family.fromId(phantoms)));
            cmd.append(" --phantoms ").append(phantoms);
        }
        if (testImages != null) {
            c = option("--test-images", c, x -> x.withTestImages(testImages));
            cmd.append(" --test-images ").append(testImages);
        }
        if (criticSteps != null) {
            c = option("--critic-steps", c, x -> x.withFixedTraining(criticSteps));
            cmd.append(" --critic-steps ").append(criticSteps);
        }
        if (publicAwcr) {
            if (!c.kinds().contains("awcr")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--public-awcr: awcr is not among the regularisers "
                        + c.kinds());
            }
            c = c.withPublicAwcr();
            cmd.append(" --public-awcr");
        }
        return new Object[] {c, cmd.toString()};
    }

    /** {@code change} applied to {@code c}; a refusal becomes a usage error naming {@code option}. */
    private CtExperiment.Config option(String option, CtExperiment.Config c, java.util.function.UnaryOperator<CtExperiment.Config> change) {
        try {
            return change.apply(c);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), option + ": " + e.getMessage());
        }
    }

    static final List<String> NAMES = List.copyOf(EXPERIMENTS.keySet());

    /** The experiments' names: completion candidates, and the check that names them. */
    static final class Names extends Cli.OneOf {
        Names() {
            super(NAMES);
        }
    }

    private final PrintStream out;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "NAME", completionCandidates = Names.class, converter = Names.class,
            description = "one of ${COMPLETION-CANDIDATES}")
    String name;

    @Option(names = "--quick", description = "a small configuration with the same structure (for tests and smoke runs)")
    boolean quick;

    @Option(names = "--out", paramLabel = "DIR", description = "output directory (default: runs/experiment-NAME[-quick])")
    String outDir;

    @Option(names = "--regularisers", paramLabel = "LIST", split = ",",
            description = "ct only: the learned regularisers to train and run, of ar, acr, awcr, acncr (default: all four)")
    List<String> regularisers;

    @Option(names = "--phantoms", paramLabel = "FAMILY",
            description = "ct only: the phantom family of training, validation and test images: ellipses (default) or textured")
    String phantoms;

    @Option(names = "--test-images", paramLabel = "N", description = "ct only: test images per setting (default: 50; --quick 2)")
    Integer testImages;

    @Option(names = "--critic-steps", paramLabel = "N",
            description = "ct only: train every critic a fixed N steps (a multiple of one epoch) instead of until its held-out "
                    + "Wasserstein estimate levels off")
    Long criticSteps;

    @Option(names = "--public-awcr",
            description = "ct only: AWCR's critic at the public code's widths for each setting (spec/inverse.md; sparse view: six "
                    + "5x5 convolutions to 128 channels, four at stride 2; limited angle: one 1->128; ICNN 5 layers x 16 channels) "
                    + "instead of the CPU-sized one; the other critics keep theirs")
    boolean publicAwcr;

    ExperimentCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws Exception {
        Experiment experiment = EXPERIMENTS.get(name);
        String ctOnly = regularisers != null ? "--regularisers" : phantoms != null ? "--phantoms" : testImages != null ? "--test-images"
                : criticSteps != null ? "--critic-steps" : publicAwcr ? "--public-awcr" : null;
        if (ctOnly != null) {
            if (!name.equals("ct")) {
                throw new CommandLine.ParameterException(spec.commandLine(), ctOnly + " applies to experiment ct only, not " + name);
            }
            Object[] ct = ctConfig();
            experiment = (q, o, l, sys) -> runCt((CtExperiment.Config) ct[0], (String) ct[1], o, l, sys);
        }
        Path dir = Path.of(outDir != null ? outDir : "runs/experiment-" + name + (quick ? "-quick" : ""));
        Files.createDirectories(dir);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "proxstream-experiment");
        try {
            out.println("experiment " + name + (quick ? " (quick)" : "") + " -> " + dir.toAbsolutePath());
            experiment.run(quick, dir, out, system);
            out.println("report: " + dir.resolve("report.md").toAbsolutePath());
            return 0;
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
