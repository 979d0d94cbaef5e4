package io.proxstream.actors.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;
import org.junit.jupiter.api.Test;

class MainTest {

    private record Outcome(int code, String out, String err) {
    }

    private static Outcome run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(List.of(args), new PrintStream(out, true), new PrintStream(err, true));
        return new Outcome(code, out.toString(), err.toString());
    }

    @Test
    void badInvocationsFailWithAClearMessageAndExitCode2() {
        Outcome o = run("trian");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("unknown command 'trian'"), o.err());
        o = run("train", "--kk", "3");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("unknown option --kk") && o.err().contains("--k"), o.err());
        o = run("train", "--k");
        assertTrue(o.err().contains("--k needs a value"), o.err());
        o = run("train", "--k", "-3");
        assertTrue(o.err().contains("sae.k must be in [1, latents=1024]"), o.err());
        o = run("train", "--source", "parquet:x");
        assertTrue(o.err().contains("unknown source 'parquet:x'"), o.err());
        o = run("train", "--source", "npy:/nonexistent/file.npy", "--port", "-1");
        assertEquals(1, o.code());
        assertTrue(o.err().contains("/nonexistent/file.npy"), o.err());
        o = run("bench", "nope");
        assertTrue(o.err().contains("unknown benchmark 'nope'"), o.err());
        o = run("experiment", "nope");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("unknown experiment 'nope'; available: spline-toy, sae-mnist, sae-lm, sae-synthetic, segmentation, tv-baselines, ct"), o.err());
        o = run("reconstruct", "--angles", "sparse:0");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("angle set 'sparse:0'"), o.err());
        o = run("reconstruct", "--problem", "deblur", "--blur", "disk:3");
        assertTrue(o.err().contains("blur 'disk:3' is not gaussian:SIGMA, box:SIZE or motion:LENGTH[:ANGLE]"), o.err());
        o = run("reconstruct", "--problem", "deblur", "--method", "fbp");
        assertTrue(o.err().contains("fbp reconstructs CT data only"), o.err());
        o = run("reconstruct", "--method", "art");
        assertTrue(o.err().contains("unknown method 'art'"), o.err());
        o = run("segment", "--method", "kmeans");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("unknown method 'kmeans'; use joint, sequential, mbo, clean or all"), o.err());
        o = run("segment", "--distortion", "salt:0.1");
        assertTrue(o.err().contains("distortion 'salt:0.1' is not noise:SIGMA or blur:SIGMA[:NOISE]"), o.err());
        o = run("segment", "--sdie", "1.5");
        assertTrue(o.err().contains("lambda in (0, 1]"), o.err());
        o = run("segment", "--input", "/nonexistent.png", "--labels", "0:0,0,1,1;1:2,2,3,3");
        assertTrue(o.err().contains("--input /nonexistent.png: no such file"), o.err());
    }

    @Test
    void doctorPrintsTheKernelAndTheSelfCheckOfEveryRoutine() {
        Outcome o = run("doctor", "--no-gemm");
        assertEquals(0, o.code(), o.err());
        for (String part : List.of("vector features", "kernels it runs", "kernel ", "OpenBLAS 0.3.31", "cblas_dtrsm", "dposv",
                "dsyevd residual", "sormqr orthogonality", "nd4j gemm f32", "every routine passed")) {
            assertTrue(o.out().contains(part), "missing '" + part + "' in:\n" + o.out());
        }
        assertTrue(!o.out().contains("GFLOP/s"), "--no-gemm skips the throughput measurement");
        assertEquals(0, run("doctor", "--help").code());
    }

    @Test
    void computingCommandsRunTheSelfCheckFirstAndSayWhichKernelRuns() {
        Outcome o = run("train", "--max-samples", "512", "--port", "-1", "--out", System.getProperty("java.io.tmpdir") + "/ps-main-test");
        assertEquals(0, o.code(), o.err());
        assertTrue(o.err().contains("numerics self-check passed"), o.err());
        assertTrue(o.err().contains("kernel "), o.err());
    }

    @Test
    void helpListsTheOptions() {
        Outcome o = run("train", "--help");
        assertEquals(0, o.code());
        assertTrue(o.out().contains("--max-samples N") && o.out().contains("--source SRC"), o.out());
        assertEquals(0, run("help").code());
        assertEquals(2, run().code());
    }

    @Test
    void reconstructUsesATrainedRegulariserFileAndRefusesAMismatchedOne(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        var model = new io.proxstream.actors.image.ForwardModel("ct", "sparse:12", 0, 1, "gaussian:1", 0.01,
                io.proxstream.solvers.inverse.Fbp.Filter.HANN, 1);
        var a = (io.proxstream.solvers.inverse.RayTransform) model.operator(16, 16);
        var critic = new io.proxstream.solvers.nn.Critic(io.proxstream.solvers.nn.Critic.Kind.AWCR,
                new io.proxstream.solvers.nn.Critic.Architecture(2, 3, 3, new int[] {2}, 1e-3), 16, a, 1, 2);
        java.nio.file.Path file = dir.resolve("awcr.safetensors");
        io.proxstream.actors.learned.RegulariserFile.save(file, critic, a, a.normEstimate(20, 1), 0.5, 4, 10, java.util.Map.of());
        Outcome o = run("reconstruct", "--regulariser", file.toString(), "--method", "awcr-pd", "--angles", "sparse:12",
                "--input", "phantom:ellipses", "--iterations", "20", "--out", dir.resolve("run").toString());
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("awcr-pd"), o.out());
        String report = java.nio.file.Files.readString(dir.resolve("run/report.md"));
        assertTrue(report.contains("images reconstructed: 1, rejected: 0"), report);
        assertTrue(java.nio.file.Files.isRegularFile(dir.resolve("run/ellipses-0-awcr-pd.png")), "16² phantom reconstructed");
        o = run("reconstruct", "--regulariser", file.toString(), "--method", "awcr-pd", "--angles", "sparse:10");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("was trained for 12 angles") && o.err().contains("this run has 10 angles"), o.err());
        o = run("reconstruct", "--regulariser", file.toString(), "--method", "acr-gd", "--angles", "sparse:12");
        assertTrue(o.err().contains("does not fit") && o.err().contains("use awcr-gd or awcr-pd"), o.err());
        o = run("reconstruct", "--regulariser", dir.resolve("missing.safetensors").toString(), "--method", "awcr-pd");
        assertEquals(1, o.code());
        assertTrue(o.err().contains("missing.safetensors"), o.err());
    }

    @Test
    void reconstructReportsUnreadableImagesAndGoesOn(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path in = java.nio.file.Files.createDirectories(dir.resolve("in"));
        io.proxstream.protocol.format.Png.writeGrey(in.resolve("a.png"), io.proxstream.solvers.inverse.Phantoms.sheppLogan(24), 24, 24);
        java.nio.file.Files.write(in.resolve("b.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G'});
        java.nio.file.Path out = dir.resolve("out");
        Outcome o = run("reconstruct", "--problem", "denoise", "--noise", "0.05", "--lambda", "0.05", "--iterations", "50",
                "--input", in.toString(), "--out", out.toString());
        assertEquals(0, o.code(), o.err() + o.out());
        assertTrue(o.out().contains("rejected b.png (input): cannot read"), o.out());
        assertEquals(2, java.nio.file.Files.readAllLines(out.resolve("results.csv")).size());
        String report = java.nio.file.Files.readString(out.resolve("report.md"));
        assertTrue(report.contains("images reconstructed: 1, rejected: 1"), report);
        assertTrue(java.nio.file.Files.exists(out.resolve("a-tv-pdhg.png")));
        // nothing usable: exit code 1
        java.nio.file.Files.delete(in.resolve("a.png"));
        o = run("reconstruct", "--problem", "denoise", "--input", in.toString(), "--out", dir.resolve("out2").toString());
        assertEquals(1, o.code(), o.out());
    }
}
