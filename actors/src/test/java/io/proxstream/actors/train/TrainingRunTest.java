package io.proxstream.actors.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.MetricsServer;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.TrainConfig;
import io.proxstream.solvers.sae.SaeModel;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A whole training run with its HTTP endpoint, as {@code proxstream train} runs it. */
class TrainingRunTest {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @TempDir
    Path tmp;

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    @Test
    void servesMetricsWhileTrainingAndLeavesACompleteRunDirectory() throws Exception {
        TrainConfig config = ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(), Map.of(
                "source.dim", "64", "source.features", "128", "sae.latents", "256", "sae.k", "8",
                "maxSeconds", "0", "reportEvery", "2048", "evalRows", "2000", "run", "t1"));
        Meters meters = new Meters();
        ServerBinding binding = MetricsServer.bind(KIT.system(), "127.0.0.1", 0, new MetricsServer(meters, Map::of).routes())
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        TrainingRun run = TrainingRun.start(KIT.system(), config, meters, tmp, null);
        HttpClient http = HttpClient.newHttpClient();
        URI uri = URI.create("http://127.0.0.1:" + binding.localAddress().getPort() + "/metrics");
        Pattern fvu = Pattern.compile("sae_train_fvu\\{algo=\"pam\",run=\"t1\"} ([0-9.eE+-]+)");
        String body = "";
        long end = System.currentTimeMillis() + 60_000;
        boolean seen = false;
        while (!seen && System.currentTimeMillis() < end) {
            body = http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).body();
            Matcher m = fvu.matcher(body);
            seen = m.find() && !m.group(1).equals("NaN");
            Thread.sleep(50);
        }
        assertTrue(seen, "a finite sae_train_fvu while training:\n" + body);
        assertTrue(body.contains("stream_records_rejected_total{reason=\"non_finite\",run=\"t1\"} 0"), body);
        assertTrue(body.contains("stream_backpressure_wait_seconds_count{run=\"t1\",stage=\"trainer\"}"), body);
        assertTrue(!run.result().toCompletableFuture().isDone(), "the run is still going (no sample or time limit)");
        // stop after a number of samples, not a wall-clock time: on a loaded machine 1.5 s may be 20 000 samples or 80 000
        Pattern samples = Pattern.compile("sae_train_samples_total\\{algo=\"pam\",run=\"t1\"} ([0-9.eE+-]+)");
        double trained = 0;
        end = System.currentTimeMillis() + 120_000;
        while (trained < 60_000 && System.currentTimeMillis() < end) {
            Matcher m = samples.matcher(http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).body());
            trained = m.find() ? Double.parseDouble(m.group(1)) : 0;
            Thread.sleep(50);
        }
        assertTrue(trained >= 60_000, "60 000 samples within two minutes, got " + trained);
        run.stop();
        RunSummary s = run.result().toCompletableFuture().get(60, TimeUnit.SECONDS);
        binding.unbind();

        assertTrue(s.samples() > 10_000, "samples " + s.samples());
        List<String> csv = Files.readAllLines(tmp.resolve("metrics.csv"));
        assertTrue(csv.get(0).startsWith("samples,seconds,loss,mse,fvu,l0,dead_latents"), csv.get(0));
        assertTrue(csv.size() >= 4, "rows: " + csv.size());
        List<java.util.Map<String, String>> rows = io.proxstream.monitoring.report.CsvTable.read(tmp.resolve("metrics.csv"));
        double first = Double.parseDouble(rows.get(0).get("fvu"));
        double last = Double.parseDouble(rows.get(rows.size() - 1).get("fvu"));
        assertTrue(last < first / 2, "FVU falls: " + first + " -> " + last);
        assertTrue(s.evalFvu() < 0.2 && s.mmcs() > 0.5, s.toString());
        SaeModel saved = SaeModelFiles.read(tmp.resolve("model.safetensors"));
        assertEquals(64, saved.spec().inputDim());
        assertEquals(config, ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(tmp.resolve("config.json")), Map.of()));
        String report = Files.readString(tmp.resolve("report.md"));
        assertTrue(report.contains("| held-out FVU |") && report.contains("MMCS"), report);
        assertTrue(report.contains("held-out shrinkage") && report.contains("largest cosine") && report.contains("density.png"), report);
        for (String f : new String[] {"loss.png", "fvu.png", "density.png", "summary.json"}) {
            assertTrue(Files.size(tmp.resolve(f)) > 100, f);
        }
    }

    @Test
    void modelFilesRoundTripInTheSaeLensLayout() throws Exception {
        for (boolean tied : new boolean[] {false, true}) {
            TrainConfig c = ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(), Map.of(
                    "sae.latents", "12", "sae.k", "3", "trainer.algo", tied ? "adam-tied" : "pam"));
            SaeModel m = Trainers.initialModel(c.sae(), c.trainer(), 5, 7);
            m.encoderBias()[2] = 0.5f;
            m.decoderBias()[4] = -1.5f;
            Path f = tmp.resolve("m" + tied + ".safetensors");
            SaeModelFiles.write(f, m, Map.of("algorithm", "x"));
            SaeModel back = SaeModelFiles.read(f);
            assertEquals(m.spec(), back.spec());
            assertArrayEquals(m.encoderWeights(), back.encoderWeights());
            assertArrayEquals(m.encoderBias(), back.encoderBias());
            assertArrayEquals(m.decoderWeights(), back.decoderWeights());
            assertArrayEquals(m.decoderBias(), back.decoderBias());
            // W_enc is stored [d_in, d_sae]: element (i, j) is encoder row j, component i
            var t = io.proxstream.protocol.format.Safetensors.readAll(f);
            assertArrayEquals(new long[] {5, 12}, t.get("W_enc").shape());
            assertEquals(m.encoderWeights()[3 * 5 + 2], t.get("W_enc").data()[2 * 12 + 3]);
        }
    }

    @Test
    void trainsFromAnNpyFileAndRejectsATruncatedOne() throws Exception {
        var gen = new io.proxstream.solvers.data.PlantedDictionary(
                new io.proxstream.solvers.data.PlantedDictionary.Options(16, 32, 5, 0.99, 0, 1));
        var data = gen.sample(3000, 2);
        float[] x = data.data();
        x[16 * 100 + 3] = Float.NaN;
        x[16 * 200 + 5] = 1e6f; // beyond the default maxAbs (1e5): dropped like the NaN row
        Path npy = tmp.resolve("acts.npy");
        io.proxstream.protocol.format.Npy.write(npy, x, 3000, 16);
        TrainConfig c = ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(), Map.of(
                "source.kind", "npy", "source.path", npy.toString(), "source.epochs", "2", "source.chunkRows", "700",
                "sae.latents", "64", "sae.k", "4", "port", "-1", "run", "npy"));
        TrainingRun run = TrainingRun.start(KIT.system(), c, new Meters(), tmp.resolve("npy-run"), null);
        RunSummary s = run.result().toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertEquals(2 * 2998, s.samples(), "two epochs minus the NaN row and the row beyond maxAbs each time");
        assertEquals(4, s.rejected());
        TrainConfig loose = ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(), Map.of(
                "source.kind", "npy", "source.path", npy.toString(), "source.epochs", "1", "source.chunkRows", "700",
                "sae.latents", "64", "sae.k", "4", "port", "-1", "run", "npy-loose", "maxAbs", "1e7"));
        RunSummary l = TrainingRun.start(KIT.system(), loose, new Meters(), tmp.resolve("npy-loose"), null).result()
                .toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertEquals(2999, l.samples(), "a run's maxAbs above the value keeps that row");
        byte[] bytes = Files.readAllBytes(npy);
        Path cut = tmp.resolve("cut.npy");
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        TrainConfig bad = ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(), Map.of(
                "source.kind", "npy", "source.path", cut.toString(), "port", "-1"));
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> TrainingRun.start(KIT.system(), bad, new Meters(), tmp.resolve("bad-run"), null));
        assertTrue(e.getMessage().contains("cut.npy") && e.getMessage().contains("truncated"), e.getMessage());
    }
}
