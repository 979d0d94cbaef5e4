package io.proxstream.solvers.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Adversarial training of a {@link Critic}, data-parallel over the samples of a batch: each of
 * {@code threads} replicas (own layer caches, parameters copied from the master before every step)
 * takes a slice of the batch, their gradients are combined with the slices' weights, and one
 * optimizer step updates the master, after which its constraints are restored. The result equals
 * the single-threaded step up to float summation order. Not thread-safe itself: one caller steps.
 */
public final class CriticTrainer implements AutoCloseable {
    private final Critic master;
    private final List<Critic> replicas = new ArrayList<>();
    private final Optimizer optimizer;
    private final double mu;
    private final double h;
    private final ExecutorService pool;
    private final long seed;
    private long steps;

    /**
     * @param mu      gradient-penalty weight
     * @param h       step of the central difference in the penalty's parameter gradient
     * @param threads replicas working at once (≥ 1)
     */
    public CriticTrainer(Critic master, Optimizer optimizer, double mu, double h, int threads, long seed) {
        if (threads < 1 || !(mu >= 0) || !(h > 0)) {
            throw new IllegalArgumentException("trainer: need threads >= 1, mu >= 0, h > 0");
        }
        this.master = master;
        this.optimizer = optimizer;
        this.mu = mu;
        this.h = h;
        this.seed = seed;
        for (int t = 0; t < threads; t++) {
            replicas.add(t == 0 && threads == 1 ? master : master.copy());
        }
        pool = threads == 1 ? null : Executors.newFixedThreadPool(threads, run -> {
            Thread th = new Thread(run, "critic-trainer");
            th.setDaemon(true);
            return th;
        });
    }

    public Critic critic() {
        return master;
    }

    /** Steps taken, counting those of an earlier run this one continues ({@link #continueFrom}). */
    public long steps() {
        return steps;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    /**
     * Continues a run that stopped after {@code done} steps: the next step draws the random numbers that step
     * {@code done + 1} of an uninterrupted run draws (they depend on the seed and the step only), so that with the
     * parameters and the optimizer state restored the continued run repeats the uninterrupted one.
     */
    public void continueFrom(long done) {
        if (done < 0) {
            throw new IllegalArgumentException("steps done must be >= 0, got " + done);
        }
        steps = done;
    }

    /** One optimizer step on a batch (see {@link Critic#accumulate}); returns the losses before the step. */
    public Critic.StepResult step(List<float[]> truths, List<float[]> recons, List<float[]> data) {
        int b = truths.size();
        if (b == 0 || recons.size() != b || (data != null && data.size() != b)) {
            throw new IllegalArgumentException("a batch needs as many truths, reconstructions and data as each other, got " + b + ", "
                    + recons.size() + ", " + (data == null ? "no" : data.size()));
        }
        List<Param> target = master.params();
        for (Param p : target) {
            p.zeroGrad();
        }
        Critic.StepResult result;
        // the interpolates' random numbers depend on (seed, step) only: a resumed run draws what an uninterrupted one does
        SplittableRandom base = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + steps + 1);
        if (pool == null) {
            result = master.accumulate(truths, recons, data, mu, h, base.split());
        } else {
            int t = Math.min(replicas.size(), b);
            List<Future<Critic.StepResult>> fs = new ArrayList<>();
            int[] from = new int[t + 1];
            for (int i = 0; i < t; i++) {
                from[i + 1] = (int) ((long) b * (i + 1) / t);
                Critic rep = replicas.get(i);
                rep.setParams(target);
                for (Param p : rep.params()) {
                    p.zeroGrad();
                }
                int lo = from[i];
                int hi = from[i + 1];
                SplittableRandom rnd = base.split();
                fs.add(pool.submit(() -> rep.accumulate(truths.subList(lo, hi), recons.subList(lo, hi),
                        data == null ? null : data.subList(lo, hi), mu, h, rnd)));
            }
            double loss = 0;
            double w = 0;
            double pen = 0;
            List<CriticStep.Result> parts = null;
            for (int i = 0; i < t; i++) {
                Critic.StepResult r = get(fs.get(i));
                double share = (double) (from[i + 1] - from[i]) / b;
                loss += share * r.loss();
                w += share * r.wasserstein();
                pen += share * r.penalty();
                parts = combine(parts, r.parts(), share);
                List<Param> src = replicas.get(i).params();
                for (int k = 0; k < target.size(); k++) {
                    float[] g = target.get(k).grad();
                    float[] s = src.get(k).grad();
                    for (int j = 0; j < g.length; j++) {
                        g[j] += (float) (share * s[j]);
                    }
                }
            }
            result = new Critic.StepResult(loss, w, pen, parts);
        }
        optimizer.step(target);
        master.project();
        steps++;
        return result;
    }

    private static List<CriticStep.Result> combine(List<CriticStep.Result> acc, List<CriticStep.Result> add, double share) {
        List<CriticStep.Result> out = new ArrayList<>();
        for (int i = 0; i < add.size(); i++) {
            CriticStep.Result a = acc == null ? new CriticStep.Result(0, 0, 0) : acc.get(i);
            CriticStep.Result r = add.get(i);
            out.add(new CriticStep.Result(a.loss() + share * r.loss(), a.wasserstein() + share * r.wasserstein(),
                    a.penalty() + share * r.penalty()));
        }
        return out;
    }

    private static Critic.StepResult get(Future<Critic.StepResult> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
