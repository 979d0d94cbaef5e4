package io.proxstream.actors.cli;

import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.blas.CpuKernels;
import io.proxstream.solvers.blas.NumericsCheck;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;

/** The {@code proxstream} command line: {@code proxstream <command> [options]}. */
public final class Main {
    private Main() {
    }

    static final String USAGE = """
            usage: proxstream <command> [options]

            commands:
              train        train a sparse autoencoder on a stream (the main job)
              serve        the online trainer: HTTP/TCP/directory ingest, checkpoints, dashboard, export
              node         a member of a training cluster (data-parallel PAM-SGD on Pekko Cluster)
              reconstruct  CT / deblurring / denoising of images as a stream (FBP, TV-PDHG, ...)
              segment      joint reconstruction-segmentation on graphs (Nystrom-QR, graph MBO) of an image
              activations  cache transformer activations (MiniLM residual stream over text) to .npy
              experiment   the experiments of the research results, each writing a report
              bench NAME   benchmarks: sae (SAE kernels, decoder solve, stream), ingest (serve), radon (CT)
              doctor       the CPU, the BLAS kernel, the numerics self-check of every BLAS/LAPACK routine, GEMM speed
              setup        fetch the data sets the tests and experiments use (MNIST, scikit-image test images, fortunes text)
              test         run all tests (unit and integration)
              help         this text

            Each command takes --help. Every command that computes first runs the numerics self-check
            (well under a second): a BLAS kernel that computes wrong results on this CPU stops it with
            the routine, the kernel and the way to choose another (OPENBLAS_CORETYPE=Haswell ./proxstream ...).""";

    /** The commands that compute with BLAS/LAPACK and so run the numerics self-check first. */
    static final java.util.Set<String> COMPUTING =
            java.util.Set.of("train", "serve", "node", "reconstruct", "segment", "experiment", "bench", "activations");

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

    static int run(List<String> argv, PrintStream out, PrintStream err) {
        if (argv.isEmpty() || argv.get(0).equals("help") || argv.get(0).equals("--help")) {
            out.println(USAGE);
            return argv.isEmpty() ? 2 : 0;
        }
        String cmd = argv.get(0);
        List<String> rest = argv.subList(1, argv.size());
        // before any native library is loaded: a forced kernel this CPU cannot run would die of SIGILL
        var refusal = CpuKernels.environmentRefusal();
        if (refusal.isPresent()) {
            err.println("error: " + refusal.get());
            return 2;
        }
        try {
            if (COMPUTING.contains(cmd) && !rest.contains("--help")) {
                NumericsCheck.Report check = NumericsCheck.once();
                if (!check.passed()) {
                    err.println("error: " + check.failureMessage());
                    return 3;
                }
                err.println(startupLine(check));
            }
            return switch (cmd) {
                case "doctor" -> DoctorCommand.run(rest, out);
                case "train" -> TrainCommand.run(rest, out);
                case "bench" -> BenchCommand.run(rest, out);
                case "serve" -> ServeCommand.run(rest, out);
                case "node" -> NodeCommand.run(rest, out);
                case "reconstruct" -> ReconstructCommand.run(rest, out);
                case "segment" -> SegmentCommand.run(rest, out);
                case "experiment" -> ExperimentCommand.run(rest, out);
                case "activations" -> ActivationsCommand.run(rest, out);
                default -> throw new Flags.UsageException("unknown command '" + cmd + "'");
            };
        } catch (Flags.UsageException | IllegalArgumentException | IllegalStateException e) {
            err.println("error: " + e.getMessage());
            err.println("(proxstream " + (COMPUTING.contains(cmd) || cmd.equals("doctor") ? cmd + " " : "") + "--help shows the options)");
            return 2;
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            err.println("error: " + c);
            return 1;
        } catch (Exception e) {
            err.println("error: " + e);
            return 1;
        }
    }
}
