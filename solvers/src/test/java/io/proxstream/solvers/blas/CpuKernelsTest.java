package io.proxstream.solvers.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CpuKernelsTest {
    private static final Set<String> AVX2_ONLY = Set.of("sse2", "pni", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma");

    @Test
    void flagsAreReadFromCpuinfo(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("cpuinfo");
        Files.writeString(f, "processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse2 pni avx2 fma avx512f\n\nprocessor\t: 1\nflags\t: fpu\n");
        assertEquals(Set.of("fpu", "sse2", "pni", "avx2", "fma", "avx512f"), CpuKernels.cpuFlags(f));
        assertEquals(Set.of(), CpuKernels.cpuFlags(dir.resolve("missing")));
    }

    @Test
    void anAvx2OnlyCpuRunsHaswellAndZenButNotAvx512OrFma4Kernels() {
        var names = CpuKernels.runnable(AVX2_ONLY).stream().map(CpuKernels.Kernel::name).toList();
        assertTrue(names.containsAll(java.util.List.of("Prescott", "Sandybridge", "Haswell", "Zen")), names.toString());
        assertFalse(names.contains("SkylakeX"));
        assertFalse(names.contains("Cooperlake"));
        assertFalse(names.contains("Bulldozer"), "FMA4 is AMD-only and absent here");
    }

    @Test
    void aKernelTheCpuCannotRunIsRefusedNamingTheMissingFeaturesAndTheAlternatives() {
        String why = CpuKernels.refusal("skylakex", AVX2_ONLY).orElseThrow();
        assertTrue(why.contains("OPENBLAS_CORETYPE=skylakex"), why);
        assertTrue(why.contains("avx512f"), why);
        assertTrue(why.contains("Haswell"), why);
        assertTrue(why.contains("illegal instruction"), why);
        assertTrue(CpuKernels.refusal("Haswell", AVX2_ONLY).isEmpty());
        assertTrue(CpuKernels.refusal(" haswell ", AVX2_ONLY).isEmpty(), "OpenBLAS compares names case-insensitively");
    }

    @Test
    void anUnknownNameIsRefusedBecauseOpenBlasWouldSilentlyPickAnother() {
        String why = CpuKernels.refusal("Skylake", AVX2_ONLY).orElseThrow();
        assertTrue(why.contains("not an OpenBLAS kernel"), why);
        assertTrue(why.contains("Haswell"), why);
        assertTrue(CpuKernels.refusal("SapphireRapids", AVX2_ONLY).isPresent(), "cannot be forced in OpenBLAS 0.3.31");
        assertTrue(CpuKernels.refusal("Bogus", Set.of()).orElseThrow().contains("Known kernels"));
    }
}
