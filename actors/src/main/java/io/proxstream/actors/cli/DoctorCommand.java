package io.proxstream.actors.cli;

import io.proxstream.solvers.blas.BlasDoctor;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code proxstream doctor}: CPU, BLAS build and kernel, the numerics self-check table, GEMM against peak. */
@Command(name = "doctor", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        header = "the CPU, the BLAS kernel, the numerics self-check of every BLAS/LAPACK routine, GEMM speed", usageHelpAutoWidth = true,
        description = {"Prints the CPU (model, clock, vector features, the OpenBLAS kernels it can run), the BLAS build and the"
                + " kernel OpenBLAS selected (or OPENBLAS_CORETYPE forced), the numerics self-check of every BLAS/LAPACK routine"
                + " proxstream reaches against a plain-Java reference, and GEMM GFLOP/s against the CPU's peak.",
            "Exit code 1 if a routine failed.", ""})
final class DoctorCommand implements Callable<Integer> {
    private final PrintStream out;

    @Option(names = "--no-gemm", description = "skip the GEMM throughput measurement (a few seconds)")
    boolean noGemm;

    DoctorCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() {
        return BlasDoctor.report(out, !noGemm) ? 0 : 1;
    }
}
