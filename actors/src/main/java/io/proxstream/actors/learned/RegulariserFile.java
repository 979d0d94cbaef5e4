package io.proxstream.actors.learned;

import io.proxstream.protocol.format.FormatException;
import io.proxstream.protocol.format.Safetensors;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.nn.Critic;
import io.proxstream.solvers.nn.Param;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A trained regulariser on disk: safetensors (written atomically, CRC-32C checked on reading) with
 * one F32 tensor per parameter array ({@code param.NNN.<name>}, in {@link Critic#params()} order), the
 * CT geometry's angles (F64, {@code geometry.angles}, radians) and metadata: kind, architecture, image
 * side, seed, operator norm, detectors and spacing, the chosen λ and the Lipschitz estimate of ∇(λR),
 * training steps. The architecture is rebuilt from the metadata and every array's size is checked.
 */
public final class RegulariserFile {

    /**
     * A loaded regulariser with what was chosen for it.
     *
     * @param extras the file's other tensors (a training checkpoint's optimizer state), by name
     */
    public record Loaded(Critic critic, RayTransform geometry, double lambda, double lipschitz, long steps, Map<String, String> metadata,
                         Map<String, Safetensors.Array> extras) {
    }

    private RegulariserFile() {
    }

    /** Writes {@code critic} and its CT geometry atomically. */
    public static void save(Path file, Critic critic, RayTransform geometry, double operatorNorm, double lambda, double lipschitz, long steps,
                            Map<String, String> extra) throws IOException {
        save(file, critic, geometry, operatorNorm, lambda, lipschitz, steps, extra, Map.of());
    }

    /**
     * As above with further tensors (names must not start with {@code param.} or {@code geometry.}), e.g. a training
     * checkpoint's optimizer state.
     */
    public static void save(Path file, Critic critic, RayTransform geometry, double operatorNorm, double lambda, double lipschitz, long steps,
                            Map<String, String> extra, Map<String, Safetensors.Array> extraArrays) throws IOException {
        Map<String, Safetensors.Array> arrays = new LinkedHashMap<>();
        for (String k : extraArrays.keySet()) {
            if (k.startsWith("param.") || k.startsWith("geometry.")) {
                throw new IllegalArgumentException("tensor name " + k + " is reserved");
            }
        }
        List<Param> ps = critic.params();
        for (int i = 0; i < ps.size(); i++) {
            arrays.put(String.format(Locale.ROOT, "param.%03d.%s", i, ps.get(i).name()), Safetensors.Array.of(ps.get(i).value().clone()));
        }
        arrays.put("geometry.angles", Safetensors.Array.of(geometry.angles().clone()));
        arrays.putAll(extraArrays);
        Critic.Architecture a = critic.architecture();
        Map<String, String> meta = new LinkedHashMap<>(extra);
        meta.put("format", "proxstream-regulariser/1");
        meta.put("kind", critic.kind().id());
        meta.put("size", Integer.toString(critic.size()));
        meta.put("seed", Long.toString(critic.seed()));
        meta.put("layers", Integer.toString(a.layers()));
        meta.put("channels", Integer.toString(a.channels()));
        meta.put("kernel", Integer.toString(a.kernel()));
        meta.put("smooth", Arrays.toString(a.smooth()).replaceAll("[\\[\\] ]", ""));
        if (a.stridedSmoothMap()) {
            meta.put("smooth_strides", Arrays.toString(a.smoothStrides()).replaceAll("[\\[\\] ]", ""));
        }
        meta.put("quadratic", Double.toString(a.quadratic()));
        meta.put("detectors", Integer.toString(geometry.detectors()));
        meta.put("spacing", Double.toString(geometry.spacing()));
        meta.put("operator_norm", Double.toString(operatorNorm));
        meta.put("lambda", Double.toString(lambda));
        meta.put("lipschitz", Double.toString(lipschitz));
        meta.put("steps", Long.toString(steps));
        Safetensors.writeArrays(file, arrays, meta);
    }

    /** Reads a file written by {@link #save}; errors name the file and what is wrong. */
    public static Loaded load(Path file) throws IOException {
        Safetensors.Contents c = Safetensors.readArrays(file);
        Map<String, String> m = c.metadata();
        if (!"proxstream-regulariser/1".equals(m.get("format"))) {
            throw new FormatException(file, "not a proxstream regulariser (metadata format = " + m.get("format") + ")");
        }
        try {
            Critic.Kind kind = Critic.Kind.fromId(need(file, m, "kind"));
            int n = Integer.parseInt(need(file, m, "size"));
            int[] smooth = Arrays.stream(need(file, m, "smooth").split(",")).mapToInt(Integer::parseInt).toArray();
            // files written before strided smooth maps existed have no strides: all 1
            int[] strides = m.containsKey("smooth_strides")
                    ? Arrays.stream(m.get("smooth_strides").split(",")).mapToInt(Integer::parseInt).toArray() : null;
            int layers = Integer.parseInt(need(file, m, "layers"));
            int channels = Integer.parseInt(need(file, m, "channels"));
            int kernel = Integer.parseInt(need(file, m, "kernel"));
            double quadratic = Double.parseDouble(need(file, m, "quadratic"));
            Critic.Architecture arch = strides == null ? new Critic.Architecture(layers, channels, kernel, smooth, quadratic)
                    : new Critic.Architecture(layers, channels, kernel, smooth, quadratic, strides);
            Safetensors.Array angles = c.arrays().get("geometry.angles");
            if (angles == null || !(angles.data() instanceof double[] theta)) {
                throw new FormatException(file, "missing F64 tensor geometry.angles");
            }
            RayTransform rt = new RayTransform(n, n, theta, Integer.parseInt(need(file, m, "detectors")),
                    Double.parseDouble(need(file, m, "spacing")));
            Critic critic = new Critic(kind, arch, n, rt, Double.parseDouble(need(file, m, "operator_norm")), Long.parseLong(need(file, m, "seed")));
            List<Param> ps = critic.params();
            long stored = c.arrays().keySet().stream().filter(k -> k.startsWith("param.")).count();
            if (stored != ps.size()) {
                throw new FormatException(file, stored + " parameter arrays, a " + kind.id() + " of this architecture has " + ps.size());
            }
            for (int i = 0; i < ps.size(); i++) {
                String key = String.format(Locale.ROOT, "param.%03d.%s", i, ps.get(i).name());
                Safetensors.Array arr = c.arrays().get(key);
                if (arr == null || !(arr.data() instanceof float[] v)) {
                    throw new FormatException(file, "missing F32 tensor " + key);
                }
                for (float x : v) {
                    if (!Float.isFinite(x)) {
                        throw new FormatException(file, "tensor " + key + " holds a non-finite value");
                    }
                }
                critic.setParam(i, v);
            }
            Map<String, Safetensors.Array> extras = new LinkedHashMap<>();
            for (var e : c.arrays().entrySet()) {
                if (!e.getKey().startsWith("param.") && !e.getKey().startsWith("geometry.")) {
                    extras.put(e.getKey(), e.getValue());
                }
            }
            return new Loaded(critic, rt, Double.parseDouble(need(file, m, "lambda")), Double.parseDouble(need(file, m, "lipschitz")),
                    Long.parseLong(need(file, m, "steps")), Map.copyOf(m), java.util.Collections.unmodifiableMap(extras));
        } catch (IllegalArgumentException e) {
            throw new FormatException(file, e.getMessage());
        }
    }

    private static String need(Path file, Map<String, String> m, String key) throws FormatException {
        String v = m.get(key);
        if (v == null) {
            throw new FormatException(file, "metadata has no '" + key + "'");
        }
        return v;
    }
}
