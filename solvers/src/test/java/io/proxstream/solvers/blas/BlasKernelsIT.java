package io.proxstream.solvers.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The numerics self-check and a short PAM-SGD run (decoder solves of order 1024) in a child JVM under
 * every OpenBLAS kernel this CPU can run that proxstream users meet: OpenBLAS's own choice (with
 * {@code OPENBLAS_CORETYPE} removed from the child's environment), Haswell where AVX2 is present,
 * SkylakeX and Cooperlake where AVX-512 (and BF16) is, Sandybridge where AVX is, and the generic
 * x86-64 kernel Prescott. A kernel that computes garbage on the CI machine fails here with its name.
 *
 * <p>Each child must report the kernel it was asked for ({@code openblas_get_corename}: OpenBLAS falls
 * back silently to another one otherwise), pass the self-check, and train to the same held-out FVU as
 * OpenBLAS's own choice within 1 % (the kernels differ only in rounding; on our machines they agreed
 * to six digits).
 */
class BlasKernelsIT {

    record Probe(String kernel, Map<String, String> values, String output) {
        String get(String key) {
            String v = values.get(key);
            if (v == null) {
                throw new AssertionError(kernel + ": no " + key + " in the child's output:\n" + output);
            }
            return v;
        }
    }

    private static Probe probe(String kernel) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), KernelProbe.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("OPENBLAS_CORETYPE");
        if (kernel != null) {
            pb.environment().put("OPENBLAS_CORETYPE", kernel);
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe under " + kernel + " did not finish");
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0 && line.substring(0, eq).matches("[a-z0-9]+")) {
                values.merge(line.substring(0, eq), line.substring(eq + 1).trim(), (a, b) -> a + "; " + b);
            }
        }
        String name = kernel == null ? "auto" : kernel;
        assertEquals(0, p.exitValue(), name + ": probe exited " + p.exitValue() + ":\n" + out);
        return new Probe(name, values, out);
    }

    @Test
    void everyKernelThisCpuRunsPassesTheSelfCheckAndTrainsAlike() throws Exception {
        Set<String> cpu = CpuKernels.cpuFlags();
        List<String> forced = new ArrayList<>();
        for (String k : List.of("Prescott", "Sandybridge", "Haswell", "SkylakeX", "Cooperlake")) {
            if (CpuKernels.find(k).orElseThrow().runsOn(cpu)) {
                forced.add(k);
            }
        }
        assertTrue(forced.contains("Prescott"), "the generic kernel runs on every x86-64 CPU; flags " + cpu);

        Probe auto = probe(null);
        String detected = auto.get("core");
        assertTrue(CpuKernels.runnable(cpu).stream().anyMatch(k -> k.name().equalsIgnoreCase(detected))
                        || detected.equalsIgnoreCase("SapphireRapids"),
                "OpenBLAS chose " + detected + ", which is not a kernel this CPU can run");
        List<String> failures = new ArrayList<>();
        List<Probe> probes = new ArrayList<>(List.of(auto));
        for (String k : forced) {
            probes.add(probe(k));
        }
        double fvuAuto = Double.parseDouble(auto.get("fvu"));
        for (Probe pr : probes) {
            if (!pr.kernel().equals("auto") && !pr.get("core").equalsIgnoreCase(pr.kernel())) {
                failures.add(pr.kernel() + ": OpenBLAS runs " + pr.get("core") + " instead");
            }
            if (!pr.get("check").equals("passed")) {
                failures.add(pr.kernel() + ": self-check failed: " + pr.values().get("failure"));
            }
            double fvu0 = Double.parseDouble(pr.get("fvu0"));
            double fvu = Double.parseDouble(pr.get("fvu"));
            assertEquals("6", pr.get("solves"), pr.kernel());
            if (!(fvu < 0.5 * fvu0)) {
                failures.add(pr.kernel() + ": PAM-SGD did not learn: FVU " + fvu0 + " -> " + fvu);
            }
            if (!(Math.abs(fvu - fvuAuto) <= 0.01 * fvuAuto)) {
                failures.add(pr.kernel() + ": FVU " + fvu + " differs from OpenBLAS's own choice (" + detected + ", " + fvuAuto + ")");
            }
            System.out.printf("kernel %-12s core %-12s check %s FVU %.6f -> %.6f%n", pr.kernel(), pr.get("core"), pr.get("check"),
                    fvu0, fvu);
        }
        assertFalse(probes.size() < 2, "at least the automatic and the generic kernel");
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }
}
