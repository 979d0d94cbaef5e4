package io.proxstream.actors.train;

import io.proxstream.protocol.config.SaeConfig;
import io.proxstream.protocol.config.TrainerConfig;
import io.proxstream.solvers.sae.IterativeDecoder;
import io.proxstream.solvers.sae.SparseStep;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The heap a training run will need, estimated from its configuration before anything is allocated, so
 * that a run which cannot fit is refused with the estimate and the limit instead of failing hours later
 * (or on its first checkpoint) with an {@link OutOfMemoryError}. The parts are the arrays the trainers
 * allocate (see {@code SaeModel}, {@code SparseStep}, {@code SaeGradients}, {@code Adam},
 * {@code DecoderStatistics}), each as the heap G1 gives it (a large array takes whole regions), checked
 * against what a trainer really holds ({@code MemoryPlanTest}); ND4J's off-heap GEMM buffers are not counted.
 *
 * @param parts what needs memory, largest first
 */
public record MemoryPlan(List<Part> parts) {
    /** One allocation: what it is and its bytes. */
    public record Part(String what, long bytes) {
    }

    /** The largest Java array (elements); the JVMs we run on allow a few less than {@link Integer#MAX_VALUE}. */
    public static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    /** Share of the JVM's maximum heap a plan may take (the rest: the JVM, streams, HTTP, garbage not yet collected). */
    public static final double HEAP_SHARE = 0.85;

    /**
     * The plan of a trainer of width {@code d}.
     *
     * @param batch       minibatch rows
     * @param checkpoints whether the run writes checkpoints (a snapshot copies the trainer's state while training goes on)
     * @param queueBytes  bytes of input rows held beside the trainer (a served run's queue, a benchmark's batches; 0 for
     *                    {@code train}, whose source streams)
     */
    public static MemoryPlan of(TrainerConfig t, SaeConfig sae, int d, int batch, boolean checkpoints, long queueBytes) {
        long m = sae.latents();
        long md = m * d;
        long k = Math.min(sae.k(), m);
        List<Part> p = new ArrayList<>();
        boolean pam = t.algo().equals("pam");
        boolean tied = t.algo().equals("adam-tied");
        boolean discard = t.algo().equals("discard");
        int matrices = tied ? 1 : 2;
        long params = matrices * arr(4 * md) + arr(4 * m) + arr(4L * d);
        p.add(new Part("model (encoder and decoder, float)", params));
        long grads = (pam || tied ? 1 : 2) * arr(4 * md);
        if (!discard) {
            p.add(new Part("gradients (float)", grads));
            p.add(new Part("Adam moments (float)", 2 * grads));
            // the encoder GEMM's B x m output (off-heap) and, for TopK, AuxK's pre-activations of the dead latents (at most
            // B x m on the heap) or, for ReLU, the step's own B x m copy: two B x m floats at most
            p.add(new Part("pre-activations of a batch (2 x B x m float)", 2 * arr(4 * batch * m)));
            // codes (index, value), code gradients, and the backward's column-ordered copy (row, two coefficients); per
            // thread, the backward's packed column block of x and of the residuals
            p.add(new Part("residuals and codes of a batch", 2 * arr(4L * batch * d) + 6 * arr(4L * batch * k)
                    + (long) io.proxstream.solvers.parallel.Parallel.threads() * 2 * arr(4L * batch * SparseStep.GRADIENT_BLOCK)));
        }
        if (t.algo().equals("adam-strong")) {
            // AuxK on dead latents: its dense route's BLAS buffers (off-heap), at their largest
            p.add(new Part("AuxK workspace (dead latents' codes and atoms, BLAS)",
                    io.proxstream.solvers.sae.AdamTrainer.auxKWorkspaceBytes(batch, d, m)));
        }
        boolean exact = pam && Trainers.decoder(t.decoder()).resolve(m).equals("exact");
        long stats = 0;
        if (pam) {
            p.add(new Part("encoder anchors (float)", arr(4 * md)));
        }
        if (exact) {
            stats = arr(8 * m * m) + arr(8 * md);
            p.add(new Part("decoder statistics Z^T Z and Z^T X (double)", stats));
            p.add(new Part("decoder solve workspace (m x m double)", arr(8 * m * m) + arr(8 * md)));
            // LAPACKE_dposv gets the workspace through JNI, which copies it into native memory for the call (outside the heap)
            p.add(new Part("decoder solve's native copy of the system (JNI, m x m and m x d double)", 8 * m * m + 8 * md));
        } else if (pam) {
            // the window's kept rows and codes (one batch above the window before it expires), the old rows' gradient
            // (m+1 x d double), and an update's correction and per-thread blocks
            long window = 4L * t.decoder().window() + batch; // up to 4 windows are kept until the first update
            long kept = window * (4L * d + 8 * k + 4) + 64 * (window / Math.max(1, batch) + 1);
            stats = kept + arr(8 * (m + 1) * d) + 2 * arr(8 * m);
            p.add(new Part("decoder window (rows and codes) and old-rows gradient (iterative step)", stats));
            p.add(new Part("decoder update workspace (iterative step)", arr(4 * (m + 1) * d) + arr(4L * batch * d)
                    // per thread: a block's r, p, q, z and correction ((m+1) × BLOCK floats each) and a kept batch's row products
                    + (long) io.proxstream.solvers.parallel.Parallel.threads() * (5 * arr(4 * (m + 1) * IterativeDecoder.BLOCK)
                    + arr(4L * batch * IterativeDecoder.BLOCK)) + 3 * arr(8 * m)));
        }
        if (checkpoints) {
            p.add(new Part("checkpoint snapshot (a copy of the trainer's state)", params + (discard ? 0 : 2 * grads) + stats));
        }
        p.add(new Part("per-latent bookkeeping and small buffers", 64 * m + (1L << 20)));
        if (queueBytes > 0) {
            p.add(new Part("input rows held (ingest queue and held-out reservoir, or benchmark batches)", queueBytes));
        }
        p.sort((a, b) -> Long.compare(b.bytes(), a.bytes()));
        return new MemoryPlan(List.copyOf(p));
    }

    /**
     * Heap of a served run's latent health ({@link io.proxstream.protocol.config.HealthConfig}): the reservoir and the
     * copy an evaluation reads, the evaluation's pre-activations (256 x m floats, twice as in training), its firing
     * counts, and the cosine scan's blocks (at most 2 x 2048 atoms and a 4 Mi-float product). 0 when off.
     */
    public static long heldOutBytes(io.proxstream.protocol.config.HealthConfig h, int d, long m) {
        if (!h.enabled()) {
            return 0;
        }
        return 2 * arr(4L * h.rows() * d) + 2 * arr(4L * Math.min(256, h.rows()) * m) + arr(8 * m)
                + 2 * arr(4L * 2048 * d) + arr(4L << 22);
    }

    /** G1's heap region size, or 0 under another collector. */
    private static final long REGION = g1Region();

    private static long g1Region() {
        try {
            var hotspot = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return hotspot.getVMOption("UseG1GC").getValue().equals("true")
                    ? Long.parseLong(hotspot.getVMOption("G1HeapRegionSize").getValue()) : 0;
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /**
     * The heap an array of {@code bytes} takes: G1 puts an array of half a region or more in whole regions of
     * its own ("humongous"), so a 2 MiB array in 1 MiB regions takes 3 of them.
     */
    static long arr(long bytes) {
        long header = 16;
        if (REGION > 0 && bytes + header >= REGION / 2) {
            return (bytes + header + REGION - 1) / REGION * REGION;
        }
        return bytes + header;
    }

    /**
     * Why a trainer of this shape cannot be built at all: an array longer than Java allows (an {@code int}
     * index), named with its size; empty when every array fits.
     */
    public static Optional<String> arrayProblem(TrainerConfig t, SaeConfig sae, int d, int batch) {
        long m = sae.latents();
        if (m * d > MAX_ARRAY) {
            return Optional.of(String.format(Locale.ROOT, "%d latents x width %d = %,d weights per matrix, beyond the largest"
                    + " Java array (%,d)", m, d, m * d, MAX_ARRAY));
        }
        if ((long) batch * m > MAX_ARRAY) {
            return Optional.of(String.format(Locale.ROOT, "batch %d x %d latents = %,d pre-activations, beyond the largest Java"
                    + " array (%,d); use a smaller batch", batch, m, (long) batch * m, MAX_ARRAY));
        }
        boolean pam = t.algo().equals("pam");
        boolean exact = pam && Trainers.decoder(t.decoder()).resolve(m).equals("exact");
        if (exact && m * m > MAX_ARRAY) {
            return Optional.of(String.format(Locale.ROOT, "the exact PAM-SGD decoder step keeps Z^T Z, %d x %d = %,d doubles,"
                    + " beyond the largest Java array (%,d): at most %d latents with the exact step; use --set"
                    + " trainer.decoder.step=cg", m, m, m * m, MAX_ARRAY, (long) Math.floor(Math.sqrt(MAX_ARRAY))));
        }
        // the iterative step writes its kept rows (up to 4 windows before the first update) as one checkpoint array
        long kept = 4L * t.decoder().window() + batch;
        if (pam && !exact && ((m + 1) * d > MAX_ARRAY || kept * d > MAX_ARRAY)) {
            return Optional.of(String.format(Locale.ROOT, "the iterative PAM-SGD decoder step keeps up to %,d rows of width %d"
                    + " (%,d values) and a (latents+1) x width gradient (%,d), beyond the largest Java array (%,d); use a smaller"
                    + " trainer.decoder.window", kept, d, kept * d, (m + 1) * d, MAX_ARRAY));
        }
        return Optional.empty();
    }

    public long total() {
        return parts.stream().mapToLong(Part::bytes).sum();
    }

    /** The process's peak resident set (VmHWM), or 0 where /proc is not there. */
    public static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    /** {@code 2.0 GiB} and the like. */
    public static String size(long bytes) {
        if (bytes >= 1L << 30) {
            return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        }
        return String.format(Locale.ROOT, "%.0f MiB", Math.max(1, bytes / (double) (1L << 20)));
    }

    /** The total and its largest parts, for a message. */
    public String describe() {
        StringBuilder sb = new StringBuilder(size(total()));
        sb.append(" (");
        for (int i = 0; i < Math.min(4, parts.size()); i++) {
            sb.append(i > 0 ? ", " : "").append(parts.get(i).what()).append(' ').append(size(parts.get(i).bytes()));
        }
        return sb.append(parts.size() > 4 ? ", ...)" : ")").toString();
    }

    /**
     * Refuses a run that cannot be built or does not fit {@code available} bytes of heap beside {@code used}
     * (other runs), naming the estimate, the limit and what to change.
     */
    public static void require(String run, TrainerConfig t, SaeConfig sae, int d, int batch, boolean checkpoints, long queueBytes,
                               long used, long available) {
        Optional<String> array = arrayProblem(t, sae, d, batch);
        if (array.isPresent()) {
            throw new IllegalArgumentException("run '" + run + "' cannot be built: " + array.get());
        }
        MemoryPlan plan = of(t, sae, d, batch, checkpoints, queueBytes);
        long limit = (long) (HEAP_SHARE * available);
        if (used + plan.total() > limit) {
            throw new IllegalStateException("run '" + run + "' needs about " + plan.describe() + " of memory (planned against the heap; the"
                    + " BLAS buffers it names are off-heap)"
                    + (used > 0 ? ", beside " + size(used) + " for the runs already here" : "") + "; this JVM may use "
                    + size(limit) + " (" + Math.round(100 * HEAP_SHARE) + " % of its maximum heap " + size(available)
                    + "). Give the JVM more heap (e.g. PROXSTREAM_JAVA_OPTS=-Xmx" + Math.max(1, (long) Math.ceil(
                    (used + plan.total()) / HEAP_SHARE / (1L << 30)) + 1) + "g ./proxstream ...) or make the run smaller"
                    + " (latents, batch).");
        }
    }
}
