package io.proxstream.actors.cluster;

import io.proxstream.solvers.sae.IterativeDecoder;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.TrainerState;
import java.util.ArrayList;
import java.util.List;

/**
 * The column-sharded round of data-parallel PAM-SGD ({@code docs/column-sharded-cluster.md}) in one process: the
 * reference a cluster protocol of that design is to match bit for bit, as today's protocol matches
 * {@link DataParallelPam#reference}. N workers each hold a copy of the model; worker i owns decoder columns
 * {@code cuts[i] .. cuts[i+1]} as an {@link IterativeDecoder} column shard. A round: every worker runs the encoder step on
 * its slices; the encoders, each scaled by its share of the round's rows, are summed by the ring all-reduce (every copy
 * gets the same bits); every shard is fed every worker's minibatches in worker order (its columns of the rows), forgetting
 * γ before each, as the coordinator feeds its step; on a solve round each owner solves its shard and every copy of the
 * decoder adds each correction. No node holds an m × m matrix or the whole window.
 */
public final class ShardedPam implements AutoCloseable {
    private final DataParallelPam.Config config;
    private final int workers;
    private final int[] cuts;
    private final SaeModel[] models;
    private final IterativeDecoder[] shards;
    private final DataParallelPam.WorkerState[] ws;
    private long round;

    public ShardedPam(DataParallelPam.Config config, int workers) {
        if (!config.algorithm().equals("pam") || !config.decoderStep().equals("cg")) {
            throw new IllegalArgumentException("the column-sharded design runs PAM-SGD with the cg decoder step, got "
                    + config.algorithm() + " with " + config.decoderStep());
        }
        this.config = config;
        this.workers = workers;
        this.cuts = columnCuts(config.dim(), workers);
        this.models = new SaeModel[workers];
        this.shards = new IterativeDecoder[workers];
        this.ws = new DataParallelPam.WorkerState[workers];
        IterativeDecoder.Options o = config.pam().decoder().cg();
        for (int w = 0; w < workers; w++) {
            models[w] = DataParallelPam.initialModel(config);
            shards[w] = new IterativeDecoder(models[w], o, cuts[w], cuts[w + 1]);
            ws[w] = new DataParallelPam.WorkerState(config);
        }
    }

    /**
     * The column split among {@code n} workers: cuts at whole blocks of {@value IterativeDecoder#BLOCK} columns, as even
     * as they go; refused when there are fewer blocks than workers.
     */
    public static int[] columnCuts(int d, int n) {
        int blocks = (d + IterativeDecoder.BLOCK - 1) / IterativeDecoder.BLOCK;
        if (n < 1 || n > blocks) {
            throw new IllegalArgumentException(d + " decoder columns make " + blocks + " blocks of " + IterativeDecoder.BLOCK
                    + "; they cannot be split among " + n + " workers");
        }
        int[] cuts = new int[n + 1];
        for (int i = 0; i <= n; i++) {
            cuts[i] = Math.min(d, (int) ((long) blocks * i / n) * IterativeDecoder.BLOCK);
        }
        return cuts;
    }

    /**
     * A worker's encoder {@code [W_enc; b_enc]} from its round's result, scaled by its share of the round's {@code total}
     * rows: what it gives the ring, whose sum is the rows-weighted average.
     */
    static float[] scaledEncoder(TrainerState result, long total, int m, int d) {
        double share = (double) result.counter("rows") / total;
        float[] t = new float[m * d];
        float[] tb = new float[m];
        result.copy("W_enc", t);
        result.copy("b_enc", tb);
        float[] enc = new float[m * d + m];
        for (int i = 0; i < t.length; i++) {
            enc[i] = (float) (share * t[i]);
        }
        for (int i = 0; i < m; i++) {
            enc[m * d + i] = (float) (share * tb[i]);
        }
        return enc;
    }

    /** Puts the ring's sum {@code [W_enc; b_enc]} into a copy of the model. */
    static void setEncoder(SaeModel model, float[] sum) {
        int m = model.spec().latents();
        int d = model.spec().inputDim();
        System.arraycopy(sum, 0, model.encoderWeights(), 0, m * d);
        System.arraycopy(sum, m * d, model.encoderBias(), 0, m);
        model.encoderChanged();
    }

    /** Worker w's copy of the model. */
    public SaeModel model(int w) {
        return models[w];
    }

    /** The columns worker w owns: {@code [cuts[w], cuts[w+1])}. */
    public int[] cuts() {
        return cuts.clone();
    }

    public long round() {
        return round;
    }

    /** One round on the given slices (one list per worker); returns the rows it trained. */
    public long round(List<List<Protocol.Assignment>> slices) {
        if (slices.size() != workers) {
            throw new IllegalArgumentException("a round of " + workers + " workers needs " + workers + " slice lists, got " + slices.size());
        }
        List<TrainerState> results = new ArrayList<>();
        long total = 0;
        for (int w = 0; w < workers; w++) {
            TrainerState.Builder b = new TrainerState.Builder("sharded-model");
            models[w].saveTo(b);
            TrainerState r = ws[w].round(b.build(), slices.get(w));
            results.add(r);
            total += r.counter("rows");
        }
        if (total == 0) {
            return 0;
        }
        // the encoders, each scaled by its share of the rows, summed by the ring: every copy the same bits
        int m = config.latents();
        int d = config.dim();
        float[][] enc = new float[workers][];
        for (int w = 0; w < workers; w++) {
            enc[w] = scaledEncoder(results.get(w), total, m, d);
        }
        RingAllReduce.inMemory(enc, RingCollective.PIECE_FLOATS);
        for (int w = 0; w < workers; w++) {
            setEncoder(models[w], enc[w]);
        }
        // every shard takes every worker's minibatches, in worker order
        double gamma = config.pam().forgetting();
        // (with the cg step a worker always ships rows and codes)
        for (TrainerState r : results) {
            DataParallelPam.CodeBuffer.Parsed parsed = DataParallelPam.CodeBuffer.parse(r, config);
            for (IterativeDecoder s : shards) {
                parsed.feedColumns(s, gamma);
            }
        }
        if ((round + 1) % config.solveEvery() == 0) {
            PamSgdTrainer.Options o = config.pam();
            for (int s = 0; s < workers; s++) {
                IterativeDecoder.Step step = shards[s].solve(models[s], o.rho(), o.muDec(), o.holdUnfired());
                if (step.delta() == null) {
                    continue;
                }
                shards[s].apply(step.delta());
                for (int w = 0; w < workers; w++) {
                    if (w != s) {
                        IterativeDecoder.addColumns(models[w], cuts[s], cuts[s + 1], step.delta());
                    }
                }
            }
        }
        round++;
        return total;
    }

    @Override
    public void close() {
        for (DataParallelPam.WorkerState w : ws) {
            w.close();
        }
    }
}
