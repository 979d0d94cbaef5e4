package io.proxstream.solvers.blas;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class NumericsCheckTest {

    @Test
    void everyRoutineProxstreamReachesIsCheckedAndPassesOnThisMachine() {
        NumericsCheck.Report r = NumericsCheck.run(11);
        var routines = r.results().stream().map(NumericsCheck.Result::routine).collect(Collectors.toSet());
        for (String need : List.of("nd4j gemm f32", "nd4j mmul f32", "Gemm.abT f32", "cblas_sgemm", "cblas_dgemm", "cblas_dsyrk",
                "cblas_dtrsm", "dposv", "dsyevd residual", "dsyevd orthogonality", "sgeqrf+sormqr QR=A", "sormqr orthogonality")) {
            assertTrue(routines.contains(need), "not checked: " + need);
        }
        assertTrue(r.results().stream().anyMatch(x -> x.routine().equals("dposv") && x.shape().startsWith("768x768")),
                "a decoder solve of training's order");
        assertTrue(r.passed(), "self-check failed on " + r.blas().describe() + ":\n" + r.table());
        for (NumericsCheck.Result x : r.results()) {
            assertTrue(x.ratio() < 0.5, "no routine should come near its bound on a correct BLAS: " + x);
        }
    }

    @Test
    void aProductWithOneWrongEntryOrANanFailsAndTheRoundedExactProductPasses() {
        int m = 40;
        int n = 30;
        int k = 50;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] a = new float[m * k];
        float[] b = new float[k * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextDouble(-1, 1);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) rnd.nextDouble(-1, 1);
        }
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += (double) a[i * k + p] * b[p * n + j];
                }
                c[i * n + j] = (float) s;
            }
        }
        assertTrue(NumericsCheck.checkProduct("t", a, false, b, false, m, n, k, c).passed());
        float[] wrong = c.clone();
        wrong[17] += 0.05f; // a kernel that drops or doubles one term of a sum makes errors of this size
        NumericsCheck.Result bad = NumericsCheck.checkProduct("t", a, false, b, false, m, n, k, wrong);
        assertFalse(bad.passed(), bad.toString());
        float[] nan = c.clone();
        nan[0] = Float.NaN;
        assertFalse(NumericsCheck.checkProduct("t", a, false, b, false, m, n, k, nan).passed());
        // the transposed reading of the same arrays is a different product: caught as well
        assertFalse(NumericsCheck.checkProduct("t", a, true, b, false, m, n, k, c).passed());
    }

    @Test
    void theFailureMessageNamesRoutineKernelSizeErrorAndHowToChooseAnotherKernel() {
        BlasInfo blas = new BlasInfo("SkylakeX", "OpenBLAS 0.3.19 DYNAMIC_ARCH", 2, null);
        NumericsCheck.Report r = new NumericsCheck.Report(blas, List.of(
                new NumericsCheck.Result("cblas_dgemm", "16x16 k=16 NT", 1e-15, 1e-12, 0.1),
                new NumericsCheck.Result("dposv", "768x768 rhs=32", 3.5, 1e-9, 2)), 1_000_000);
        assertFalse(r.passed());
        String msg = r.failureMessage();
        for (String part : List.of("SkylakeX", "dposv", "768x768 rhs=32", "3.500e+00", "OPENBLAS_CORETYPE=Haswell", "doctor")) {
            assertTrue(msg.contains(part), "missing '" + part + "' in: " + msg);
        }
        assertFalse(msg.contains("cblas_dgemm"), "only the failures are named");
    }
}
