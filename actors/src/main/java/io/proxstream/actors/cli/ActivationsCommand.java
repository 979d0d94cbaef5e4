package io.proxstream.actors.cli;

import io.proxstream.actors.lm.Activations;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import java.nio.file.Path;

/** {@code proxstream activations}: caches MiniLM residual-stream vectors to {@code .npy}. */
@Command(name = "activations", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        header = "cache transformer activations (MiniLM residual stream over text) to .npy", sortOptions = false, usageHelpAutoWidth = true,
        description = {"Runs all-MiniLM-L6-v2 (ONNX Runtime, CPU) over the fortunes corpus (./proxstream setup) and writes the"
                + " residual stream after one block, one row of 384 per token ([CLS]/[SEP] left out), as a float32 .npy.",
            "Train on it with: ./proxstream train --source npy:FILE.", ""})
final class ActivationsCommand implements Callable<Integer> {
    private final PrintStream out;

    @Option(names = "--block", paramLabel = "K", defaultValue = "3", description = "MiniLM block whose output is cached, 0-5"
            + " (default: ${DEFAULT-VALUE})")
    int block;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "100000", description = "vectors to cache (default: ${DEFAULT-VALUE})")
    int rows;

    @Option(names = "--max-tokens", paramLabel = "T", defaultValue = "128", description = "texts are cut to this many tokens"
            + " (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42", description = "order of the texts (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--out", paramLabel = "FILE", description = "output .npy (default: data/minilm/block-K.npy)")
    Path file;

    ActivationsCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws Exception {
        Path f = file != null ? file : io.proxstream.actors.train.DataPaths.dataDir().resolve("minilm").resolve("block-" + block + ".npy");
        Activations.cache(block, rows, maxTokens, seed, f, out);
        return 0;
    }
}
