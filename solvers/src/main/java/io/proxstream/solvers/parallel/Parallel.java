package io.proxstream.solvers.parallel;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;

/**
 * Data-parallel loops over index ranges on a small dedicated pool (one thread per core).
 *
 * <p>The numerical kernels split their work by rows or latents into at most {@link #threads()}
 * contiguous ranges, so each range writes a disjoint part of the output and no locking is needed.
 * Calls made from inside the pool (nested loops) run inline.
 */
public final class Parallel {

    /** A loop body over the half-open range {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    private static final int THREADS = Math.max(1, Integer.getInteger("proxstream.threads",
            Runtime.getRuntime().availableProcessors()));

    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS, pool -> {
        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("proxstream-compute-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
    }, null, false);

    private Parallel() {
    }

    private static final ThreadLocal<Boolean> SEQUENTIAL = ThreadLocal.withInitial(() -> false);

    /**
     * Runs {@code body} with every loop it starts on this thread kept on this thread (for
     * benchmarks comparing one thread with all of them, and for callers that already parallelise).
     */
    public static void sequential(Runnable body) {
        boolean before = SEQUENTIAL.get();
        SEQUENTIAL.set(true);
        try {
            body.run();
        } finally {
            SEQUENTIAL.set(before);
        }
    }

    /** Number of threads the kernels use (property {@code proxstream.threads}, default: cores). */
    public static int threads() {
        return THREADS;
    }

    /** A reduction body over the half-open range {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeSum {
        double run(int from, int to);
    }

    /**
     * Runs {@code body} over {@code [0, n)} split into at most {@link #threads()} ranges of at least
     * {@code minGrain} indices each; returns when all ranges are done. Exceptions propagate.
     */
    public static void forRange(int n, int minGrain, RangeBody body) {
        sum(n, minGrain, (from, to) -> {
            body.run(from, to);
            return 0.0;
        });
    }

    /**
     * Like {@link #forRange} but each range returns a partial sum; returns the total, added in range
     * order (so the result does not depend on thread timing).
     */
    public static double sum(int n, int minGrain, RangeSum body) {
        if (n <= 0) {
            return 0.0;
        }
        int parts = Math.min(THREADS, Math.max(1, n / Math.max(1, minGrain)));
        if (parts <= 1 || SEQUENTIAL.get() || Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == POOL) {
            return body.run(0, n);
        }
        @SuppressWarnings("unchecked")
        ForkJoinTask<Double>[] tasks = new ForkJoinTask[parts - 1];
        for (int p = 1; p < parts; p++) {
            int from = (int) ((long) n * p / parts);
            int to = (int) ((long) n * (p + 1) / parts);
            tasks[p - 1] = POOL.submit(() -> body.run(from, to));
        }
        RuntimeException first = null;
        double total = 0.0;
        try {
            total = body.run(0, (int) ((long) n / parts));
        } catch (RuntimeException e) {
            first = e;
        }
        for (ForkJoinTask<Double> t : tasks) {
            try {
                total += t.join();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
        return total;
    }
}
