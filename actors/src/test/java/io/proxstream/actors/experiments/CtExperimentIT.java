package io.proxstream.actors.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.actors.learned.RegulariserFile;
import io.proxstream.monitoring.CriticMeters;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quick configuration of {@code experiment ct} end to end (about half a minute on 2 cores):
 * every method of both settings is reported with finite scores, the regularisers are saved and
 * load back with their λ, the meters saw every critic step, and the convexity checks hold where
 * convexity is built in (ACR). That a trained R beats FBP is asserted by AdversarialRegulariserIT
 * (solvers), which trains long enough for it.
 */
class CtExperimentIT {

    @Test
    void quickRunWritesTheTableRegularisersPicturesAndConvexityChecks(@TempDir Path dir) throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "ct-it");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        List<TvBaselines.Row> rows;
        try {
            rows = new CtExperiment(CtExperiment.Config.quick(), "proxstream experiment ct --quick", dir, new PrintStream(log, true),
                    registry).run(system);
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        List<String> methods = List.of("fbp", "tv-pdhg", "data-gd", "data-pd", "ar-gd", "acr-gd", "awcr-gd", "awcr-pd", "awcr-pd-all",
                "acncr-gd");
        assertEquals(2 * methods.size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            TvBaselines.Row r = rows.get(i);
            assertEquals(i < methods.size() ? "ct-sparse" : "ct-limited", r.setting());
            assertEquals(methods.get(i % methods.size()), r.method());
            assertTrue(Double.isFinite(r.psnrMean()) && r.psnrMean() > 10 && Double.isFinite(r.ssimMean()), r.toString());
        }
        CtExperiment.Config c = CtExperiment.Config.quick();
        for (String s : List.of("ct-sparse", "ct-limited")) {
            for (String k : c.kinds()) {
                RegulariserFile.Loaded l = RegulariserFile.load(dir.resolve(s).resolve(k + ".safetensors"));
                assertEquals(c.training().steps(), l.steps(), s + "/" + k);
                assertTrue(l.lambda() > 0 && Double.isFinite(l.lipschitz()), s + "/" + k + " carries its chosen lambda");
                assertEquals(c.training().steps(), registry.get(CriticMeters.STEPS).tag("regulariser", s + "/" + k).counter().count());
            }
            assertTrue(Files.size(dir.resolve(s).resolve("grid.png")) > 10_000, s + " grid");
            assertTrue(Files.size(dir.resolve(s).resolve("training.png")) > 5_000, s + " training curves");
            assertTrue(Files.size(dir.resolve(s).resolve("ellipses-2001-awcr-pd-all-convergence.png")) > 10_000, s + " convergence");
            assertEquals(1 + c.training().steps() * c.kinds().size(), Files.readAllLines(dir.resolve(s).resolve("training.csv")).size());
            // the held-out Wasserstein estimate is measured every 4 steps (and cannot stop 8 steps with patience 3)
            for (java.util.Map<String, String> r : io.proxstream.monitoring.report.CsvTable.read(dir.resolve(s).resolve("training.csv"))) {
                assertEquals(Long.parseLong(r.get("step")) % 4 == 0, !r.get("validation_wasserstein").equals("NaN"), r.toString());
            }
            // every test image of every method is in the ledger a resumed run reads
            assertEquals(1 + 2 * methods.size(), Files.readAllLines(dir.resolve(s).resolve("test-ledger.csv")).size());
        }
        java.util.Map<String, String> meta = RegulariserFile.load(dir.resolve("ct-sparse/awcr.safetensors")).metadata();
        assertTrue(meta.containsKey("lambda_pd"), "the primal-dual method's own lambda is saved");
        // the Lipschitz estimate of ∇R is stored with the critic (a reuse on another CPU keeps it, and with it the ledger's key)
        RegulariserFile.Loaded awcr = RegulariserFile.load(dir.resolve("ct-sparse/awcr.safetensors"));
        double unit = Double.parseDouble(meta.get("lipschitz_unit"));
        assertTrue(unit > 0, meta.toString());
        assertEquals(awcr.lambda() * unit, awcr.lipschitz(), 0.0, "the stored Lipschitz constant is lambda times the stored unit");
        // each solver's budget is one of its validation budgets, and the reported rows ran it
        assertTrue(List.of("10", "20").contains(meta.get("iterations_gd")), meta.toString());
        assertTrue(List.of("10", "25", "30").contains(meta.get("iterations_pd")), meta.toString());
        // a second run into the same directory reuses the finished regularisers and reproduces their rows; a file it
        // cannot read is moved aside (not lost) and that critic retrained, to the same parameters
        Files.writeString(dir.resolve("ct-limited/acr.safetensors"), "not a regulariser");
        ActorSystem<Void> again = ActorSystem.create(Behaviors.empty(), "ct-it-2");
        List<TvBaselines.Row> rerun;
        try {
            rerun = new CtExperiment(CtExperiment.Config.quick(), "proxstream experiment ct --quick", dir, new PrintStream(log, true),
                    new SimpleMeterRegistry()).run(again);
        } finally {
            again.terminate();
            again.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        assertTrue(log.toString().contains("reusing"), "the second run reused the regularisers");
        assertEquals(meta.get("lipschitz_unit"), RegulariserFile.load(dir.resolve("ct-sparse/awcr.safetensors")).metadata().get("lipschitz_unit"),
                "the reused critic keeps its stored Lipschitz unit");
        assertTrue(log.toString().contains("test scores in"), "and the recorded test scores");
        // and the validation searches of the reused critics (and of the one retrained to the same parameters) are read back
        assertTrue(log.toString().contains("validation scores in"), log.toString());
        for (String s : List.of("ct-sparse", "ct-limited")) {
            long recorded = log.toString().lines().filter(l -> l.contains(s) && l.contains("(recorded by an earlier run)")).count();
            long searched = io.proxstream.monitoring.report.CsvTable.read(dir.resolve(s).resolve("validation-ledger.csv")).size();
            assertTrue(searched > 0 && recorded == searched, s + ": " + recorded + " of " + searched + " search points read back");
        }
        assertTrue(log.toString().contains("acr.safetensors is unreadable"), log.toString());
        try (var files = Files.list(dir.resolve("ct-limited"))) {
            Path aside = files.filter(f -> f.getFileName().toString().startsWith("acr.safetensors.superseded-")).findFirst().orElseThrow();
            assertEquals("not a regulariser", Files.readString(aside));
        }
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(rows.get(i).psnrMean(), rerun.get(i).psnrMean(), 1e-6, rows.get(i).method() + " reproduced");
        }
        String report = Files.readString(dir.resolve("report.md"));
        assertTrue(report.contains("Reused from an earlier run"), report);
        assertTrue(report.contains("| ct-sparse | awcr-pd | λ = "), report);
        assertTrue(report.contains("of 30 iterations |"), "awcr-pd's chosen budget is reported: " + report);
        assertTrue(report.contains("| awcr-pd − awcr-gd | 2 | "), "paired differences: " + report);
        assertTrue(report.contains("| acncr-gd − tv-pdhg | 2 | "), "paired differences: " + report);
        assertTrue(report.contains("- ct-limited: the best learned method"), report);
        assertTrue(report.contains("Oracle protocol, labelled as such") && report.contains("| awcr-pd-all | 2 | "), "best iterates: " + report);
        assertTrue(report.contains("Best iterate, awcr-pd (whole budget) − awcr-gd: "), report);
        assertTrue(report.contains("(all epochs)"), "the training table says why training stopped: " + report);
        assertTrue(report.contains("| ct-sparse | acr | R | " + c.lines() + "/" + c.lines() + " |"), "ACR convex on every line:\n" + report);
        assertTrue(report.contains("| ct-sparse | acncr | ½‖Ax − y‖² + λR"), report);
    }
}
