package io.proxstream.actors.cli;

import io.proxstream.solvers.blas.BlasDoctor;
import java.io.PrintStream;
import java.util.List;

/** {@code proxstream doctor}: CPU, BLAS build and kernel, the numerics self-check table, GEMM against peak. */
final class DoctorCommand {
    private DoctorCommand() {
    }

    static int run(List<String> args, PrintStream out) {
        Flags flags = new Flags("doctor").option("no-gemm", "skip the GEMM throughput measurement (a few seconds)");
        Flags.Parsed p = flags.parse(args);
        if (p.has("help")) {
            out.print(flags.help("proxstream doctor [--no-gemm]", """
                    Prints the CPU (model, clock, vector features, the OpenBLAS kernels it can run), the
                    BLAS build and the kernel OpenBLAS selected (or OPENBLAS_CORETYPE forced), the numerics
                    self-check of every BLAS/LAPACK routine proxstream reaches against a plain-Java
                    reference, and GEMM GFLOP/s against the CPU's peak. Exit code 1 if a routine failed."""));
            return 0;
        }
        return BlasDoctor.report(out, !p.has("no-gemm")) ? 0 : 1;
    }
}
