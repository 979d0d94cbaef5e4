package io.proxstream.actors.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.actors.train.DataPaths;
import io.proxstream.monitoring.ImageMeters;
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

/** The quick configuration of {@code experiment tv-baselines} end to end (about half a minute on 2 cores). */
class TvBaselinesIT {

    @Test
    void quickRunWritesItsReportAndTvBeatsTheBaselines(@TempDir Path dir) throws Exception {
        Path data = DataPaths.dataDir();
        assertTrue(Files.isRegularFile(data.resolve("skimage/camera.png")), "scikit-image test images missing in " + data
                + " (./proxstream setup fetches them)");
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "tv-baselines-it");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<TvBaselines.Row> rows;
        try {
            rows = new TvBaselines(TvBaselines.Config.quick(), "proxstream experiment tv-baselines --quick", data, dir,
                    new PrintStream(log, true)).run(system, new ImageMeters(new SimpleMeterRegistry()));
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        assertEquals(List.of("ct-sparse/fbp", "ct-sparse/tv-pdhg", "ct-limited/fbp", "ct-limited/tv-pdhg", "deblur/observed",
                "deblur/tv-pdhg"), rows.stream().map(r -> r.setting() + "/" + r.method()).toList());
        for (int i = 0; i < rows.size(); i += 2) {
            TvBaselines.Row base = rows.get(i);
            TvBaselines.Row tv = rows.get(i + 1);
            // the piecewise-constant phantoms and a 1% noise level are TV's home ground: several dB, and better SSIM
            assertTrue(tv.psnrMean() > base.psnrMean() + 2, tv + " vs " + base);
            assertTrue(tv.ssimMean() > base.ssimMean(), tv + " vs " + base);
        }
        String report = Files.readString(dir.resolve("report.md"));
        assertTrue(report.contains("| setting | method | parameters | images | PSNR (dB) | SSIM | seconds / image |"), report);
        assertTrue(report.contains("| ct-limited | tv-pdhg | λ = "), report);
        for (String s : List.of("ct-sparse", "ct-limited", "deblur")) {
            assertTrue(Files.size(dir.resolve(s).resolve("grid.png")) > 10_000, s + " grid");
            assertEquals(1 + (s.equals("deblur") ? 1 : 3) * 2, Files.readAllLines(dir.resolve(s).resolve("results.csv")).size());
            assertTrue(report.contains("](" + s + "/grid.png)"), s);
        }
        assertTrue(Files.size(dir.resolve("ct-sparse/ellipses-2001-tv-pdhg-convergence.png")) > 10_000);
        assertEquals(7, Files.readAllLines(dir.resolve("summary.csv")).size());
        // validation: 5 filters + 3 lambdas per CT setting, 3 lambdas for deblurring
        assertEquals(1 + 8, Files.readAllLines(dir.resolve("ct-sparse/validation.csv")).size());
        assertEquals(1 + 3, Files.readAllLines(dir.resolve("deblur/validation.csv")).size());
    }
}
