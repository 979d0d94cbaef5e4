package io.proxstream.actors.cli;

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
              setup        fetch the data sets the tests and experiments use (MNIST, scikit-image test images, fortunes text)
              test         run all tests (unit and integration)
              help         this text

            Each command takes --help.""";

    public static void main(String[] argv) {
        // initialise logging before any library logs from another thread (avoids SLF4J's replay warnings)
        org.slf4j.LoggerFactory.getLogger(Main.class);
        int code = run(Arrays.asList(argv), System.out, System.err);
        System.out.flush();
        System.exit(code);
    }

    static int run(List<String> argv, PrintStream out, PrintStream err) {
        if (argv.isEmpty() || argv.get(0).equals("help") || argv.get(0).equals("--help")) {
            out.println(USAGE);
            return argv.isEmpty() ? 2 : 0;
        }
        String cmd = argv.get(0);
        List<String> rest = argv.subList(1, argv.size());
        try {
            return switch (cmd) {
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
            err.println("(proxstream " + (List.of("train", "bench", "serve", "reconstruct", "segment", "experiment", "activations").contains(cmd) ? cmd + " " : "") + "--help shows the options)");
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
