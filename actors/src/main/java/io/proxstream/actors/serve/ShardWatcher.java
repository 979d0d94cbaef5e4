package io.proxstream.actors.serve;

import io.proxstream.actors.stream.Sources;
import io.proxstream.protocol.format.RowReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The third ingest source: shard files dropped into {@code WATCH/RUN/} ({@code .npy} or
 * {@code .safetensors}, 2-D float) are fed to run {@code RUN} in name order, with the same
 * validation and back-pressure as pushed batches (a shard is read only as fast as training takes
 * it). A finished shard moves to {@code WATCH/RUN/done/}; one that cannot be read, or whose rows
 * are rejected, moves to {@code WATCH/RUN/rejected/} beside a {@code .reason.txt}. Producers must
 * make a shard appear whole: write it under a name starting with '.' or ending in '.tmp', then
 * rename it. Delivery is at least once: a shard interrupted by a crash is read again from its
 * start.
 */
public final class ShardWatcher {
    private static final Logger LOG = LoggerFactory.getLogger(ShardWatcher.class);
    private static final int CHUNK_ROWS = 1024;

    private ShardWatcher() {
    }

    /** Starts polling every {@code period} for the runs of {@code registry}; cancel the result to stop. */
    public static Cancellable start(ActorSystem<?> system, Path watchDir, ConcurrentMap<String, RunHandle> registry,
                                    Duration period) throws IOException {
        return start(system, watchDir, registry::keySet, registry::get, period);
    }

    /**
     * Starts polling every {@code period} for the runs {@code runs} lists, whose rows go to {@code targets} (null: the run
     * takes none here now, its shards wait); cancel the result to stop. A {@code serve --cluster} node feeds the queues of
     * the runs it holds this way.
     */
    public static Cancellable start(ActorSystem<?> system, Path watchDir, Supplier<? extends Collection<String>> runs,
                                    Function<String, ? extends IngestTarget> targets, Duration period) throws IOException {
        Files.createDirectories(watchDir);
        ExecutorService io = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "shard-watcher");
            t.setDaemon(true);
            return t;
        });
        return Source.tick(Duration.ZERO, period, "tick")
                .mapConcat(t -> pending(watchDir, runs.get()))
                .mapAsync(1, f -> CompletableFuture.runAsync(() -> {
                    String run = f.getParent().getFileName().toString();
                    feed(f, run, targets.apply(run));
                }, io))
                .toMat(Sink.ignore(), Keep.left())
                .run(system);
    }

    /** Shards waiting in the directories of {@code runs}, in name order. */
    static List<Path> pending(Path watchDir, Collection<String> runs) throws IOException {
        List<Path> out = new ArrayList<>();
        for (String run : runs.stream().sorted().toList()) {
            Path d = watchDir.resolve(run);
            if (!Files.isDirectory(d)) {
                continue;
            }
            try (Stream<Path> s = Files.list(d)) {
                s.filter(Files::isRegularFile).filter(p -> {
                    String n = p.getFileName().toString();
                    return !n.startsWith(".") && !n.endsWith(".tmp") && (n.endsWith(".npy") || n.endsWith(".safetensors"));
                }).sorted().forEach(out::add);
            }
        }
        return out;
    }

    /** Feeds one shard to run {@code run}'s target {@code h} (blocking; on the watcher's own thread). */
    static void feed(Path file, String run, IngestTarget h) {
        if (h == null || !Files.exists(file)) {
            return;
        }
        String problem = null;
        long rows = 0;
        try (RowReader r = Sources.open(file, null)) {
            float[] buf = new float[CHUNK_ROWS * r.cols()];
            int got;
            while (problem == null && (got = r.read(buf, CHUNK_ROWS)) > 0) {
                long bytes = 4L * got * r.cols();
                if (bytes > h.budgetBytes()) {
                    problem = "rows of width " + r.cols() + " do not fit the run's queue";
                    break;
                }
                if (!h.reserve(bytes, -1).toCompletableFuture().join()) {
                    problem = "run '" + run + "' stopped taking data after " + rows + " rows";
                    break;
                }
                RunHandle.PushResult res = h.accept("file", java.util.Arrays.copyOf(buf, got * r.cols()), got, r.cols(), bytes, bytes)
                        .toCompletableFuture().join();
                if (res.outcome() != RunHandle.Outcome.ACCEPTED) {
                    problem = "rows " + rows + ".." + (rows + got) + ": " + res.reason();
                } else {
                    rows += got;
                }
            }
        } catch (IOException | RuntimeException e) {
            problem = e.getMessage();
            h.reject(RunHandle.Outcome.MALFORMED, "malformed", problem);
        }
        try {
            Path target = file.resolveSibling(problem == null ? "done" : "rejected");
            Files.createDirectories(target);
            Files.move(file, target.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            if (problem != null) {
                Files.writeString(target.resolve(file.getFileName() + ".reason.txt"), problem + "\n");
                LOG.warn("shard {} rejected after {} rows: {}", file, rows, problem);
            } else {
                LOG.info("shard {}: {} rows queued for run {}", file.getFileName(), rows, run);
            }
        } catch (IOException e) {
            LOG.error("cannot move shard {}: {}", file, e.getMessage());
        }
    }
}
