package io.proxstream.actors.train;

import io.proxstream.protocol.format.FormatException;
import io.proxstream.protocol.format.Safetensors;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.Sparsifier;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Trained SAEs on disk: one {@code .safetensors} file with the tensors under the names and layouts
 * of the Python SAE ecosystem (SAELens): {@code W_enc} [d_in, d_sae], {@code b_enc} [d_sae],
 * {@code W_dec} [d_sae, d_in], {@code b_dec} [d_in], all float32; and string metadata
 * {@code format=proxstream-sae/1}, {@code d_in}, {@code d_sae}, {@code sparsifier} (topk, topk-abs,
 * relu), {@code k}, {@code l1}, {@code tied}, plus free-form provenance (algorithm, samples, config).
 * A tied model is written with an explicit {@code W_dec} equal to {@code W_encᵀ}.
 */
public final class SaeModelFiles {
    public static final String FORMAT = "proxstream-sae/1";

    private SaeModelFiles() {
    }

    /** Writes {@code model} atomically with the given extra metadata. */
    public static void write(Path file, SaeModel model, Map<String, String> provenance) throws IOException {
        SaeSpec s = model.spec();
        int d = s.inputDim();
        int m = s.latents();
        float[] wEnc = new float[d * m];
        float[] rows = model.encoderWeights();
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < d; i++) {
                wEnc[i * m + j] = rows[j * d + i];
            }
        }
        Map<String, Safetensors.Tensor> t = new LinkedHashMap<>();
        t.put("W_enc", new Safetensors.Tensor(new long[] {d, m}, wEnc));
        t.put("b_enc", new Safetensors.Tensor(new long[] {m}, model.encoderBias().clone()));
        t.put("W_dec", new Safetensors.Tensor(new long[] {m, d}, model.decoderWeights().clone()));
        t.put("b_dec", new Safetensors.Tensor(new long[] {d}, model.decoderBias().clone()));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("d_in", Integer.toString(d));
        meta.put("d_sae", Integer.toString(m));
        meta.put("sparsifier", s.sparsifier().id());
        meta.put("k", Integer.toString(s.k()));
        meta.put("l1", Double.toString(s.l1()));
        meta.put("tied", Boolean.toString(s.tied()));
        provenance.forEach(meta::putIfAbsent);
        Safetensors.write(file, t, meta);
    }

    /** Reads a model written by {@link #write}. */
    public static SaeModel read(Path file) throws IOException {
        Map<String, String> meta = Safetensors.readMetadata(file);
        if (!FORMAT.equals(meta.get("format"))) {
            throw new FormatException(file, "not a proxstream SAE (metadata format=" + meta.get("format") + ")");
        }
        Map<String, Safetensors.Tensor> t = Safetensors.readAll(file);
        int d = Integer.parseInt(meta.get("d_in"));
        int m = Integer.parseInt(meta.get("d_sae"));
        SaeSpec spec = new SaeSpec(d, m, Sparsifier.fromId(meta.get("sparsifier")), Integer.parseInt(meta.get("k")),
                Double.parseDouble(meta.get("l1")), Boolean.parseBoolean(meta.get("tied")));
        float[] wEnc = tensor(file, t, "W_enc", d, m);
        float[] rows = new float[m * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < m; j++) {
                rows[j * d + i] = wEnc[i * m + j];
            }
        }
        return SaeModel.of(spec, rows, tensor(file, t, "b_enc", m), tensor(file, t, "W_dec", m, d), tensor(file, t, "b_dec", d));
    }

    private static float[] tensor(Path file, Map<String, Safetensors.Tensor> t, String name, long... shape) throws FormatException {
        Safetensors.Tensor x = t.get(name);
        if (x == null) {
            throw new FormatException(file, "missing tensor " + name);
        }
        if (!java.util.Arrays.equals(x.shape(), shape)) {
            throw new FormatException(file, name + " has shape " + java.util.Arrays.toString(x.shape()) + ", expected "
                    + java.util.Arrays.toString(shape));
        }
        return x.data();
    }
}
