package io.proxstream.actors.experiments;

import io.proxstream.actors.image.ImagePipeline;
import io.proxstream.actors.image.ImageTask;
import io.proxstream.monitoring.report.CsvTable;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The per-image test scores of an experiment, written as each image finishes, so that an evaluation of hours resumes
 * where it stopped: an image whose (method, key) row is in the ledger is not solved again. The key names everything
 * the result depends on besides the image (parameters, and for learned methods a fingerprint of the critic), so a
 * retrained critic or another λ never reuses an old score. A torn last row (a kill while writing) is dropped.
 */
final class TestLedger implements Closeable {
    static final List<String> HEADER = List.of("method", "key", "id", "psnr", "ssim", "iterations", "stopped_early", "seconds",
            "best_iteration", "best_psnr", "best_ssim");

    private final CsvTable out;
    private final Map<String, Map<String, String>> rows = new HashMap<>();

    private TestLedger(CsvTable out, List<Map<String, String>> kept) {
        this.out = out;
        for (Map<String, String> r : kept) {
            rows.put(r.get("method") + "\u0000" + r.get("key") + "\u0000" + r.get("id"), r);
        }
    }

    static TestLedger open(Path file) throws IOException {
        CsvTable.Continued c = CsvTable.continueOrCreate(file, HEADER);
        return new TestLedger(c.table(), c.rows());
    }

    /** Images recorded so far (all methods). */
    synchronized int size() {
        return rows.size();
    }

    /** The recorded result of {@code task} by {@code method} under {@code key} (no images, no trace), else null. */
    synchronized ImagePipeline.Result get(String method, String key, ImageTask task) {
        Map<String, String> r = rows.get(method + "\u0000" + key + "\u0000" + task.id());
        if (r == null) {
            return null;
        }
        ImagePipeline.Checkpoint best = r.get("best_iteration").isEmpty() ? null
                : new ImagePipeline.Checkpoint(Integer.parseInt(r.get("best_iteration")), Double.parseDouble(r.get("best_psnr")),
                Double.parseDouble(r.get("best_ssim")));
        return new ImagePipeline.Result(task, method, null, new int[0], null, Integer.parseInt(r.get("iterations")),
                Boolean.parseBoolean(r.get("stopped_early")), Double.parseDouble(r.get("seconds")), Double.parseDouble(r.get("psnr")),
                Double.parseDouble(r.get("ssim")), List.of(), List.of(), best);
    }

    /** Records {@code r} (flushed before returning). */
    synchronized void add(String key, ImagePipeline.Result r) throws IOException {
        ImagePipeline.Checkpoint b = r.best();
        out.row(r.method(), key, r.task().id(), r.psnr(), r.ssim(), (long) r.iterations(), Boolean.toString(r.stoppedEarly()), r.seconds(),
                b == null ? "" : Integer.toString(b.iteration()), b == null ? "" : g(b.psnr()),
                b == null ? "" : g(b.ssim()));
        rows.put(r.method() + "\u0000" + key + "\u0000" + r.task().id(), readBack(r, key));
    }

    private static Map<String, String> readBack(ImagePipeline.Result r, String key) {
        ImagePipeline.Checkpoint b = r.best();
        Map<String, String> m = new HashMap<>();
        m.put("method", r.method());
        m.put("key", key);
        m.put("id", r.task().id());
        // as the file holds them (8 significant digits), so that a resumed run reports what an uninterrupted one does
        m.put("psnr", g(r.psnr()));
        m.put("ssim", g(r.ssim()));
        m.put("iterations", Integer.toString(r.iterations()));
        m.put("stopped_early", Boolean.toString(r.stoppedEarly()));
        m.put("seconds", g(r.seconds()));
        m.put("best_iteration", b == null ? "" : Integer.toString(b.iteration()));
        m.put("best_psnr", b == null ? "" : g(b.psnr()));
        m.put("best_ssim", b == null ? "" : g(b.ssim()));
        return m;
    }

    private static String g(double v) {
        return String.format(java.util.Locale.ROOT, "%.8g", v);
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
