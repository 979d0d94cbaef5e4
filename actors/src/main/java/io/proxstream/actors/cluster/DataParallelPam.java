package io.proxstream.actors.cluster;

import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.data.PlantedDictionary;
import io.proxstream.solvers.sae.AdamTrainer;
import io.proxstream.solvers.sae.DecoderStatistics;
import io.proxstream.solvers.sae.EncodedBatch;
import io.proxstream.solvers.sae.FeatureRecovery;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeEvaluator;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.SaeTrainer;
import io.proxstream.solvers.sae.TrainerState;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Data-parallel PAM-SGD (and the untied Adam baseline) in synchronous rounds (the computation both the cluster actors and the
 * single-process reference run). Round r:
 * <ol>
 *   <li>the coordinator sends the model (encoder and decoder) and each worker its slices of the
 *       data shards: shard s, rows [offset, offset + rows);</li>
 *   <li>each worker, on its own copy of the model and its own Adam moments, runs the encoder step of
 *       PAM-SGD on every minibatch of its slices (as the streaming trainer does) and accumulates the
 *       decoder statistics of the codes it produced;</li>
 *   <li>the coordinator averages the workers' encoders (weighted by rows), forgets
 *       γ^(minibatches) of its statistics, adds the workers' statistics (in worker-name order) and
 *       solves the decoder in closed form.</li>
 * </ol>
 * The data are the planted-dictionary stream, split into shards: minibatch j of shard s is drawn
 * from a generator seeded by (seed, s, j), so any node makes the same rows and a shard can move to
 * another worker without losing or repeating rows; a shard's offset advances only when a round
 * that covered it completes.
 */
public final class DataParallelPam {

    /**
     * @param dim           input width
     * @param features      planted features
     * @param latents       SAE width
     * @param k             TopK
     * @param shards        data shards (≥ workers for everyone to have work)
     * @param batch         minibatch rows
     * @param batchesPerShard minibatches per shard per round
     * @param totalRows     stop after this many rows
     * @param checkpointEvery rounds between coordinator checkpoints
     * @param roundTimeoutMs a round completes with the workers that answered by then
     * @param minWorkers    workers the first round waits for (later rounds go on with whoever is left)
     * @param seed          data, initialisation
     * @param algorithm     {@code pam} (PAM-SGD) or {@code adam} (the untied Adam baseline: workers take Adam steps on all
     *                      parameters, the coordinator averages them)
     */
    public record Config(int dim, int features, int latents, int k, int shards, int batch, int batchesPerShard, long totalRows,
                         int checkpointEvery, long roundTimeoutMs, int minWorkers, long seed, String algorithm)
            implements CborSerializable {
        public Config {
            if (!"pam".equals(algorithm) && !"adam".equals(algorithm)) {
                throw new IllegalArgumentException("cluster training: algorithm '" + algorithm + "' is not pam or adam");
            }
            if (dim < 1 || features < 1 || latents < 1 || k < 1 || k > latents || shards < 1 || batch < 1 || batchesPerShard < 1
                    || totalRows < 1 || checkpointEvery < 1 || roundTimeoutMs < 1 || minWorkers < 1) {
                throw new IllegalArgumentException("cluster training: every size must be positive and k <= latents");
            }
        }

        /** The defaults of {@code proxstream node}'s training options (read by its help). */
        public static Config defaults() {
            return new Config(64, 128, 256, 8, 6, 256, 2, 1_000_000, 10, 10_000, 1, 42, "pam");
        }

        public SaeSpec spec() {
            return SaeSpec.topK(dim, latents, k);
        }

        public PlantedDictionary generator() {
            return new PlantedDictionary(new PlantedDictionary.Options(dim, features, PlantedDictionary.Options.defaults(seed).baseRate(),
                    PlantedDictionary.Options.defaults(seed).decay(), 0, seed));
        }

        public int sliceRows() {
            return batch * batchesPerShard;
        }

        /**
         * The trainer settings; the decoder step is the exact one at every size, because rounds merge the workers'
         * exact statistics (a cluster form of the iterative step, which would sum products instead, is not built yet).
         */
        public PamSgdTrainer.Options pam() {
            return PamSgdTrainer.Options.experimentDefaults().withDecoder(PamSgdTrainer.Decoder.exact());
        }

        public String describe() {
            return String.format(Locale.ROOT, "%s, TopK SAE %d -> %d (k = %d) on %d planted features; %d shards x %d minibatches of %d "
                    + "per round; %d rows in all", algorithm.equals("pam") ? "PAM-SGD" : "Adam", dim, latents, k, features, shards,
                    batchesPerShard, batch, totalRows);
        }
    }

    private DataParallelPam() {
    }

    /** The initial model (seeded as {@code ./proxstream train}). */
    public static SaeModel initialModel(Config c) {
        return SaeModel.initialise(c.spec(), SaeModel.Init.UNIT, c.seed() * 31 + 7);
    }

    /** Minibatch {@code j} of shard {@code s}. */
    public static float[] minibatch(Config c, PlantedDictionary gen, int shard, long j) {
        float[] x = new float[c.batch() * c.dim()];
        long mixed = c.seed() * 0x9E3779B97F4A7C15L + shard * 0xBF58476D1CE4E5B9L + j;
        gen.fill(x, c.batch(), new SplittableRandom(mixed));
        return x;
    }

    /** A worker's side: its model copy, trainer (with its own Adam moments) and the data generator. */
    public static final class WorkerState implements AutoCloseable {
        private final Config config;
        private final SaeTrainer trainer;
        private final PlantedDictionary gen;

        public WorkerState(Config config) {
            this.config = config;
            this.trainer = config.algorithm().equals("pam") ? new PamSgdTrainer(initialModel(config), config.pam())
                    : new AdamTrainer(initialModel(config), config.pam().adam());
            this.gen = config.generator();
        }

        /** One round: loads the broadcast model, trains on the slices, returns encoder + statistics + rows + mse sum. */
        public TrainerState round(TrainerState model, List<Protocol.Assignment> slices) {
            trainer.model().loadFrom(model);
            boolean adam = config.algorithm().equals("adam");
            DecoderStatistics local = adam ? null : new DecoderStatistics(config.latents(), config.dim());
            long rows = 0;
            double mse = 0;
            for (Protocol.Assignment a : slices) {
                if (a.offset() % config.batch() != 0 || a.rows() % config.batch() != 0) {
                    throw new IllegalArgumentException("slice " + a + " is not whole minibatches of " + config.batch());
                }
                for (long j = a.offset() / config.batch(); j < (a.offset() + a.rows()) / config.batch(); j++) {
                    float[] x = minibatch(config, gen, a.shard(), j);
                    EncodedBatch eb = trainer.encoderStage(x, config.batch());
                    if (adam) {
                        trainer.decoderStage(eb);
                    } else {
                        local.accumulate(eb.codes(), x, config.batch());
                    }
                    mse += eb.result().sse();
                    rows += config.batch();
                }
            }
            TrainerState.Builder b = new TrainerState.Builder("dp-result");
            if (adam) {
                trainer.model().saveTo(b);
            } else {
                b.put("W_enc", trainer.model().encoderWeights()).put("b_enc", trainer.model().encoderBias());
                local.saveTo(b);
            }
            b.put("rows", rows).put("mse_x1e9", Math.round(mse / Math.max(1.0, (double) rows * config.dim()) * 1e9));
            return b.build();
        }

        @Override
        public void close() {
            trainer.close();
        }
    }

    /** The coordinator's side: the authoritative model and decoder statistics. */
    public static final class CoordinatorState {
        private final Config config;
        private final SaeModel model;
        private final DecoderStatistics stats;
        private final long[] offsets;
        private long round;
        private long rows;

        public CoordinatorState(Config config) {
            this.config = config;
            this.model = initialModel(config);
            this.stats = new DecoderStatistics(config.latents(), config.dim());
            this.offsets = new long[config.shards()];
        }

        public SaeModel model() {
            return model;
        }

        public long round() {
            return round;
        }

        public long rows() {
            return rows;
        }

        public boolean finished() {
            return rows >= config.totalRows();
        }

        /** The model to broadcast. */
        public TrainerState modelState() {
            TrainerState.Builder b = new TrainerState.Builder("dp-pam-model");
            model.saveTo(b);
            return b.build();
        }

        /** The slices of this round for {@code workers} workers: shard i goes to worker i mod workers. */
        public List<List<Protocol.Assignment>> assign(int workers) {
            List<List<Protocol.Assignment>> out = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                out.add(new ArrayList<>());
            }
            for (int s = 0; s < config.shards(); s++) {
                out.get(s % workers).add(new Protocol.Assignment(s, offsets[s], config.sliceRows()));
            }
            return out;
        }

        /**
         * Completes a round with the results that arrived (in a fixed order): averages the encoders,
         * adds the statistics, solves the decoder, advances the covered shards.
         */
        public void complete(List<TrainerState> results, List<List<Protocol.Assignment>> covered) {
            if (results.isEmpty()) {
                throw new IllegalArgumentException("a round needs at least one result");
            }
            int d = config.dim();
            int m = config.latents();
            long total = 0;
            for (TrainerState r : results) {
                total += r.counter("rows");
            }
            long batches = total / config.batch();
            boolean adam = config.algorithm().equals("adam");
            average(results, total, "W_enc", model.encoderWeights());
            average(results, total, "b_enc", model.encoderBias());
            if (adam) {
                average(results, total, "W_dec", model.decoderWeights());
                average(results, total, "b_dec", model.decoderBias());
            }
            model.encoderChanged();
            if (!adam) {
                stats.forget(Math.pow(config.pam().forgetting(), batches));
                DecoderStatistics one = new DecoderStatistics(m, d);
                for (TrainerState r : results) {
                    one.loadFrom(r);
                    stats.merge(one);
                }
                PamSgdTrainer.Options o = config.pam();
                stats.solveInto(model, o.rho(), o.muDec(), o.holdUnfired());
            }
            for (List<Protocol.Assignment> slices : covered) {
                for (Protocol.Assignment a : slices) {
                    offsets[a.shard()] = Math.max(offsets[a.shard()], a.offset() + a.rows());
                }
            }
            rows += total;
            round++;
        }

        /** The row-weighted mean of array {@code name} over the results, written into {@code into}. */
        private static void average(List<TrainerState> results, long total, String name, float[] into) {
            double[] acc = new double[into.length];
            float[] t = new float[into.length];
            for (TrainerState r : results) {
                double share = (double) r.counter("rows") / total;
                r.copy(name, t);
                for (int i = 0; i < t.length; i++) {
                    acc[i] += share * t[i];
                }
            }
            for (int i = 0; i < into.length; i++) {
                into[i] = (float) acc[i];
            }
        }

        /** Rows of each shard trained in completed rounds (a copy). */
        public long[] offsets() {
            return offsets.clone();
        }

        /** Everything needed to resume: model, statistics, offsets, round, rows. */
        public TrainerState snapshot() {
            TrainerState.Builder b = new TrainerState.Builder("dp-pam-coordinator");
            model.saveTo(b);
            stats.saveTo(b);
            b.put("offsets", offsets.clone()).put("round", round).put("rows", rows);
            return b.build();
        }

        public void restore(TrainerState s) {
            s.requireAlgorithm("dp-pam-coordinator");
            model.loadFrom(s);
            stats.loadFrom(s);
            long[] o = s.longs().get("offsets");
            if (o == null || o.length != offsets.length) {
                throw new IllegalArgumentException("checkpoint has " + (o == null ? "no" : o.length) + " shard offsets, this run "
                        + offsets.length + " shards");
            }
            System.arraycopy(o, 0, offsets, 0, o.length);
            round = s.counter("round");
            rows = s.counter("rows");
        }

        /** MMCS against the planted dictionary and FVU on held-out rows. */
        public Quality quality() {
            PlantedDictionary gen = config.generator();
            Dataset eval = gen.sample(4096, config.seed() + 1_000_003L);
            SaeEvaluator.Result r = SaeEvaluator.evaluate(model, eval, 512);
            return new Quality(FeatureRecovery.mmcs(gen.dictionary(), config.features(), model), r.fvu(), r.l0(), r.dead());
        }
    }

    /** How well a model recovered the planted features. */
    public record Quality(double mmcs, double fvu, double l0, int dead) {
    }

    /**
     * The same rounds in one process: {@code workers} logical workers (each with its own model copy
     * and Adam moments), one after the other — what a cluster of that many workers computes when no
     * node fails.
     */
    public static CoordinatorState reference(Config c, int workers) {
        CoordinatorState coord = new CoordinatorState(c);
        List<WorkerState> ws = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            ws.add(new WorkerState(c));
        }
        try {
            while (!coord.finished()) {
                TrainerState m = coord.modelState();
                List<List<Protocol.Assignment>> slices = coord.assign(workers);
                List<TrainerState> results = new ArrayList<>();
                for (int w = 0; w < workers; w++) {
                    results.add(ws.get(w).round(m, slices.get(w)));
                }
                coord.complete(results, slices);
            }
        } finally {
            ws.forEach(WorkerState::close);
        }
        return coord;
    }
}
