package io.proxstream.actors.cli;

import io.proxstream.actors.lm.Activations;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code proxstream activations}: caches MiniLM residual-stream vectors to {@code .npy}. */
final class ActivationsCommand {
    private ActivationsCommand() {
    }

    static int run(List<String> args, PrintStream out) throws Exception {
        Flags flags = new Flags("activations")
                .value("block", "K", "MiniLM block whose output is cached, 0-5 (default 3)")
                .value("rows", "N", "vectors to cache (default 100000)")
                .value("max-tokens", "T", "texts are cut to this many tokens (default 128)")
                .value("seed", "S", "order of the texts (default 42)")
                .value("out", "FILE", "output .npy (default data/minilm/block-K.npy)");
        Flags.Parsed p = flags.parse(args);
        if (p.has("help")) {
            out.print(flags.help("proxstream activations [options]", """
                    Runs all-MiniLM-L6-v2 (ONNX Runtime, CPU) over the fortunes corpus (./proxstream setup) and
                    writes the residual stream after one block, one row of 384 per token ([CLS]/[SEP] left out),
                    as a float32 .npy. Train on it with: ./proxstream train --source npy:FILE."""));
            return 0;
        }
        if (!p.positionals().isEmpty()) {
            throw new Flags.UsageException("unexpected argument '" + p.positionals().get(0) + "'");
        }
        int block = Integer.parseInt(p.get("block", "3"));
        Path file = Path.of(p.get("out", io.proxstream.actors.train.DataPaths.dataDir().resolve("minilm")
                .resolve("block-" + block + ".npy").toString()));
        Activations.cache(block, Integer.parseInt(p.get("rows", "100000")), Integer.parseInt(p.get("max-tokens", "128")),
                Long.parseLong(p.get("seed", "42")), file, out);
        return 0;
    }
}
