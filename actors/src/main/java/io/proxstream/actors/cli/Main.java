package io.proxstream.actors.cli;

import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.blas.CpuKernels;
import io.proxstream.solvers.blas.NumericsCheck;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code proxstream} command line on picocli: {@code proxstream <command> [options]}. Help, errors that
 * name the option and its allowed values, and the bash completion script ({@code proxstream completion})
 * are generated from the commands' annotated options.
 */
@Command(name = "proxstream", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, usageHelpAutoWidth = true,
        synopsisSubcommandLabel = "<command>",
        description = "Streaming sparse autoencoders, inverse problems and graph segmentation on Apache Pekko.",
        commandListHeading = "%nCommands:%n",
        footer = {"",
            "Launcher commands (the ./proxstream script): setup (fetch the data sets the tests and experiments use:"
                + " MNIST, scikit-image test images, fortunes text), test (run all tests).",
            "",
            "Each command takes --help. Every command that computes first runs the numerics self-check (well under a"
                + " second): a BLAS kernel that computes wrong results on this CPU stops it with the routine, the kernel"
                + " and the way to choose another (OPENBLAS_CORETYPE=Haswell ./proxstream ...).",
            "Bash completion: source <(./proxstream completion)"})
public final class Main implements Callable<Integer> {
    private final PrintStream err;

    @Spec
    CommandSpec spec;

    private Main(PrintStream err) {
        this.err = err;
    }

    /** The commands that compute with BLAS/LAPACK and so run the numerics self-check first. */
    static final java.util.Set<String> COMPUTING =
            java.util.Set.of("train", "serve", "node", "reconstruct", "segment", "experiment", "bench", "activations");

    /** {@code proxstream} alone: the usage, exit code 2. */
    @Override
    public Integer call() {
        spec.commandLine().usage(err);
        return 2;
    }

    public static void main(String[] argv) {
        // initialise logging before any library logs from another thread (avoids SLF4J's replay warnings)
        org.slf4j.LoggerFactory.getLogger(Main.class);
        int code = run(Arrays.asList(argv), System.out, System.err);
        System.out.flush();
        System.exit(code);
    }

    /** One line on stderr: which kernel runs, who chose it, and that its numerics were checked. */
    static String startupLine(NumericsCheck.Report check) {
        BlasInfo b = check.blas();
        return String.format(java.util.Locale.ROOT, "proxstream: %s, kernel %s (%s); numerics self-check passed (%d checks, %.0f ms)",
                b.config().replaceAll(" DYNAMIC_ARCH.*", ""), b.coreName(), b.chosenBy(), check.results().size(), check.nanos() / 1e6);
    }

    /** The command line with every command, writing to {@code out} and {@code err}. */
    static CommandLine commandLine(PrintStream out, PrintStream err) {
        CommandLine.IFactory factory = new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                try {
                    return cls.getDeclaredConstructor(PrintStream.class).newInstance(out);
                } catch (NoSuchMethodException e) {
                    return CommandLine.defaultFactory().create(cls);
                }
            }
        };
        CommandLine cl = new CommandLine(new Main(err), factory);
        cl.addSubcommand("train", new CommandLine(new TrainCommand(out), factory).setDefaultValueProvider(TrainCommand.defaults()));
        cl.addSubcommand("serve", new CommandLine(new ServeCommand(out), factory).setDefaultValueProvider(ServeCommand.defaults()));
        cl.addSubcommand("node", new CommandLine(new NodeCommand(out), factory).setDefaultValueProvider(NodeCommand.defaults()));
        cl.addSubcommand("reconstruct", new CommandLine(new ReconstructCommand(out), factory));
        cl.addSubcommand("segment", new CommandLine(new SegmentCommand(out), factory));
        cl.addSubcommand("activations", new CommandLine(new ActivationsCommand(out), factory));
        cl.addSubcommand("experiment", new CommandLine(new ExperimentCommand(out), factory));
        cl.addSubcommand("bench", new CommandLine(new BenchCommand(out), factory));
        cl.addSubcommand("doctor", new CommandLine(new DoctorCommand(out), factory));
        cl.addSubcommand("completion", new CommandLine(new CompletionCommand(out), factory));
        cl.addSubcommand("help", new CommandLine.HelpCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            err.println("error: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, c.getErr());
            c.getErr().flush();
            err.println("(" + c.getCommandSpec().qualifiedName() + " --help shows the options)");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            if (ex instanceof Cli.UsageException || ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
                err.println("error: " + ex.getMessage());
                err.println("(" + c.getCommandSpec().qualifiedName() + " --help shows the options)");
                return 2;
            }
            Throwable cause = ex instanceof java.util.concurrent.ExecutionException && ex.getCause() != null ? ex.getCause() : ex;
            err.println("error: " + cause);
            return 1;
        });
        cl.setExecutionStrategy(parsed -> {
            // the numerics self-check before a computing command runs (not for its --help)
            CommandLine.ParseResult sub = parsed.subcommand();
            if (sub != null && COMPUTING.contains(sub.commandSpec().name()) && !sub.isUsageHelpRequested()) {
                NumericsCheck.Report check = NumericsCheck.once();
                if (!check.passed()) {
                    err.println("error: " + check.failureMessage());
                    return 3;
                }
                err.println(startupLine(check));
            }
            return new CommandLine.RunLast().execute(parsed);
        });
        return cl;
    }

    static int run(List<String> argv, PrintStream out, PrintStream err) {
        // before any native library is loaded: a forced kernel this CPU cannot run would die of SIGILL
        var refusal = CpuKernels.environmentRefusal();
        if (refusal.isPresent()) {
            err.println("error: " + refusal.get());
            return 2;
        }
        return commandLine(out, err).execute(argv.toArray(String[]::new));
    }

    /** {@code --version}: the build's version. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"proxstream " + (v == null ? "(development build)" : v)};
        }
    }
}
