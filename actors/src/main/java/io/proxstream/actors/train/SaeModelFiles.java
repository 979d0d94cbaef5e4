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

    /** Reads a model written by {@link #write} (or, given a directory, imports the SAELens layout). */
    public static SaeModel read(Path file) throws IOException {
        if (java.nio.file.Files.isDirectory(file)) {
            return importSaeLens(file);
        }
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

    /** File names of the SAELens layout. */
    public static final String SAELENS_CONFIG = "cfg.json";
    public static final String SAELENS_WEIGHTS = "sae_weights.safetensors";

    /**
     * Exports {@code model} in the layout {@code sae_lens.SAE.load_from_disk} reads: {@code cfg.json}
     * and {@code sae_weights.safetensors} in {@code dir}. {@code topk} becomes architecture
     * {@code topk} with {@code k} (SAELens's TopK takes the k largest pre-activations, then ReLU:
     * the same map); {@code relu} becomes {@code standard}. {@code apply_b_dec_to_input} is false,
     * as in proxstream's encoder. SAELens has no signed TopK: a {@code topk-abs} model is written
     * with architecture {@code topk-abs}, which proxstream imports but SAELens will not load.
     * Tied models are written with an explicit {@code W_dec}.
     */
    public static void exportSaeLens(Path dir, SaeModel model, Map<String, Object> extraMetadata) throws IOException {
        java.nio.file.Files.createDirectories(dir);
        SaeSpec s = model.spec();
        write(dir.resolve(SAELENS_WEIGHTS), model, Map.of());
        Map<String, Object> cfg = new LinkedHashMap<>();
        String arch = switch (s.sparsifier()) {
            case TOPK -> "topk";
            case TOPK_ABS -> "topk-abs";
            case RELU -> "standard";
        };
        cfg.put("architecture", arch);
        cfg.put("d_in", s.inputDim());
        cfg.put("d_sae", s.latents());
        if (s.sparsifier().isTopK()) {
            cfg.put("k", s.k());
        }
        cfg.put("dtype", "float32");
        cfg.put("device", "cpu");
        cfg.put("apply_b_dec_to_input", false);
        cfg.put("normalize_activations", "none");
        cfg.put("reshape_activations", "none");
        // the pre-v6 spelling of the activation, read by older SAELens versions
        cfg.put("activation_fn_str", s.sparsifier().isTopK() ? "topk" : "relu");
        cfg.put("activation_fn_kwargs", s.sparsifier().isTopK() ? Map.of("k", s.k()) : Map.of());
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("proxstream_format", FORMAT);
        meta.put("proxstream_sparsifier", s.sparsifier().id());
        meta.put("proxstream_l1", s.l1());
        meta.putAll(extraMetadata);
        cfg.put("metadata", meta);
        io.proxstream.protocol.format.AtomicFiles.writeString(dir.resolve(SAELENS_CONFIG),
                io.proxstream.protocol.config.ConfigLoader.toJson(cfg) + "\n");
    }

    /**
     * Imports an SAE from the SAELens layout (as written by {@link #exportSaeLens} or by SAELens).
     * When {@code apply_b_dec_to_input} is true (SAELens's default for standard SAEs) the encoder
     * computes {@code (x − b_dec) W_enc + b_enc}; that is folded into the encoder bias,
     * {@code b_enc' = b_enc − b_dec W_enc}, which gives identical codes.
     */
    public static SaeModel importSaeLens(Path dir) throws IOException {
        Path cfgFile = dir.resolve(SAELENS_CONFIG);
        Path weights = dir.resolve(SAELENS_WEIGHTS);
        if (!java.nio.file.Files.isRegularFile(cfgFile) || !java.nio.file.Files.isRegularFile(weights)) {
            throw new FormatException(dir, "not an SAELens directory: needs " + SAELENS_CONFIG + " and " + SAELENS_WEIGHTS);
        }
        com.fasterxml.jackson.databind.JsonNode cfg = io.proxstream.protocol.config.ConfigLoader.mapper().readTree(cfgFile.toFile());
        String arch = cfg.path("architecture").asText("standard");
        String act = cfg.path("activation_fn_str").asText(cfg.path("activation_fn").asText(""));
        int d = cfg.path("d_in").asInt(-1);
        int m = cfg.path("d_sae").asInt(-1);
        if (d <= 0 || m <= 0) {
            throw new FormatException(cfgFile, "needs positive d_in and d_sae");
        }
        Sparsifier sp;
        if (arch.equals("topk-abs") || cfg.path("metadata").path("proxstream_sparsifier").asText("").equals("topk-abs")) {
            sp = Sparsifier.TOPK_ABS;
        } else if (arch.equals("topk") || act.equals("topk")) {
            sp = Sparsifier.TOPK;
        } else if (arch.equals("standard") && (act.isEmpty() || act.equals("relu"))) {
            sp = Sparsifier.RELU;
        } else {
            throw new FormatException(cfgFile, "architecture '" + arch + "' / activation '" + act
                    + "' is not one proxstream trains (topk, standard ReLU)");
        }
        int k = cfg.has("k") ? cfg.get("k").asInt() : cfg.path("activation_fn_kwargs").path("k").asInt(0);
        if (sp.isTopK() && k <= 0) {
            throw new FormatException(cfgFile, "a TopK SAE needs k");
        }
        double l1 = cfg.path("metadata").path("proxstream_l1").asDouble(0);
        SaeSpec spec = new SaeSpec(d, m, sp, sp.isTopK() ? k : 0, l1, false);
        Map<String, Safetensors.Tensor> t = Safetensors.readAll(weights);
        float[] wEnc = tensor(weights, t, "W_enc", d, m);
        float[] rows = new float[m * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < m; j++) {
                rows[j * d + i] = wEnc[i * m + j];
            }
        }
        float[] bEnc = tensor(weights, t, "b_enc", m).clone();
        float[] bDec = tensor(weights, t, "b_dec", d);
        if (cfg.path("apply_b_dec_to_input").asBoolean(true)) {
            for (int j = 0; j < m; j++) {
                double s2 = 0;
                for (int i = 0; i < d; i++) {
                    s2 += (double) bDec[i] * rows[j * d + i];
                }
                bEnc[j] -= (float) s2;
            }
        }
        String norm = cfg.path("normalize_activations").asText("none");
        if (!norm.equals("none")) {
            throw new FormatException(cfgFile, "normalize_activations '" + norm + "' is not supported (only 'none')");
        }
        return SaeModel.of(spec, rows, bEnc, tensor(weights, t, "W_dec", m, d), bDec);
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
