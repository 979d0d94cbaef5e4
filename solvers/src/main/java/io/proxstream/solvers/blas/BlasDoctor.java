package io.proxstream.solvers.blas;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code proxstream doctor}: the CPU, the BLAS build and kernel, the numerics self-check and GEMM
 * throughput against the CPU's peak.
 *
 * <p>Peak = logical CPUs × FMA units per core × SIMD lanes × 2 flops × clock. The lanes follow the
 * widest vector extension the CPU reports (AVX-512: 16 f32 / 8 f64, AVX/AVX2: 8 / 4, SSE: 4 / 2); FMA
 * units per core are assumed to be 2 (Intel server cores since Skylake-SP Gold, AMD Zen 2–4), which no
 * register reports; without FMA a separate multiplier and adder give the same 2 flops per lane per
 * cycle. The clock is {@code cpuinfo_max_freq} where the kernel exposes it, else {@code cpu MHz} of
 * {@code /proc/cpuinfo} (in a VM the nominal clock; turbo can exceed it, so a ratio above 100 % is
 * possible). Logical CPUs are counted as cores: with two hyper-threads per core the true peak is half.
 */
public final class BlasDoctor {
    private BlasDoctor() {
    }

    /** Sustained GEMM rate: best of {@code reps} timed products after one warm-up. */
    public record Rate(String what, int n, double gflops) {
    }

    /** The peak and how it was derived. */
    public record Peak(double f32, double f64, String derivation) {
    }

    public static Peak peak(Set<String> flags, int cpus) {
        int lanes32 = flags.contains("avx512f") ? 16 : flags.contains("avx") ? 8 : 4;
        double ghz = clockGhz();
        double f32 = cpus * 2.0 * lanes32 * 2 * ghz;
        String how = String.format(Locale.ROOT, "%d logical CPUs x 2 FMA units (assumed) x %d f32 lanes (%s) x 2 flops x %.2f GHz (%s)",
                cpus, lanes32, lanes32 == 16 ? "AVX-512" : lanes32 == 8 ? "AVX" : "SSE", ghz, clockSource());
        return new Peak(f32, f32 / 2, how);
    }

    /** ND4J's float GEMM (as training calls it) on n × n × n. */
    public static Rate sgemm(int n, int reps) {
        try (INDArray a = Nd4j.rand(DataType.FLOAT, n, n); INDArray b = Nd4j.rand(DataType.FLOAT, n, n);
             INDArray c = Nd4j.create(DataType.FLOAT, n, n)) {
            Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
            long best = Long.MAX_VALUE;
            for (int r = 0; r < reps; r++) {
                long t = System.nanoTime();
                Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
                best = Math.min(best, System.nanoTime() - t);
            }
            return new Rate("sgemm f32 (ND4J)", n, 2.0 * n * n * n / best);
        }
    }

    /** OpenBLAS's double GEMM (the kernel inside the decoder solve's Cholesky) on n × n × n. */
    public static Rate dgemm(int n, int reps) {
        SplittableRandom rnd = new SplittableRandom(1);
        double[] a = rnd.doubles((long) n * n).toArray();
        double[] b = rnd.doubles((long) n * n).toArray();
        double[] c = new double[n * n];
        Runnable once = () -> openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, n, n, n, 1.0, a,
                n, b, n, 0.0, c, n);
        once.run();
        long best = Long.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            long t = System.nanoTime();
            once.run();
            best = Math.min(best, System.nanoTime() - t);
        }
        return new Rate("dgemm f64 (cblas)", n, 2.0 * n * n * n / best);
    }

    /** Prints the whole report; returns whether the self-check passed. */
    public static boolean report(PrintStream out, boolean gemm) {
        Set<String> flags = CpuKernels.cpuFlags();
        int cpus = Runtime.getRuntime().availableProcessors();
        out.println("CPU");
        out.printf(Locale.ROOT, "  model            %s%n", CpuKernels.cpuinfo("model name").orElse("unknown"));
        out.printf(Locale.ROOT, "  logical CPUs     %d (available to this JVM)%n", cpus);
        out.printf(Locale.ROOT, "  clock            %.2f GHz (%s)%n", clockGhz(), clockSource());
        out.printf(Locale.ROOT, "  vector features  %s%n", CpuKernels.vectorFeatures(flags));
        out.printf(Locale.ROOT, "  all flags        %s%n", String.join(" ", flags));
        out.printf(Locale.ROOT, "  kernels it runs  %s%n",
                CpuKernels.runnable(flags).stream().map(CpuKernels.Kernel::name).collect(Collectors.joining(", ")));
        BlasInfo blas = BlasInfo.current();
        out.println("BLAS");
        out.printf(Locale.ROOT, "  build            %s%n", blas.config());
        out.printf(Locale.ROOT, "  kernel           %s (%s)%n", blas.coreName(), blas.chosenBy());
        out.printf(Locale.ROOT, "  threads          %d (idle workers spin 2^%s cycles before sleeping: OPENBLAS_THREAD_TIMEOUT)%n",
                blas.threads(), System.getenv().getOrDefault("OPENBLAS_THREAD_TIMEOUT", "28, OpenBLAS's default,"));
        out.printf(Locale.ROOT, "  libraries        JavaCPP %s, OpenBLAS preset %s, ND4J %s%n", version("org.bytedeco", "javacpp"),
                version("org.bytedeco", "openblas"), version("org.nd4j", "nd4j-native"));
        out.println("Memory");
        out.printf(Locale.ROOT, "  heap             at most %.1f GiB (runs are planned against 85 %% of it; the launcher gives 60 %% of the"
                + " machine's or container's memory, PROXSTREAM_JAVA_OPTS replaces that)%n", Runtime.getRuntime().maxMemory() / 1073741824.0);
        out.printf(Locale.ROOT, "  off-heap         JavaCPP at most %.1f GiB, heap + off-heap at most %.1f GiB%n",
                org.bytedeco.javacpp.Pointer.maxBytes() / 1073741824.0, org.bytedeco.javacpp.Pointer.maxPhysicalBytes() / 1073741824.0);
        NumericsCheck.Report check = NumericsCheck.once();
        out.printf(Locale.ROOT, "Numerics self-check (error <= C*(n+2)*u*|A|_F*|B|_F, C = %.0f, u = unit roundoff, n = length of the sums; %d checks in %.0f ms)%n",
                NumericsCheck.C, check.results().size(), check.nanos() / 1e6);
        for (String line : check.table().split("\n")) {
            out.println("  " + line);
        }
        out.println(check.passed() ? "  every routine passed" : "  " + check.failureMessage().replace("\n", "\n  "));
        if (gemm) {
            Peak peak = peak(flags, cpus);
            out.println("GEMM (best of 10 after a warm-up; peak = " + peak.derivation() + ")");
            for (Rate r : List.of(sgemm(1024, 10), dgemm(1024, 10))) {
                double p = r.what().startsWith("s") ? peak.f32() : peak.f64();
                out.printf(Locale.ROOT, "  %-18s %d^3  %7.1f GFLOP/s of %7.1f peak (%.0f %%)%n", r.what(), r.n(), r.gflops(), p,
                        100 * r.gflops() / p);
            }
        }
        return check.passed();
    }

    private static double clockGhz() {
        try {
            Path max = Path.of("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
            if (Files.isReadable(max)) {
                return Long.parseLong(Files.readString(max).trim()) / 1e6;
            }
        } catch (IOException | NumberFormatException e) {
            // fall through to /proc/cpuinfo
        }
        try {
            return Double.parseDouble(CpuKernels.cpuinfo("cpu MHz").orElse("NaN")) / 1000;
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    private static String clockSource() {
        return Files.isReadable(Path.of("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")) ? "cpuinfo_max_freq"
                : "'cpu MHz' of /proc/cpuinfo";
    }

    private static String version(String group, String artifact) {
        try {
            String v = Loader.getVersion(group, artifact);
            return v == null ? "?" : v;
        } catch (IOException | RuntimeException e) {
            return "?";
        }
    }

    /** Standalone entry (the same report as {@code proxstream doctor}); exits 1 if the self-check failed. */
    public static void main(String[] args) {
        boolean ok = report(System.out, !Arrays.asList(args).contains("--no-gemm"));
        System.exit(ok ? 0 : 1);
    }
}
