package io.proxstream.monitoring;

import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress of a long task with its rate and ETA, on standard error (results stay on standard
 * output): one line updated in place on a terminal, a plain line every {@value #LOG_INTERVAL_SECONDS}
 * s when standard error goes to a log or pipe (nothing for a task that ends sooner). {@code PROXSTREAM_PROGRESS=off} silences it,
 * {@code =lines} forces plain lines. A thin layer over the progressbar library.
 */
public final class TaskProgress implements AutoCloseable {
    /** Seconds between plain progress lines in logs. */
    public static final int LOG_INTERVAL_SECONDS = 10;

    private final ProgressBar bar;

    private TaskProgress(ProgressBar bar) {
        this.bar = bar;
    }

    /**
     * Starts a task of {@code total} units named {@code unit} (e.g. "images", "steps").
     *
     * @param task what runs, as the line's prefix
     */
    public static TaskProgress start(String task, long total, String unit) {
        return start(task, total, unit, LOG_INTERVAL_SECONDS);
    }

    /** As {@link #start(String, long, String)} with another interval between lines in logs. */
    static TaskProgress start(String task, long total, String unit, int logIntervalSeconds) {
        String mode = System.getenv().getOrDefault("PROXSTREAM_PROGRESS", "auto").toLowerCase(Locale.ROOT);
        if (mode.equals("off")) {
            return new TaskProgress(null);
        }
        boolean terminal = !mode.equals("lines") && System.console() != null;
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(Math.max(total, 1)).setUnit(" " + unit, 1)
                .showSpeed(new java.text.DecimalFormat("#,##0.##"));
        if (terminal) {
            b.setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setUpdateIntervalMillis(500);
        } else {
            PrintStream err = System.err;
            long start = System.nanoTime();
            // in a log, a task shorter than one interval leaves no line (experiments run hundreds of short image sets);
            // a longer one a line per interval and its final state
            b.setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(logIntervalSeconds * 1000)
                    .setConsumer(new DelegatingProgressBarConsumer(line -> {
                        if (System.nanoTime() - start >= logIntervalSeconds * 1_000_000_000L - 50_000_000L) {
                            err.println(line);
                        }
                    }, 100));
        }
        return new TaskProgress(b.build());
    }

    /** One unit done. */
    public void step() {
        if (bar != null) {
            bar.step();
        }
    }

    /** {@code n} units done. */
    public void stepBy(long n) {
        if (bar != null) {
            bar.stepBy(n);
        }
    }

    /** Sets the total (when it is learnt late) and the units done. */
    public void at(long done, long total) {
        if (bar != null) {
            bar.maxHint(Math.max(total, 1));
            bar.stepTo(done);
        }
    }

    /** A short note after the bar (the current setting, the last score). */
    public void note(String message) {
        if (bar != null) {
            bar.setExtraMessage(" · " + message);
        }
    }

    /** Units done so far. */
    public long done() {
        return bar == null ? 0 : bar.getCurrent();
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
