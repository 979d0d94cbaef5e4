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
        assertTrue(o.err().contains("'trian'") && o.err().contains("Did you mean: proxstream train"), o.err());
        o = run("train", "--kk", "3");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("Unknown option") && o.err().contains("'--kk'") && o.err().contains("proxstream train --help"), o.err());
        o = run("train", "--k");
        assertTrue(o.err().contains("Missing required parameter for option '--k' (K)"), o.err());
        o = run("train", "--k", "x");
        assertTrue(o.err().contains("Invalid value for option '--k': 'x' is not an int"), o.err());
        o = run("train", "--algo", "sgd");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("Invalid value for option '--algo': expected one of pam, adam-tied, adam, adam-strong, discard but was"
                + " 'sgd'"), o.err());
        o = run("train", "--k", "-3");
        assertTrue(o.err().contains("sae.k must be in [1, latents=1024]"), o.err());
        o = run("train", "--source", "parquet:x");
        assertTrue(o.err().contains("unknown source 'parquet:x'"), o.err());
        o = run("train", "--source", "npy:/nonexistent/file.npy", "--port", "-1");
        assertEquals(1, o.code());
        assertTrue(o.err().contains("/nonexistent/file.npy"), o.err());
        o = run("bench", "nope");
        assertTrue(o.err().contains("expected one of sae, ingest, radon, graph, cluster but was 'nope'"), o.err());
        o = run("bench", "sae", "--shape", "768,16384");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--shape 768,16384: expected D,M,K,B"), o.err());
        o = run("bench", "radon", "--shape", "1,2,1,4");
        assertTrue(o.err().contains("--shape applies to bench sae only"), o.err());
        o = run("bench", "graph", "--model-only", "3");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--model-only applies to bench cluster only"), o.err());
        o = run("bench", "cluster", "--model-only", "-1");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--model-only -1.0: the transport's cost must be in [0, 1000) ms per MB"), o.err());
        o = run("bench", "graph", "--sharded-namespaces-only");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--sharded-namespaces-only applies to bench cluster only"), o.err());
        o = run("bench", "sae", "--shape", "768,65536,32,4096");
        assertEquals(2, o.code());
        // the iterative decoder step needs no m x m matrix: refused for this JVM's heap, with the estimate, not for an array
        assertTrue(o.err().contains("needs about") && !o.err().contains("46340"), "planned before anything is allocated: " + o.err());
        o = run("experiment", "nope");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("expected one of spline-toy, sae-mnist, sae-lm, sae-synthetic, sae-scale, sae-steps, segmentation, tv-baselines, ct but was"
                + " 'nope'"), o.err());
        o = run("experiment", "tv-baselines", "--regularisers", "awcr");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--regularisers applies to experiment ct only, not tv-baselines"), o.err());
        o = run("experiment", "ct", "--regularisers", "awcr,tv");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--regularisers: unknown regulariser 'tv'; valid: ar, acr, awcr, acncr"), o.err());
        o = run("experiment", "ct", "--regularisers", "awcr,awcr");
        assertTrue(o.err().contains("a regulariser is named twice: [awcr, awcr]"), o.err());
        o = run("experiment", "ct", "--phantoms", "mayo");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--phantoms: unknown phantom family 'mayo'; choose ellipses or textured"), o.err());
        o = run("experiment", "ct", "--critic-steps", "100");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--critic-steps: critic steps must be a positive multiple of 30"), o.err());
        o = run("experiment", "sae-mnist", "--public-awcr");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--public-awcr applies to experiment ct only, not sae-mnist"), o.err());
        o = run("experiment", "ct", "--regularisers", "ar,acr", "--public-awcr");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--public-awcr: awcr is not among the regularisers [ar, acr]"), o.err());
        o = run("experiment", "segmentation", "--test-images", "60");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--test-images applies to experiment ct only, not segmentation"), o.err());
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
        assertTrue(o.err().contains("Invalid value for option '--method': expected one of joint, sequential, mbo, clean, all but was"
                + " 'kmeans'"), o.err());
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
    void helpListsTheOptionsWithTheDefaultsOfTheConfigRecords() {
        Outcome o = run("train", "--help");
        assertEquals(0, o.code());
        assertTrue(o.out().contains("--max-samples=N") && o.out().contains("--source=SRC"), o.out());
        // one source of every default: the help reads the records' defaults
        var train = io.proxstream.protocol.config.TrainConfig.defaults();
        assertTrue(o.out().replaceAll("\\s+", " ").contains("PAM: batches between decoder solves (default: " + train.trainer().solveEvery() + ")"),
                o.out());
        assertTrue(o.out().replaceAll("\\s+", " ").contains("number of latents (default: " + train.sae().latents() + ")"), o.out());
        var serve = io.proxstream.protocol.config.ServeConfig.defaults();
        String serveHelp = run("serve", "--help").out().replaceAll("\\s+", " ");
        assertTrue(serveHelp.contains("printed (default: " + serve.port() + ")") && serveHelp.contains("(default: " + serve.runsDir() + ")"),
                serveHelp);
        String nodeHelp = run("node", "--help").out().replaceAll("\\s+", " ");
        assertTrue(nodeHelp.contains("SAE latents (default: " + io.proxstream.actors.cluster.DataParallelPam.Config.defaults().latents()
                + ")"), nodeHelp);
        for (String c : Main.COMPUTING) {
            Outcome h = run(c, "--help");
            assertEquals(0, h.code(), c + ": " + h.err());
            assertTrue(h.out().startsWith(h.out().lines().findFirst().orElse("")) && h.out().contains("Usage: proxstream " + c), h.out());
            assertTrue(!h.err().contains("self-check"), c + " --help runs no self-check");
        }
        // the cluster members' options, shared by node and serve --cluster, are errors without --cluster
        assertTrue(serveHelp.contains("--cluster") && serveHelp.contains("--ingest-queue-mb") && nodeHelp.contains("--ingest-queue-mb"),
                serveHelp);
        Outcome seedless = run("serve", "--seed", "127.0.0.1:2551");
        assertEquals(2, seedless.code(), seedless.err());
        assertTrue(seedless.err().contains("--seed needs --cluster"), seedless.err());
        Outcome local = run("serve", "--cluster", "--create", "a:16");
        assertEquals(2, local.code(), local.err());
        assertTrue(local.err().contains("--create is not available with --cluster") && local.err().contains("POST /runs"), local.err());
        Outcome badSeed = run("serve", "--cluster", "--seed", "nohostport", "--port", "0");
        assertEquals(2, badSeed.code(), badSeed.err());
        assertTrue(badSeed.err().contains("seed node 'nohostport' is not HOST:PORT"), badSeed.err());
        assertEquals(0, run("help").code());
        assertTrue(run("help").out().contains("completion"), "the top-level help lists the completion command");
        assertEquals(2, run().code());
    }

    @Test
    void optionsGivenOverrideTheConfigFileAndDefaultsDoNot(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path cfg = dir.resolve("c.json");
        java.nio.file.Files.writeString(cfg, "{\"sae\": {\"latents\": 64, \"k\": 4}, \"trainer\": {\"solveEvery\": 3}}");
        Outcome o = run("train", "--config", cfg.toString(), "--k", "5", "--set", "trainer.rho=1e-4", "--max-samples", "512",
                "--port", "-1", "--source", "synthetic", "--dim", "32", "--features", "48", "--out", dir.resolve("run").toString());
        assertEquals(0, o.code(), o.err());
        var echoed = io.proxstream.protocol.config.ConfigLoader.mapper().readTree(dir.resolve("run/config.json").toFile());
        assertEquals(64, echoed.at("/sae/latents").asInt(), "from the file: an option's default does not override it");
        assertEquals(3, echoed.at("/trainer/solveEvery").asInt(), "from the file");
        assertEquals(5, echoed.at("/sae/k").asInt(), "the option given overrides the file");
        assertEquals(1e-4, echoed.at("/trainer/rho").asDouble(), "--set");
        assertEquals(32, echoed.at("/source/dim").asInt());
    }

    @Test
    void theGeneratedBashCompletionCompletesCommandsOptionsAndValues(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        Outcome o = run("completion");
        assertEquals(0, o.code(), o.err());
        java.nio.file.Path script = dir.resolve("proxstream-completion.bash");
        java.nio.file.Files.writeString(script, o.out());
        String words = complete(script, "./proxstream tr", "") + "|" + complete(script, "./proxstream train --sol", "")
                + "|" + complete(script, "proxstream train --algo ", "") + "|" + complete(script, "./proxstream experiment ", "");
        String[] parts = words.split("\\|", -1);
        assertTrue(parts[0].contains("train"), "command: " + parts[0]);
        assertTrue(parts[1].contains("--solve-every"), "option: " + parts[1]);
        assertTrue(parts[2].contains("adam-strong") && parts[2].contains("pam"), "values of --algo: " + parts[2]);
        assertTrue(parts[3].contains("sae-mnist") && parts[3].contains("ct"), "experiment names: " + parts[3]);
    }

    /** What bash completes for the command line {@code line} (the last word being completed), with the script sourced. */
    private static String complete(java.nio.file.Path script, String line, String unused) throws Exception {
        String bash = "source " + script + "\n"
                + "COMP_LINE='" + line + "'; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< \"$COMP_LINE\"\n"
                + "if [[ \"$COMP_LINE\" == *' ' ]]; then COMP_WORDS+=(''); fi\n"
                + "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
                + "_complete_proxstream\n"
                + "echo \"${COMPREPLY[*]}\"\n";
        Process p = new ProcessBuilder("bash", "-c", bash).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        return out.trim();
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
        // without --iterations, each solver runs the budget its experiment chose on validation
        java.nio.file.Path chosen = dir.resolve("chosen.safetensors");
        io.proxstream.actors.learned.RegulariserFile.save(chosen, critic, a, a.normEstimate(20, 1), 0.5, 4, 10,
                java.util.Map.of("iterations_pd", "7", "iterations_gd", "x"));
        o = run("reconstruct", "--regulariser", chosen.toString(), "--method", "awcr-pd", "--angles", "sparse:12",
                "--input", "phantom:ellipses", "--out", dir.resolve("chosen").toString());
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("   7 iterations"), o.out());
        o = run("reconstruct", "--regulariser", chosen.toString(), "--method", "awcr-gd", "--angles", "sparse:12",
                "--input", "phantom:ellipses", "--out", dir.resolve("chosen-gd").toString());
        assertEquals(2, o.code());
        assertTrue(o.err().contains("its iteration budget 'x' is not a positive integer; give --iterations"), o.err());
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
