package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.config.RunConfig;
import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.solvers.data.PlantedDictionary;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard in headless Chromium (Debian package {@code chromium}, installed by .ci/run):
 * every chart of every run must have drawn points from the server's data. Writes the screenshot
 * to {@code actors/target/dashboard.png}.
 */
class DashboardIT {
    @TempDir
    Path tmp;

    static Path chromium() {
        for (String c : new String[] {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
            if (Files.isExecutable(Path.of(c))) {
                return Path.of(c);
            }
        }
        throw new AssertionError("headless Chromium is needed: apt-get install chromium (.ci/run installs it)");
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium timed out");
        return out;
    }

    @Test
    void everyChartDrawsTheServersData() throws Exception {
        Path chrome = chromium();
        ServeConfig cfg = new ServeConfig("127.0.0.1", 0, -1, tmp.resolve("runs").toString(), "", 1 << 22, 500, 100);
        try (ServeServer s = ServeServer.start(cfg)) {
            for (String name : new String[] {"alpha", "beta"}) {
                RunConfig d = RunConfig.defaults(name, 32);
                s.create(new RunConfig(name, 32, new io.proxstream.protocol.config.SaeConfig(128, "topk", 4, 0, "unit"),
                        d.trainer(), 64, 100_000, 2, 1024, 4096, 4 << 20, 1, "", RunConfig.DEFAULT_MAX_ABS,
                        // one row in 16 held out, up to 512, evaluated every 0.2 s: the density chart fills within the test
                        new io.proxstream.protocol.config.HealthConfig(1.0 / 16, 512, 0.2, 0.1, 1e11)));
            }
            PlantedDictionary gen = new PlantedDictionary(new PlantedDictionary.Options(32, 64, 5, 0.99, 0, 1));
            for (int i = 0; i < 30; i++) {
                for (String name : new String[] {"alpha", "beta"}) {
                    var h = s.runs().get(name);
                    float[] x = gen.sample(512, i).data();
                    h.reserve(4L * x.length, -1).toCompletableFuture().get();
                    h.accept("http", x, 512, 32, 4L * x.length, 4L * x.length).toCompletableFuture().get();
                }
            }
            float[] bad = new float[32 * 31];
            s.runs().get("beta").accept("http", bad, 32, 31, 0, 0).toCompletableFuture().get();
            long end = System.currentTimeMillis() + 30_000;
            // the ledger: rows are trained or held out; a partial minibatch (< 64 rows) may wait for more data
            while (System.currentTimeMillis() < end && s.runs().values().stream().anyMatch(h -> h.status().samples()
                    + h.status().heldOutRows() < 30 * 512 - 63 || h.status().health() == null)) {
                Thread.sleep(50);
            }
            String url = "http://127.0.0.1:" + s.httpPort() + "/";
            List<String> base = new ArrayList<>(List.of(chrome.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--user-data-dir=" + tmp.resolve("chrome"), "--window-size=1280,1300",
                    "--virtual-time-budget=5000"));
            List<String> dump = new ArrayList<>(base);
            dump.add("--dump-dom");
            dump.add(url);
            String dom = run(dump);
            Matcher m = Pattern.compile("data-chart=\"(\\w+)\" data-points=\"(\\d+)\"").matcher(dom);
            int charts = 0;
            while (m.find()) {
                charts++;
                assertTrue(Integer.parseInt(m.group(2)) >= 10, "chart " + m.group(1) + " drew " + m.group(2) + " points");
            }
            assertEquals(12, charts, "6 line charts for each of 2 runs:\n" + dom);
            Matcher bars = Pattern.compile("data-chart=\"density\" data-bars=\"(\\d+)\"").matcher(dom);
            int densities = 0;
            while (bars.find()) {
                densities++;
                assertEquals(8, Integer.parseInt(bars.group(1)), "the density chart draws its 8 buckets");
            }
            assertEquals(2, densities, "a density chart for each run:\n" + dom);
            assertTrue(dom.contains("max decoder cosine"), "the health facts are shown");
            assertTrue(dom.contains("2 runs") && dom.contains("TRAINING"), dom);
            Path shot = Path.of("target", "dashboard.png").toAbsolutePath();
            Files.createDirectories(shot.getParent());
            List<String> screenshot = new ArrayList<>(base);
            screenshot.add("--screenshot=" + shot);
            screenshot.add(url);
            run(screenshot);
            assertTrue(Files.size(shot) > 20_000, "screenshot written to " + shot);
            System.out.println("[DashboardIT] screenshot: " + shot);
        }
    }
}
