package io.proxstream.actors.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.proxstream.actors.stream.WindowReport;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.SaeRunMeters;
import io.proxstream.monitoring.StreamMeters;
import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.solvers.sae.TrainingMetrics;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunReporterTest {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @TempDir
    Path tmp;

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    @Test
    void acknowledgesEachWindowPublishesItAndCompletesWithTheHistory() throws Exception {
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        CompletableFuture<List<WindowReport>> done = new CompletableFuture<>();
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        Path csv = tmp.resolve("metrics.csv");
        ActorRef<RunReporter.Command> reporter = KIT.spawn(RunReporter.create(new SaeRunMeters(reg, "r", "pam"),
                new StreamMeters(reg, "r"), new CsvTable(csv, RunReporter.CSV_HEADER), new PrintStream(progress, true),
                "r", 64, done));
        TestProbe<RunReporter.Ack> probe = KIT.createTestProbe();
        reporter.tell(new RunReporter.Started(probe.ref()));
        probe.expectMessage(RunReporter.Ack.INSTANCE);
        var m = new TrainingMetrics.Report(1000, 1000, 0.5, 0.4, 0.25, 7.5, 3, 12345.0, 0.0);
        reporter.tell(new RunReporter.Window(new WindowReport(m, 2, 10.0, 1.5, false), probe.ref()));
        probe.expectMessage(RunReporter.Ack.INSTANCE);
        assertEquals(0.25, reg.get(Meters.TRAIN_FVU).gauge().value());
        assertEquals(1000.0, reg.get(Meters.SAMPLES).counter().count());
        assertEquals(2, Files.readAllLines(csv).size());
        assertTrue(progress.toString().contains("FVU 0.2500"), progress.toString());
        reporter.tell(RunReporter.Completed.INSTANCE);
        assertEquals(1, done.get(5, TimeUnit.SECONDS).size());
        probe.expectTerminated(reporter);
    }
}
