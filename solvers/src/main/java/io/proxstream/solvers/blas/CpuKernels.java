package io.proxstream.solvers.blas;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * OpenBLAS's x86-64 kernels (the names {@code OPENBLAS_CORETYPE} accepts) and the CPU features each
 * needs, read against {@code /proc/cpuinfo}.
 *
 * <p>OpenBLAS itself does not check a forced kernel against the CPU: a kernel the CPU cannot run dies of
 * SIGILL at the first product, and an unknown name falls back silently to a kernel picked from the
 * CPU's features. This class lets the command line refuse both before any native library is loaded. It
 * touches no native code.
 *
 * <p>Feature sets: the instruction-set extensions the kernel's assembly uses, from OpenBLAS's kernel
 * directories (FMA4 for the AMD Bulldozer family, AVX2+FMA for Haswell and Zen, AVX-512 F/CD/BW/DQ/VL for
 * SkylakeX, plus BF16 for Cooperlake). The 32-bit kernels (Katmai, Coppermine, Northwood, Banias, Athlon)
 * are replaced by Prescott on x86-64 and are not offered. {@code SapphireRapids} is a name OpenBLAS may
 * detect but (0.3.31) cannot be forced: {@code OPENBLAS_CORETYPE=SapphireRapids} falls back silently, so it
 * is refused here like any unknown name.
 */
public final class CpuKernels {
    private CpuKernels() {
    }

    /** A kernel name as OpenBLAS spells it and the {@code /proc/cpuinfo} flags it needs. */
    public record Kernel(String name, List<String> flags) {
        public boolean runsOn(Set<String> cpu) {
            return cpu.containsAll(flags);
        }
    }

    private static final List<String> SSE3 = List.of("sse2", "pni");
    private static final List<String> SSSE3 = List.of("sse2", "pni", "ssse3");
    private static final List<String> AVX512 = List.of("avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl");

    /** The kernels of a DYNAMIC_ARCH x86-64 OpenBLAS build, oldest first. */
    public static final List<Kernel> KERNELS = List.of(
            new Kernel("Prescott", SSE3),
            new Kernel("Core2", SSSE3),
            new Kernel("Penryn", plus(SSSE3, "sse4_1")),
            new Kernel("Dunnington", plus(SSSE3, "sse4_1")),
            new Kernel("Nehalem", plus(SSSE3, "sse4_1", "sse4_2")),
            new Kernel("Atom", SSSE3),
            new Kernel("Opteron", SSE3),
            new Kernel("Opteron_SSE3", SSE3),
            new Kernel("Barcelona", plus(SSE3, "sse4a")),
            new Kernel("Bobcat", plus(SSSE3, "sse4a")),
            new Kernel("Nano", SSSE3),
            new Kernel("Sandybridge", plus(SSSE3, "sse4_1", "sse4_2", "avx")),
            new Kernel("Bulldozer", plus(SSSE3, "avx", "fma4")),
            new Kernel("Piledriver", plus(SSSE3, "avx", "fma4", "fma")),
            new Kernel("Steamroller", plus(SSSE3, "avx", "fma4", "fma")),
            new Kernel("Excavator", plus(SSSE3, "avx", "fma4", "fma", "avx2")),
            new Kernel("Haswell", plus(SSSE3, "avx", "avx2", "fma")),
            new Kernel("Zen", plus(SSSE3, "avx", "avx2", "fma")),
            new Kernel("SkylakeX", AVX512),
            new Kernel("Cooperlake", plus(AVX512, "avx512_bf16")));

    private static List<String> plus(List<String> base, String... more) {
        List<String> l = new ArrayList<>(base);
        l.addAll(Arrays.asList(more));
        return List.copyOf(l);
    }

    /** The kernel of that name, case-insensitive as OpenBLAS compares it. */
    public static Optional<Kernel> find(String name) {
        return KERNELS.stream().filter(k -> k.name().equalsIgnoreCase(name.trim())).findFirst();
    }

    /** The flags of the first CPU in {@code /proc/cpuinfo} (empty where it cannot be read). */
    public static Set<String> cpuFlags() {
        return cpuFlags(Path.of("/proc/cpuinfo"));
    }

    static Set<String> cpuFlags(Path cpuinfo) {
        return cpuinfo(cpuinfo, "flags").map(v -> (Set<String>) new LinkedHashSet<>(Arrays.asList(v.split("\\s+"))))
                .orElse(Set.of());
    }

    /** The value of the first {@code key : value} line of {@code /proc/cpuinfo}, if it can be read. */
    public static Optional<String> cpuinfo(String key) {
        return cpuinfo(Path.of("/proc/cpuinfo"), key);
    }

    static Optional<String> cpuinfo(Path cpuinfo, String key) {
        try {
            for (String line : Files.readAllLines(cpuinfo)) {
                if (line.startsWith(key)) {
                    return Optional.of(line.substring(line.indexOf(':') + 1).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux or not readable: nothing known
        }
        return Optional.empty();
    }

    /** The kernels this CPU can run. */
    public static List<Kernel> runnable(Set<String> cpu) {
        return KERNELS.stream().filter(k -> k.runsOn(cpu)).toList();
    }

    /**
     * Why {@code OPENBLAS_CORETYPE=value} cannot be used on a CPU with these flags, or empty if it can
     * (also empty when the flags are unknown: then nothing can be said).
     */
    public static Optional<String> refusal(String value, Set<String> cpu) {
        String names = runnable(cpu).stream().map(Kernel::name).collect(Collectors.joining(", "));
        Optional<Kernel> k = find(value);
        if (k.isEmpty()) {
            return Optional.of("OPENBLAS_CORETYPE=" + value + " is not an OpenBLAS kernel (OpenBLAS would silently pick another). "
                    + (cpu.isEmpty() ? "Known kernels: " + KERNELS.stream().map(Kernel::name).collect(Collectors.joining(", "))
                    : "Kernels this CPU can run: " + names) + "; or unset OPENBLAS_CORETYPE to let OpenBLAS detect the CPU.");
        }
        if (cpu.isEmpty() || k.get().runsOn(cpu)) {
            return Optional.empty();
        }
        List<String> missing = k.get().flags().stream().filter(f -> !cpu.contains(f)).toList();
        return Optional.of("OPENBLAS_CORETYPE=" + value + " needs CPU features this CPU lacks (" + String.join(", ", missing)
                + "); it would die of an illegal instruction. Kernels this CPU can run: " + names
                + "; or unset OPENBLAS_CORETYPE to let OpenBLAS detect the CPU.");
    }

    /** Why this process's {@code OPENBLAS_CORETYPE} cannot be used on this CPU, or empty if it is unset or fine. */
    public static Optional<String> environmentRefusal() {
        String v = System.getenv("OPENBLAS_CORETYPE");
        return v == null || v.isBlank() ? Optional.empty() : refusal(v, cpuFlags());
    }

    /** Checks {@code OPENBLAS_CORETYPE} against this CPU (the launcher's {@code test}); exits 2 with the reason if it cannot be used. */
    public static void main(String[] args) {
        Optional<String> why = environmentRefusal();
        if (why.isPresent()) {
            System.err.println("error: " + why.get());
            System.exit(2);
        }
    }

    /** A short description of the CPU's vector features for reports. */
    public static String vectorFeatures(Set<String> cpu) {
        return List.of("sse4_2", "avx", "avx2", "fma", "fma4", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16",
                        "amx_tile").stream().filter(cpu::contains).collect(Collectors.joining(" "));
    }
}
