package io.proxstream.actors.cluster;

import io.proxstream.solvers.data.Dataset;
import io.proxstream.solvers.data.PlantedDictionary;
import io.proxstream.solvers.sae.AdamTrainer;
import io.proxstream.solvers.sae.DecoderStatistics;
import io.proxstream.solvers.sae.DecoderStep;
import io.proxstream.solvers.sae.EncodedBatch;
import io.proxstream.solvers.sae.FeatureRecovery;
import io.proxstream.solvers.sae.IterativeDecoder;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeEvaluator;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.SaeTrainer;
import io.proxstream.solvers.sae.SparseCodes;
import io.proxstream.solvers.sae.TrainerState;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
     * @param decoder       the coordinator's decoder step: {@code exact} (m × m statistics, Cholesky), {@code cg} (the
     *                      iterative step, O(m·d + window) memory) or {@code auto} (exact up to
     *                      {@link PamSgdTrainer.Decoder#AUTO_EXACT_MAX} latents, as in {@code train})
     * @param results       what a worker ships besides its encoder: {@code statistics} (its summed decoder statistics,
     *                      O(m²), exact step only), {@code codes} (its rows and their sparse codes, O(n·(k + d))) or
     *                      {@code auto} (the smaller of the two; always codes for the cg step and for live ingest, whose
     *                      rows the coordinator keeps a sample of to measure FVU)
     * @param solveEvery    rounds between decoder solves (the rows in between are accumulated)
     * @param data          empty: the synthetic planted-dictionary stream in {@code shards} shards; else a directory of
     *                      {@code .npy}/{@code .safetensors} files (or one file) every node can read, each file a shard
     *                      ({@link ShardFiles}); {@code shards} and {@code features} are then not used
     */
    public record Config(int dim, int features, int latents, int k, int shards, int batch, int batchesPerShard, long totalRows,
                         int checkpointEvery, long roundTimeoutMs, int minWorkers, long seed, String algorithm, String decoder,
                         String results, int solveEvery, String data)
            implements CborSerializable {
        /** The values of {@link #results}. */
        public static final List<String> RESULTS = List.of("auto", "statistics", "codes");

        public Config {
            if (!"pam".equals(algorithm) && !"adam".equals(algorithm)) {
                throw new IllegalArgumentException("cluster training: algorithm '" + algorithm + "' is not pam or adam");
            }
            java.util.Objects.requireNonNull(data, "data");
            if (!PamSgdTrainer.Decoder.STEPS.contains(decoder)) {
                throw new IllegalArgumentException("cluster training: decoder '" + decoder + "' is not one of "
                        + PamSgdTrainer.Decoder.STEPS);
            }
            if (!RESULTS.contains(results)) {
                throw new IllegalArgumentException("cluster training: results '" + results + "' is not one of " + RESULTS);
            }
            if (dim < 1 || features < 1 || latents < 1 || k < 1 || k > latents || shards < 1 || batch < 1 || batchesPerShard < 1
                    || totalRows < 1 || checkpointEvery < 1 || roundTimeoutMs < 1 || minWorkers < 1 || solveEvery < 1) {
                throw new IllegalArgumentException("cluster training: every size must be positive and k <= latents");
            }
            if ((long) batch * dim > Integer.MAX_VALUE - 8 || (long) latents * dim > Integer.MAX_VALUE - 8
                    || (long) batch * batchesPerShard > Integer.MAX_VALUE / 2) {
                throw new IllegalArgumentException("cluster training: batch x dim, latents x dim and a slice's rows must stay below"
                        + " 2^31 (one array each)");
            }
            if (8L * latents * dim + 8L * latents + 8L * dim + 4096 > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "cluster training: the model (2 x %d x %d floats, %.2f GiB)"
                        + " is broadcast as one payload of at most 2 GiB; use fewer latents or a narrower input", latents, dim,
                        8.0 * latents * dim / (1L << 30)));
            }
            if ("statistics".equals(results) && "cg".equals(new PamSgdTrainer.Decoder(decoder,
                    IterativeDecoder.Options.defaults()).resolve(latents))) {
                throw new IllegalArgumentException("cluster training: results 'statistics' needs the exact decoder step; the cg step"
                        + " (decoder '" + decoder + "' at " + latents + " latents) keeps rows, so workers ship codes");
            }
        }

        /** The settings before the decoder step and the results were chosen: decoder {@code auto}, results {@code auto}, a solve every round. */
        public Config(int dim, int features, int latents, int k, int shards, int batch, int batchesPerShard, long totalRows,
                      int checkpointEvery, long roundTimeoutMs, int minWorkers, long seed, String algorithm) {
            this(dim, features, latents, k, shards, batch, batchesPerShard, totalRows, checkpointEvery, roundTimeoutMs, minWorkers, seed,
                    algorithm, "auto", "auto", 1, "");
        }

        /** The defaults of {@code proxstream node}'s training options (read by its help). */
        public static Config defaults() {
            return new Config(64, 128, 256, 8, 6, 256, 2, 1_000_000, 10, 10_000, 1, 42, "pam");
        }

        /** The same settings with another decoder step, results and solve interval. */
        public Config withDecoder(String step, String shipped, int every) {
            return new Config(dim, features, latents, k, shards, batch, batchesPerShard, totalRows, checkpointEvery, roundTimeoutMs,
                    minWorkers, seed, algorithm, step, shipped, every, data);
        }

        /** The same settings training on the shard files under {@code path} (empty: the synthetic stream). */
        public Config withData(String path) {
            return new Config(dim, features, latents, k, shards, batch, batchesPerShard, totalRows, checkpointEvery, roundTimeoutMs,
                    minWorkers, seed, algorithm, decoder, results, solveEvery, path);
        }

        /** The value of {@link #data} that trains on the rows pushed to the workers' own ingest endpoints. */
        public static final String LIVE = "live";

        /** Whether the rows come from shard files (else from the synthetic stream or live ingest). */
        public boolean files() {
            return !data.isEmpty() && !live();
        }

        /** Whether the rows are the ones pushed to the workers' ingest endpoints ({@code --data live}). */
        public boolean live() {
            return LIVE.equals(data);
        }

        /** {@code exact} or {@code cg}: the coordinator's decoder step at this size. */
        public String decoderStep() {
            return pam().decoder().resolve(latents);
        }

        /**
         * Whether a worker that trained {@code rows} rows ships them with their codes (else its summed statistics): always for
         * the cg step; for the exact step when asked to, or under {@code auto} when they are fewer bytes.
         */
        public boolean shipsCodes(long rows) {
            if (decoderStep().equals("cg") || results.equals("codes") || live()) {
                return true;
            }
            return results.equals("auto") && codeBytes(rows) < statisticsBytes();
        }

        /** Wire bytes of {@code rows} rows with their codes: row pointers, k (index, value) pairs and d floats per row. */
        public long codeBytes(long rows) {
            return rows * (8L + 12L * k + 4L * dim) + 8L * batchesPerShard * shards;
        }

        /** Wire bytes of one worker's exact decoder statistics (m² + m·d + m + d + 2 doubles). */
        public long statisticsBytes() {
            return 8L * ((long) latents * latents + (long) latents * dim + latents + dim + 2);
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
         * The coordinator's heap for this run, estimated before it starts: the model (encoder and decoder, float) four times
         * (its state, the broadcast's encoding, the checkpoint's snapshot, a worker result's decode), the exact step's m × m
         * statistics three times (sums, solve workspace, snapshot) or the cg step's window of rows and codes twice, and one
         * round's results in flight from up to 8 workers (their rows and codes).
         */
        public long coordinatorBytes() {
            long m = latents;
            long md = m * dim;
            long bytes = 4 * 8 * md + (1L << 24);
            if (algorithm.equals("pam") && decoderStep().equals("exact")) {
                bytes += 3 * (8 * m * m + 8 * md);
            } else if (algorithm.equals("pam")) {
                long window = 4L * IterativeDecoder.Options.defaults().windowRows() + batch;
                bytes += 2 * (window * (4L * dim + 8L * k + 4) + 8 * (m + 1) * dim);
            }
            bytes += 8 * codeBytes((long) batch * batchesPerShard);
            return bytes;
        }

        /**
         * A worker's heap for this run, estimated before it joins: the model as received (encoded) and decoded, the encoder's
         * Adam moments, its result's encoding (at most the model's size plus a slice's rows and codes twice), a
         * minibatch's pre-activations, and the decoder it keeps between solves (the one it held until a new one arrived).
         */
        public long workerBytes() {
            long md = (long) latents * dim;
            long slice = (long) batch * batchesPerShard;
            return 5 * 8 * md + 4 * md + 2 * codeBytes(slice) + 8L * batch * latents + (1L << 24);
        }

        /** The coordinator's trainer settings: the experiments' streaming settings with this run's decoder step. */
        public PamSgdTrainer.Options pam() {
            return PamSgdTrainer.Options.experimentDefaults().withDecoder(new PamSgdTrainer.Decoder(decoder,
                    IterativeDecoder.Options.defaults()));
        }

        /**
         * A worker's trainer settings: it runs only encoder steps, so its own decoder step is the cheapest one (an
         * iterative step that keeps no rows: O(m·d), never the m × m statistics).
         */
        PamSgdTrainer.Options workerPam() {
            return pam().withDecoder(PamSgdTrainer.Decoder.cg(new IterativeDecoder.Options(0, 1, 0)));
        }

        public String describe() {
            String source = live() ? "on the rows pushed to the workers' ingest endpoints; per worker up to " : files()
                    ? "the shard files of " + data + "; per shard " : "on " + features + " planted features; " + shards + " shards x ";
            return String.format(Locale.ROOT, "%s, TopK SAE %d -> %d (k = %d) %s%d minibatches of %d per round; %s%s",
                    algorithm.equals("pam") ? "PAM-SGD" : "Adam", dim, latents, k, source, batchesPerShard, batch,
                    totalRows == Long.MAX_VALUE ? "until stopped" : totalRows + " rows in all", algorithm.equals("pam") ? "; decoder step " + decoderStep() + (solveEvery > 1
                    ? " every " + solveEvery + " rounds" : "") + ", workers ship " + (results.equals("auto") ? "the smaller of codes and statistics"
                    : results) : "");
        }
    }

    private DataParallelPam() {
    }

    /**
     * Adds a worker result's rows and codes (shipped as codes) to a column shard of the iterative decoder step, as the
     * coordinator adds them to the whole step; a malformed result fails before anything changes.
     */
    public static void feedShard(TrainerState result, Config config, io.proxstream.solvers.sae.IterativeDecoder shard) {
        CodeBuffer.parse(result, config).feedColumns(shard, config.pam().forgetting());
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

    /**
     * The minibatches of one slice: drawn from the synthetic stream, or read from the slice's shard file by position. Rows of
     * a file that hold a value that is not finite are dropped from their minibatch (and counted by the caller as the rows
     * it lacks), so one bad row costs itself only.
     */
    static final class SliceReader implements AutoCloseable {
        private final Config config;
        private final PlantedDictionary gen;
        private final Protocol.Assignment slice;
        private final io.proxstream.protocol.format.RowReader file;
        private long j;
        private int rows;

        /** Rows of a live slice (leased from the node's ingest queue), else null. */
        private final float[] live;

        SliceReader(Config config, PlantedDictionary gen, Protocol.Assignment slice) {
            this(config, gen, slice, null);
        }

        SliceReader(Config config, PlantedDictionary gen, Protocol.Assignment slice, float[] live) {
            this.config = config;
            this.gen = gen;
            this.slice = slice;
            this.j = slice.offset() / config.batch();
            this.live = live;
            if (slice.isLive()) {
                if (live == null || live.length != (long) slice.rows() * config.dim()) {
                    throw new IllegalArgumentException("live slice of " + slice.rows() + " rows without its " + slice.rows()
                            + " x " + config.dim() + " rows");
                }
                this.file = null;
                return;
            }
            if (slice.file().isEmpty()) {
                this.file = null;
                return;
            }
            try {
                this.file = ShardFiles.open(java.nio.file.Path.of(slice.file()));
                if (file.cols() != config.dim() || file.rows() < slice.offset() + slice.rows()) {
                    file.close();
                    throw new UnreadableShard(slice.shard(), "shard " + slice.file() + " holds " + file.rows() + " rows of "
                            + file.cols() + ", the slice needs rows up to " + (slice.offset() + slice.rows()) + " of " + config.dim());
                }
                file.skip(slice.offset());
            } catch (java.io.IOException | RuntimeException e) {
                throw e instanceof UnreadableShard u ? u : new UnreadableShard(slice.shard(), "shard " + slice.file() + ": " + e.getMessage());
            }
        }

        /** The next minibatch ({@link #rows()} rows valid), or null after the slice's last. */
        float[] next() {
            if (j >= (slice.offset() + slice.rows()) / config.batch()) {
                return null;
            }
            float[] x;
            if (live != null) {
                int n = config.batch() * config.dim();
                x = java.util.Arrays.copyOfRange(live, (int) (j * n), (int) ((j + 1) * n));
                rows = config.batch();
            } else if (file == null) {
                x = minibatch(config, gen, slice.shard(), j);
                rows = config.batch();
            } else {
                x = new float[config.batch() * config.dim()];
                try {
                    int got = file.read(x, config.batch());
                    if (got != config.batch()) {
                        throw new UnreadableShard(slice.shard(), "shard " + slice.file() + " ended at minibatch " + j);
                    }
                } catch (java.io.IOException | RuntimeException e) {
                    throw e instanceof UnreadableShard u ? u : new UnreadableShard(slice.shard(), "shard " + slice.file() + ": "
                            + e.getMessage());
                }
                rows = keepFinite(x, config.batch(), config.dim());
            }
            j++;
            return x;
        }

        int rows() {
            return rows;
        }

        /** Moves the rows whose values are all finite to the front; returns how many there are. */
        static int keepFinite(float[] x, int n, int d) {
            int kept = 0;
            for (int b = 0; b < n; b++) {
                boolean ok = true;
                for (int i = b * d; i < (b + 1) * d && ok; i++) {
                    ok = Float.isFinite(x[i]);
                }
                if (ok) {
                    if (kept != b) {
                        System.arraycopy(x, b * d, x, kept * d, d);
                    }
                    kept++;
                }
            }
            return kept;
        }

        @Override
        public void close() {
            if (file != null) {
                try {
                    file.close();
                } catch (java.io.IOException e) {
                    // read-only: nothing to lose
                }
            }
        }
    }

    /** A worker could not read (part of) a shard file: a missing path on its node, a file cut short since it was listed. */
    public static final class UnreadableShard extends RuntimeException {
        private final int shard;

        UnreadableShard(int shard, String message) {
            super(message);
            this.shard = shard;
        }

        public int shard() {
            return shard;
        }
    }

    /** A worker's side: its model copy, trainer (with its own Adam moments) and the data generator. */
    public static final class WorkerState implements AutoCloseable {
        private final Config config;
        private final SaeTrainer trainer;
        private final PlantedDictionary gen;

        public WorkerState(Config config) {
            this.config = config;
            this.trainer = config.algorithm().equals("pam") ? new PamSgdTrainer(initialModel(config), config.workerPam())
                    : new AdamTrainer(initialModel(config), config.pam().adam());
            this.gen = config.generator();
        }

        /**
         * One round: loads the broadcast model, runs the encoder step on every minibatch of the slices and returns the
         * encoder with, for the decoder step, either the summed statistics of its codes (forgotten per minibatch as the
         * streaming trainer does) or the rows and their codes ({@link Config#shipsCodes}); and the rows and mse sum.
         * A minibatch whose encoder step was skipped (not finite) adds nothing to the decoder step.
         */
        public TrainerState round(TrainerState model, List<Protocol.Assignment> slices) {
            return round(model, slices, null);
        }

        /**
         * One round as {@link #round(TrainerState, List)}, where a live slice (at most one) trains on {@code live}: the
         * rows the worker leased from its node's ingest queue, exactly the slice's rows (validated at ingest).
         */
        public TrainerState round(TrainerState model, List<Protocol.Assignment> slices, float[] live) {
            trainer.model().loadFrom(model);
            boolean adam = config.algorithm().equals("adam");
            long planned = 0;
            for (Protocol.Assignment a : slices) {
                if (a.offset() % config.batch() != 0 || a.rows() % config.batch() != 0) {
                    throw new IllegalArgumentException("slice " + a + " is not whole minibatches of " + config.batch());
                }
                planned += a.rows();
            }
            boolean codes = !adam && config.shipsCodes(planned);
            if (codes && planned * config.dim() > Integer.MAX_VALUE / 4 - 64) {
                throw new IllegalArgumentException("a worker's round of " + planned + " rows x " + config.dim() + " does not fit one"
                        + " message (2 GiB); give fewer minibatches per shard or more shards");
            }
            DecoderStatistics local = adam || codes ? null : new DecoderStatistics(config.latents(), config.dim());
            CodeBuffer shipped = codes ? new CodeBuffer(config, (int) planned) : null;
            double gamma = config.pam().forgetting();
            long rows = 0;
            long batches = 0;
            long rejected = 0;
            double mse = 0;
            for (Protocol.Assignment a : slices) {
                try (SliceReader in = new SliceReader(config, gen, a, a.isLive() ? live : null)) {
                    float[] x;
                    while ((x = in.next()) != null) {
                        int n = in.rows();
                        rejected += config.batch() - n;
                        rows += config.batch();
                        if (n == 0) {
                            continue;
                        }
                        EncodedBatch eb = trainer.encoderStage(x, n);
                        if (adam) {
                            trainer.decoderStage(eb);
                        } else if (!eb.result().skipped()) {
                            if (codes) {
                                shipped.add(eb.codes(), x, n);
                            } else {
                                local.forget(gamma);
                                local.accumulate(eb.codes(), x, n);
                            }
                            batches++;
                        }
                        mse += eb.result().sse();
                    }
                }
            }
            TrainerState.Builder b = new TrainerState.Builder("dp-result");
            if (adam) {
                trainer.model().saveTo(b);
            } else {
                b.put("W_enc", trainer.model().encoderWeights()).put("b_enc", trainer.model().encoderBias());
                if (codes) {
                    shipped.saveTo(b);
                } else {
                    local.saveTo(b);
                }
            }
            b.put("rows", rows).put("batches", batches).put("rejected", rejected)
                    .put("mse_x1e9", Math.round(mse / Math.max(1.0, (double) (rows - rejected) * config.dim()) * 1e9));
            return b.build();
        }

        /**
         * What a round changes here besides the model it loads afresh each round: the encoder's optimiser for PAM-SGD, the
         * whole trainer for Adam. {@link #restore} puts it back.
         */
        public TrainerState snapshot() {
            return trainer instanceof PamSgdTrainer p ? p.encoderOptimiser() : trainer.snapshot();
        }

        /** Puts back a {@link #snapshot}: the next round runs as if the rounds since had not run here. */
        public void restore(TrainerState s) {
            if (trainer instanceof PamSgdTrainer p) {
                p.restoreEncoderOptimiser(s);
            } else {
                trainer.restore(s);
            }
        }

        @Override
        public void close() {
            trainer.close();
        }
    }

    /**
     * A worker's minibatches for the coordinator's decoder step, as they travel: per minibatch its rows
     * ({@code codes.rows}); per row its pointer into the entries ({@code codes.ptr}, rows + 1 per minibatch); per entry
     * latent and value ({@code codes.idx}, {@code codes.val}); the rows themselves ({@code codes.x}).
     */
    static final class CodeBuffer {
        private final Config config;
        private final List<Long> batchRows = new ArrayList<>();
        private final long[] ptr;
        private long[] idx;
        private float[] val;
        private final float[] x;
        private int rows;
        private int entries;
        private int pointers;

        CodeBuffer(Config config, int capacityRows) {
            this.config = config;
            int batchesMax = capacityRows / config.batch();
            this.ptr = new long[capacityRows + batchesMax];
            this.idx = new long[capacityRows * config.k()];
            this.val = new float[capacityRows * config.k()];
            this.x = new float[capacityRows * config.dim()];
        }

        void add(SparseCodes codes, float[] xs, int n) {
            int nnz = codes.entries();
            if (entries + nnz > idx.length) {
                int grown = Math.max(entries + nnz, Math.min(Integer.MAX_VALUE - 8, 2 * idx.length));
                idx = java.util.Arrays.copyOf(idx, grown);
                val = java.util.Arrays.copyOf(val, grown);
            }
            for (int b = 0; b <= n; b++) {
                ptr[pointers++] = b < n ? codes.rowStart(b) : codes.rowEnd(n - 1);
            }
            for (int e = 0; e < nnz; e++) {
                idx[entries + e] = codes.index(e);
                val[entries + e] = codes.value(e);
            }
            System.arraycopy(xs, 0, x, rows * config.dim(), n * config.dim());
            entries += nnz;
            rows += n;
            batchRows.add((long) n);
        }

        void saveTo(TrainerState.Builder b) {
            b.put("codes.rows", batchRows.stream().mapToLong(Long::longValue).toArray())
                    .put("codes.ptr", java.util.Arrays.copyOf(ptr, pointers))
                    .put("codes.idx", java.util.Arrays.copyOf(idx, entries))
                    .put("codes.val", java.util.Arrays.copyOf(val, entries))
                    .put("codes.x", java.util.Arrays.copyOf(x, rows * config.dim()));
        }

        /** A result's minibatches, read back and checked. */
        record Parsed(List<SparseCodes> codes, List<float[]> rows) {
            /** Feeds the minibatches to {@code step}, forgetting γ before each (as the streaming trainer does). */
            void feed(DecoderStep step, double gamma) {
                for (int i = 0; i < codes.size(); i++) {
                    step.forget(gamma);
                    step.accumulate(codes.get(i), rows.get(i), codes.get(i).rows());
                }
            }

            /**
             * Feeds the minibatches' columns {@code shard.fromColumn() .. shard.toColumn()} to a column shard of the decoder step,
             * forgetting γ before each: what a worker owning those columns adds from a result.
             */
            void feedColumns(io.proxstream.solvers.sae.IterativeDecoder shard, double gamma) {
                int d = shard.inputDim();
                for (int i = 0; i < codes.size(); i++) {
                    int n = codes.get(i).rows();
                    shard.forget(gamma);
                    shard.accumulate(codes.get(i),
                            io.proxstream.solvers.sae.IterativeDecoder.columns(rows.get(i), n, d, shard.fromColumn(), shard.toColumn()), n);
                }
            }
        }

        /** Reads the minibatches of a result written by {@link #saveTo}; a malformed result fails with the reason. */
        static Parsed parse(TrainerState r, Config config) {
            return parse(r, config, "codes.x", config.dim());
        }

        /**
         * Reads the minibatches of a result whose rows, under {@code rowsKey}, hold {@code width} of the input's columns (a
         * column shard's part, {@link IterativeDecoder#columns}); a malformed result fails with the reason.
         */
        static Parsed parse(TrainerState r, Config config, String rowsKey, int width) {
            long[] batchRows = required(r.longs().get("codes.rows"), "codes.rows");
            long[] ptr = required(r.longs().get("codes.ptr"), "codes.ptr");
            long[] idx = required(r.longs().get("codes.idx"), "codes.idx");
            float[] val = required(r.floats().get("codes.val"), "codes.val");
            float[] xs = required(r.floats().get(rowsKey), rowsKey);
            int d = width;
            List<SparseCodes> codes = new ArrayList<>();
            List<float[]> rows = new ArrayList<>();
            int p = 0;
            long e = 0;
            long xo = 0;
            for (long n : batchRows) {
                if (n < 1 || n > config.batch() || p + n + 1 > ptr.length || xo + n * d > xs.length) {
                    throw new IllegalArgumentException("result 'codes.*' is truncated or malformed at minibatch " + codes.size());
                }
                int rn = (int) n;
                int[] rp = new int[rn + 1];
                for (int t = 0; t <= rn; t++) {
                    long v = ptr[p + t] - ptr[p];
                    if (v < 0 || e + v > idx.length) {
                        throw new IllegalArgumentException("result 'codes.ptr' is inconsistent at minibatch " + codes.size());
                    }
                    rp[t] = (int) v;
                }
                p += rn + 1;
                int nnz = rp[rn];
                int[] id = new int[nnz];
                for (int t = 0; t < nnz; t++) {
                    long j = idx[(int) e + t];
                    id[t] = j < 0 || j >= config.latents() ? -1 : (int) j;
                }
                codes.add(SparseCodes.of(rn, config.latents(), rp, id,
                        java.util.Arrays.copyOfRange(val, (int) e, (int) e + nnz)));
                rows.add(java.util.Arrays.copyOfRange(xs, (int) xo, (int) (xo + n * d)));
                e += nnz;
                xo += n * d;
            }
            if (p != ptr.length || e != idx.length || xo != xs.length) {
                throw new IllegalArgumentException("result 'codes.*' has data beyond its minibatches");
            }
            for (float v : xs) {
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException("result '" + rowsKey + "' holds " + v);
                }
            }
            return new Parsed(codes, rows);
        }

        private static <T> T required(T a, String name) {
            if (a == null) {
                throw new IllegalArgumentException("result lacks '" + name + "'");
            }
            return a;
        }
    }

    /** The coordinator's side: the authoritative model and the decoder step's state (statistics or kept rows). */
    public static final class CoordinatorState {
        private final Config config;
        private final SaeModel model;
        private final DecoderStep stats;
        private final long[] offsets;
        private long round;
        private long rows;
        private long codeResults;
        private long statisticResults;
        private long rejected;
        /** Live ingest: what every worker's node accepted and what of it is trained (checkpointed with the model). */
        private final IngestLedger ledger = new IngestLedger();
        /** The shard files (empty for the synthetic stream). */
        private final List<ShardFiles.Shard> files;

        /** A new state; with shard files, lists them (an unreadable or misshapen file is an error naming it). */
        public CoordinatorState(Config config) {
            this.config = config;
            if (config.files()) {
                try {
                    this.files = ShardFiles.list(java.nio.file.Path.of(config.data()), config.dim());
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e.getMessage(), e);
                }
            } else {
                this.files = List.of();
            }
            this.model = initialModel(config);
            this.stats = config.algorithm().equals("pam") ? config.pam().decoder().create(model) : null;
            this.offsets = new long[config.files() ? files.size() : config.live() ? 0 : config.shards()];
        }

        /**
         * Which decoder the model holds: this state's own random epoch (a coordinator that resumes, or runs again, has
         * another one, so nothing a worker kept from before can match) and how often the decoder changed in it.
         */
        public record DecoderKey(long epoch, long version) {
        }

        private final long decoderEpoch = new java.security.SecureRandom().nextLong();
        private long decoderVersion;

        /** The key of the decoder {@link #modelState()} holds now; it changes with every decoder solve, Adam average or restore. */
        public DecoderKey decoderKey() {
            return new DecoderKey(decoderEpoch, decoderVersion);
        }

        /** The live-ingest ledger (owned by whoever owns this state). */
        public IngestLedger ledger() {
            return ledger;
        }

        /** Rows dropped by workers because they held a value that is not finite. */
        public long rejected() {
            return rejected;
        }

        /** The shard files and their rows (empty for the synthetic stream). */
        public List<ShardFiles.Shard> files() {
            return files;
        }

        /** Whole minibatches shard s has left (unbounded for the synthetic stream). */
        private long remaining(int s) {
            return DataParallelPam.remaining(config, files, offsets, s);
        }

        /** Results merged so far that carried codes, and that carried statistics (since this state was made or restored). */
        public long[] resultKinds() {
            return new long[] {codeResults, statisticResults};
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

        /** The target rows are trained, or (shard files) no shard has a whole minibatch left. */
        public boolean finished() {
            return finished(java.util.Set.of());
        }

        /** As {@link #finished()}, where the shards {@code unreadable} (no current worker can read them) count as used up. */
        public boolean finished(java.util.Set<Integer> unreadable) {
            if (rows >= config.totalRows()) {
                return true;
            }
            if (config.live()) {
                return false;
            }
            for (int s = 0; s < offsets.length; s++) {
                if (remaining(s) > 0 && !unreadable.contains(s)) {
                    return false;
                }
            }
            return true;
        }

        /** Rows of shard s not yet trained (whole minibatches). */
        public long rowsLeft(int s) {
            return remaining(s);
        }

        /** The model to broadcast. */
        public TrainerState modelState() {
            TrainerState.Builder b = new TrainerState.Builder("dp-pam-model");
            model.saveTo(b);
            return b.build();
        }

        /**
         * The model to broadcast to a worker that holds the decoder of {@link #decoderKey()} already: the encoder only
         * ({@link #withDecoder} puts the held decoder back). Between two decoder solves this is what changes.
         */
        public TrainerState encoderState() {
            return new TrainerState.Builder("dp-pam-model").put("W_enc", model.encoderWeights()).put("b_enc", model.encoderBias())
                    .build();
        }

        /** The decoder's entries of a full model state (everything but the encoder), as a worker keeps them. */
        public static Map<String, float[]> decoderOf(TrainerState full) {
            Map<String, float[]> d = new java.util.HashMap<>(full.floats());
            d.remove("W_enc");
            d.remove("b_enc");
            return d;
        }

        /** An encoder-only state ({@link #encoderState()}) with a kept decoder: the full model again. */
        public static TrainerState withDecoder(TrainerState encoder, Map<String, float[]> decoder) {
            Map<String, float[]> f = new java.util.HashMap<>(encoder.floats());
            f.putAll(decoder);
            return new TrainerState(encoder.algorithm(), f, encoder.doubles(), encoder.longs());
        }

        /**
         * The slices of this round for {@code workers} workers: the i-th shard with rows left goes to worker i mod workers,
         * {@code batchesPerShard} minibatches of it (fewer at a file's end; a tail shorter than a minibatch is not used).
         */
        public List<List<Protocol.Assignment>> assign(int workers) {
            List<String> names = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                names.add(Integer.toString(w));
            }
            return assign(names, Map.of());
        }

        /**
         * As {@link #assign(int)}, for the workers {@code names} (in order), where shard s does not go to the workers in
         * {@code refused.get(s)} (they could not read it): it goes to the next worker that can, and to none when no worker
         * can (it waits for one that can; see {@link #finished(java.util.Set)}).
         */
        public List<List<Protocol.Assignment>> assign(List<String> names, Map<Integer, java.util.Set<String>> refused) {
            return DataParallelPam.assign(config, files, offsets, names, refused);
        }

        /**
         * The live slices of this round: worker i gets up to {@code batchesPerShard} minibatches of the rows waiting in its
         * node's ingest queue ({@code waiting[i]}, as last reported), none when less than a minibatch waits. So round sizes
         * follow the queue depths, and the run rounds only when some queue holds a minibatch.
         */
        public List<List<Protocol.Assignment>> assignLive(long[] waiting) {
            return DataParallelPam.assignLive(config, waiting);
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
            boolean adam = config.algorithm().equals("adam");
            // read and check every result before anything changes: a malformed one must not be half applied
            List<CodeBuffer.Parsed> parsed = new ArrayList<>();
            long dropped = 0;
            for (TrainerState r : results) {
                total += r.counter("rows");
                dropped += r.longs().containsKey("rejected") ? r.counter("rejected") : 0;
                if (adam) {
                    continue;
                }
                if (r.longs().containsKey("codes.rows")) {
                    parsed.add(CodeBuffer.parse(r, config));
                } else if (!(stats instanceof DecoderStatistics)) {
                    throw new IllegalArgumentException("a worker shipped decoder statistics, but the coordinator's decoder step"
                            + " is " + stats.kind() + " (it needs rows and codes)");
                } else {
                    requireLength(r, "stats.zz", (long) m * m);
                    requireLength(r, "stats.zx", (long) m * d);
                    requireLength(r, "stats.z", m);
                    requireLength(r, "stats.x", d);
                    requireLength(r, "stats.n_xx", 2);
                    parsed.add(null);
                }
            }
            average(results, total, "W_enc", model.encoderWeights());
            average(results, total, "b_enc", model.encoderBias());
            if (adam) {
                average(results, total, "W_dec", model.decoderWeights());
                average(results, total, "b_dec", model.decoderBias());
                decoderVersion++;
            }
            model.encoderChanged();
            if (!adam) {
                // in worker-name order, each result's minibatches as if streamed: γ before each
                double gamma = config.pam().forgetting();
                DecoderStatistics one = null;
                for (int i = 0; i < results.size(); i++) {
                    TrainerState r = results.get(i);
                    if (parsed.get(i) != null) {
                        parsed.get(i).feed(stats, gamma);
                        if (config.live()) {
                            parsed.get(i).rows().forEach(this::keepRecent);
                        }
                        codeResults++;
                    } else {
                        DecoderStatistics exact = (DecoderStatistics) stats;
                        if (one == null) {
                            one = new DecoderStatistics(m, d);
                        }
                        one.loadFrom(r);
                        exact.forget(Math.pow(gamma, r.counter("batches")));
                        exact.merge(one);
                        statisticResults++;
                    }
                }
                if ((round + 1) % config.solveEvery() == 0) {
                    PamSgdTrainer.Options o = config.pam();
                    stats.solveInto(model, o.rho(), o.muDec(), o.holdUnfired());
                    decoderVersion++;
                }
            }
            for (List<Protocol.Assignment> slices : covered) {
                for (Protocol.Assignment a : slices) {
                    if (!a.isLive()) {
                        offsets[a.shard()] = Math.max(offsets[a.shard()], a.offset() + a.rows());
                    }
                }
            }
            rows += total;
            rejected += dropped;
            round++;
        }

        /** Live runs: the latest (up to) {@value #RECENT} trained rows, on which the summary measures FVU. */
        private static final int RECENT = 4096;
        private final java.util.ArrayDeque<float[]> recent = new java.util.ArrayDeque<>();
        private int recentRows;

        private void keepRecent(float[] minibatch) {
            recent.addLast(minibatch);
            recentRows += minibatch.length / config.dim();
            while (recentRows - recent.peekFirst().length / config.dim() >= RECENT) {
                recentRows -= recent.pollFirst().length / config.dim();
            }
        }

        private static void requireLength(TrainerState r, String name, long length) {
            double[] a = r.doubles().get(name);
            if (a == null || a.length != length) {
                throw new IllegalArgumentException("worker result's '" + name + "' holds " + (a == null ? "nothing" : a.length + " values")
                        + ", expected " + length);
            }
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
            if (stats != null) {
                stats.saveTo(b);
            }
            b.put("offsets", offsets.clone()).put("round", round).put("rows", rows).put("rejected", rejected);
            if (config.live()) {
                ledger.saveTo(b);
            }
            if (!files.isEmpty()) {
                b.put("shardNames", files.stream().mapToLong(f -> ShardFiles.nameDigest(f.file())).toArray());
            }
            return b.build();
        }

        public void restore(TrainerState s) {
            s.requireAlgorithm("dp-pam-coordinator");
            model.loadFrom(s);
            decoderVersion++;
            if (stats != null) {
                stats.loadFrom(s);
            }
            long[] o = s.longs().get("offsets");
            if (o == null || o.length != offsets.length) {
                throw new IllegalArgumentException("checkpoint has " + (o == null ? "no" : o.length) + " shard offsets, this run "
                        + offsets.length + " shards");
            }
            if (!files.isEmpty()) {
                long[] names = s.longs().get("shardNames");
                for (int i = 0; i < files.size(); i++) {
                    if (names == null || names[i] != ShardFiles.nameDigest(files.get(i).file())) {
                        throw new IllegalArgumentException("checkpoint was written over other shard files: shard " + i + " is now "
                                + files.get(i).file() + ", a different file then (the listing must stay as it was)");
                    }
                    if (o[i] > files.get(i).rows()) {
                        throw new IllegalArgumentException("checkpoint has trained " + o[i] + " rows of " + files.get(i).file()
                                + ", which now holds " + files.get(i).rows());
                    }
                }
            }
            System.arraycopy(o, 0, offsets, 0, o.length);
            rejected = s.longs().containsKey("rejected") ? s.counter("rejected") : 0;
            if (config.live()) {
                ledger.loadFrom(s);
            }
            round = s.counter("round");
            rows = s.counter("rows");
        }

        /**
         * Synthetic stream: MMCS against the planted dictionary and FVU on held-out rows. Shard files: FVU on the first
         * (up to) 4 096 finite rows of the first shard — training rows, not held out — and no MMCS (NaN).
         */
        public Quality quality() {
            if (config.live()) {
                if (recentRows == 0) {
                    return new Quality(Double.NaN, Double.NaN, Double.NaN, -1);
                }
                float[] x = new float[recentRows * config.dim()];
                int at = 0;
                for (float[] b : recent) {
                    System.arraycopy(b, 0, x, at, b.length);
                    at += b.length;
                }
                SaeEvaluator.Result r = SaeEvaluator.evaluate(model, new Dataset(x, recentRows, config.dim()), 512);
                return new Quality(Double.NaN, r.fvu(), r.l0(), r.dead());
            }
            return DataParallelPam.quality(config, files, model);
        }
    }

    /**
     * The ledger of live ingest over the cluster: {@code accepted = trained + queued + lost}. Per worker node it holds what
     * the node last reported accepted and the rows of it merged into the model; a node that dies closes its entry, and
     * what it accepted and was not merged is lost (reason {@code node_lost}). A node whose count went backwards restarted
     * (a new process under the same address: reports carry the process's incarnation): its old entry is closed the same way. A node answers a push 200 only once
     * the coordinator wrote down a count holding its rows ({@link Protocol.LedgerRecorded}), so only rows answered 202
     * (not recorded in time) can be in no ledger, should their node die before its next report. Not thread-safe: owned
     * with the coordinator's state.
     */
    public static final class IngestLedger {
        private final Map<String, long[]> open = new java.util.TreeMap<>();
        /** Counts the ledger's changes: orders a checkpoint's ledger and a newer {@link #snapshot()} written beside it. */
        private long seq;
        private long closedAccepted;
        private long closedTrained;
        private long lost;

        /** What {@code worker}'s node reported it has accepted, from one process that stays the same ({@code incarnation} 1). */
        public void report(String worker, long accepted) {
            report(worker, 1, accepted);
        }

        /**
         * What {@code worker}'s node reported it has accepted. {@code incarnation} tells the node's processes apart (a
         * random number per process; 0: not known): a report from another incarnation than the entry's is a new process
         * under the same address, and the old one's entry is closed (what it had not merged is lost). A lower count from
         * the same incarnation is a report overtaken by a later one (they travel different paths): it changes nothing.
         */
        public void report(String worker, long incarnation, long accepted) {
            long[] e = open.get(worker);
            if (e != null && incarnation != 0 && e[2] != 0 && e[2] != incarnation) {
                close(worker);
                e = null;
            }
            if (e == null) {
                e = new long[3];
                open.put(worker, e);
                seq++;
            }
            if (incarnation != 0 && e[2] != incarnation) {
                e[2] = incarnation;
                seq++;
            }
            long v = Math.max(e[0], Math.max(accepted, e[1]));
            if (v != e[0]) {
                e[0] = v;
                seq++;
            }
        }

        /** {@code rows} of {@code worker}'s rows were merged into the model. */
        public void merged(String worker, long rows) {
            seq++;
            long[] e = open.computeIfAbsent(worker, w -> new long[3]);
            e[1] += rows;
            e[0] = Math.max(e[0], e[1]);
        }

        /** The workers whose rows the ledger still expects (their nodes were not known gone). */
        public java.util.Set<String> openWorkers() {
            return new java.util.TreeSet<>(open.keySet());
        }

        /** {@code worker}'s node is gone: what it accepted and was not merged is lost. */
        public void close(String worker) {
            seq++;
            long[] e = open.remove(worker);
            if (e != null) {
                closedAccepted += e[0];
                closedTrained += e[1];
                lost += e[0] - e[1];
                closedEntries.add(new Closed(worker, e[2], e[0], e[1]));
            }
        }

        /** A closed entry, kept so that a roll-back to a checkpoint can take back what it had merged since (its rows become lost). */
        private static final class Closed {
            final String worker;
            final long incarnation;
            final long accepted;
            long merged;

            Closed(String worker, long incarnation, long accepted, long merged) {
                this.worker = worker;
                this.incarnation = incarnation;
                this.accepted = accepted;
                this.merged = merged;
            }
        }

        private final List<Closed> closedEntries = new ArrayList<>();

        /** An entry's key across open and closed: the node and its process. */
        private static String key(String worker, long incarnation) {
            return worker + "#" + incarnation;
        }

        /** Merged rows per entry ({@link #key}), open and closed. */
        private Map<String, Long> mergedByEntry() {
            Map<String, Long> m = new java.util.HashMap<>();
            open.forEach((w, e) -> m.merge(key(w, e[2]), e[1], Long::sum));
            for (Closed c : closedEntries) {
                m.merge(key(c.worker, c.incarnation), c.merged, Long::sum);
            }
            return m;
        }

        /**
         * The rounds merged after {@code checkpoint} (this ledger as it was when the checkpoint was written) are rolled back:
         * each entry's merged count goes back to the checkpoint's (0 for an entry opened since). The rows taken back from an
         * open node are queued again (its node requeues the leases the checkpoint does not hold); those of a node closed since
         * are lost. Accepted counts stay: what was accepted stays accepted. Returns the rows taken back.
         */
        public long rollBack(IngestLedger checkpoint) {
            Map<String, Long> then = checkpoint.mergedByEntry();
            long back = 0;
            for (Map.Entry<String, long[]> en : open.entrySet()) {
                long[] e = en.getValue();
                long keep = Math.min(e[1], then.getOrDefault(key(en.getKey(), e[2]), 0L));
                back += e[1] - keep;
                e[1] = keep;
            }
            for (Closed c : closedEntries) {
                long keep = Math.min(c.merged, then.getOrDefault(key(c.worker, c.incarnation), 0L));
                long d = c.merged - keep;
                back += d;
                c.merged = keep;
                closedTrained -= d;
                lost += d;
            }
            seq++;
            return back;
        }

        /**
         * The whole ledger (open and closed entries): what the column-sharded coordinator writes beside its control file after
         * every change and into each checkpoint's record, and reads with {@link #fromState}.
         */
        public Map<String, Object> state() {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("seq", seq);
            Map<String, long[]> o = new java.util.TreeMap<>();
            open.forEach((w, e) -> o.put(w, e.clone()));
            m.put("open", o);
            List<Object[]> c = new ArrayList<>();
            for (Closed x : closedEntries) {
                c.add(new Object[] {x.worker, x.incarnation, x.accepted, x.merged});
            }
            m.put("closed", c);
            return m;
        }

        /** The ledger {@link #state()} wrote; a malformed one is an error that says what is wrong. */
        public static IngestLedger fromState(com.fasterxml.jackson.databind.JsonNode n) {
            IngestLedger l = new IngestLedger();
            if (n == null || !n.has("seq") || !n.path("open").isObject() || !n.path("closed").isArray()) {
                throw new IllegalArgumentException("an ingest ledger needs seq, open and closed, got " + n);
            }
            l.seq = n.get("seq").asLong();
            n.get("open").fields().forEachRemaining(f -> {
                com.fasterxml.jackson.databind.JsonNode v = f.getValue();
                if (v.size() != 3 || v.get(1).asLong() < 0 || v.get(1).asLong() > v.get(0).asLong()) {
                    throw new IllegalArgumentException("the ledger entry of " + f.getKey() + " is malformed: " + v);
                }
                l.open.put(f.getKey(), new long[] {v.get(0).asLong(), v.get(1).asLong(), v.get(2).asLong()});
            });
            for (com.fasterxml.jackson.databind.JsonNode v : n.get("closed")) {
                if (v.size() != 4 || v.get(3).asLong() < 0 || v.get(3).asLong() > v.get(2).asLong()) {
                    throw new IllegalArgumentException("a closed ledger entry is malformed: " + v);
                }
                Closed c = new Closed(v.get(0).asText(), v.get(1).asLong(), v.get(2).asLong(), v.get(3).asLong());
                l.closedEntries.add(c);
                l.closedAccepted += c.accepted;
                l.closedTrained += c.merged;
                l.lost += c.accepted - c.merged;
            }
            return l;
        }

        public long accepted() {
            long a = closedAccepted;
            for (long[] e : open.values()) {
                a += e[0];
            }
            return a;
        }

        public long trained() {
            long t = closedTrained;
            for (long[] e : open.values()) {
                t += e[1];
            }
            return t;
        }

        /** Accepted by live nodes and not yet merged. */
        public long queued() {
            long q = 0;
            for (long[] e : open.values()) {
                q += e[0] - e[1];
            }
            return q;
        }

        /** Accepted by nodes that died (or restarted) and never merged. */
        public long lost() {
            return lost;
        }

        /** The ledger as the status and summary show it. */
        public Map<String, Object> describe() {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("accepted", accepted());
            m.put("trained", trained());
            m.put("queued", queued());
            m.put("lost", Map.of("node_lost", lost));
            Map<String, Object> per = new java.util.LinkedHashMap<>();
            open.forEach((w, e) -> per.put(w, Map.of("accepted", e[0], "trained", e[1])));
            m.put("nodes", per);
            return m;
        }

        /** The number of changes so far. */
        public long seq() {
            return seq;
        }

        /**
         * What a crash of the coordinator must not lose: the change count and, per open node, the rows it reported accepted
         * (what was merged since the last checkpoint is rolled back with the model, so only accepted counts are kept).
         */
        public Map<String, Object> snapshot() {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("seq", seq);
            Map<String, Long> acc = new java.util.TreeMap<>();
            Map<String, Long> inc = new java.util.TreeMap<>();
            open.forEach((w, e) -> {
                acc.put(w, e[0]);
                inc.put(w, e[2]);
            });
            m.put("accepted", acc);
            m.put("incarnations", inc);
            return m;
        }

        /**
         * Brings a ledger restored from a checkpoint up to a {@link #snapshot()} written after it (a newer change count;
         * an older one is ignored): nodes the snapshot knows accepted more keep the larger count, nodes that joined after
         * the checkpoint are added (nothing of theirs trained), nodes that left after it are closed (their rows merged since
         * the checkpoint are not in the restored model, so they count lost). A node that died with the coordinator is thus
         * known with what it last reported, not with what the checkpoint held.
         */
        public void catchUp(long snapshotSeq, Map<String, Long> accepted) {
            catchUp(snapshotSeq, accepted, Map.of());
        }

        /**
         * As {@link #catchUp(long, Map)}, with each node's incarnation as the snapshot knew it: a node whose incarnation
         * changed after the checkpoint restarted in between, so its checkpointed entry is closed (lost what it had not
         * merged) and the snapshot's count opens the new one.
         */
        public void catchUp(long snapshotSeq, Map<String, Long> accepted, Map<String, Long> incarnations) {
            if (snapshotSeq < seq) {
                return;
            }
            for (String w : new java.util.ArrayList<>(open.keySet())) {
                long inc = incarnations.getOrDefault(w, 0L);
                if (!accepted.containsKey(w) || (inc != 0 && open.get(w)[2] != 0 && open.get(w)[2] != inc)) {
                    close(w);
                }
            }
            accepted.forEach((w, a) -> {
                long[] e = open.computeIfAbsent(w, k -> new long[3]);
                e[0] = Math.max(e[0], Math.max(a, e[1]));
                long inc = incarnations.getOrDefault(w, 0L);
                if (inc != 0) {
                    e[2] = inc;
                }
            });
            seq = Math.max(seq, snapshotSeq);
        }

        void saveTo(TrainerState.Builder b) {
            b.put("ledger.seq", seq);
            b.put("ledger.closed", closedAccepted, closedTrained, lost);
            open.forEach((w, e) -> b.put("ledger.open." + w, e[0], e[1], e[2]));
        }

        void loadFrom(TrainerState s) {
            open.clear();
            long[] c = s.longs().get("ledger.closed");
            if (c == null || c.length != 3) {
                throw new IllegalArgumentException("checkpoint of a live run has no ingest ledger ('ledger.closed')");
            }
            closedAccepted = c[0];
            closedTrained = c[1];
            lost = c[2];
            long[] q = s.longs().get("ledger.seq");
            seq = q == null || q.length != 1 ? 0 : q[0];
            s.longs().forEach((k, v) -> {
                if (k.startsWith("ledger.open.")) {
                    // (accepted, merged, incarnation); checkpoints before incarnations hold two values: incarnation not known
                    if ((v.length != 2 && v.length != 3) || v[1] > v[0] || v[1] < 0) {
                        throw new IllegalArgumentException("checkpoint's ledger entry " + k + " is malformed");
                    }
                    open.put(k.substring("ledger.open.".length()), java.util.Arrays.copyOf(v, 3));
                }
            });
        }
    }

    /**
     * The slices of a live round: each worker takes the whole minibatches waiting in its node's queue ({@code waiting}, from
     * its last report), at most a slice ({@code batchesPerShard} minibatches); none where less than a minibatch waits.
     */
    public static List<List<Protocol.Assignment>> assignLive(Config config, long[] waiting) {
        List<List<Protocol.Assignment>> out = new ArrayList<>();
        for (long w : waiting) {
            long n = Math.min(config.sliceRows(), w) / config.batch() * config.batch();
            out.add(n > 0 ? List.of(Protocol.Assignment.live((int) n)) : List.of());
        }
        return out;
    }

    /** Whole minibatches shard s has left after {@code offsets[s]} (unbounded for the synthetic stream: no files). */
    static long remaining(Config config, List<ShardFiles.Shard> files, long[] offsets, int s) {
        return files.isEmpty() ? Long.MAX_VALUE : (files.get(s).rows() - offsets[s]) / config.batch() * config.batch();
    }

    /**
     * The slices of a round for the workers {@code names} (in order), given each shard's trained rows {@code offsets}: the
     * i-th shard with rows left goes to the next worker that has not refused it ({@code refused.get(s)}: it could not read
     * it), {@code batchesPerShard} minibatches of it (fewer at a file's end; a tail shorter than a minibatch is not used);
     * to none when no worker can. Shared by the star's coordinator and the column-sharded run's.
     */
    public static List<List<Protocol.Assignment>> assign(Config config, List<ShardFiles.Shard> files, long[] offsets, List<String> names,
                                                         Map<Integer, java.util.Set<String>> refused) {
        int workers = names.size();
        List<List<Protocol.Assignment>> out = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            out.add(new ArrayList<>());
        }
        int active = 0;
        for (int s = 0; s < offsets.length; s++) {
            long n = Math.min(config.sliceRows(), remaining(config, files, offsets, s));
            if (n <= 0) {
                continue;
            }
            java.util.Set<String> no = refused.getOrDefault(s, java.util.Set.of());
            for (int t = 0; t < workers; t++) {
                int w = (active + t) % workers;
                if (!no.contains(names.get(w))) {
                    out.get(w).add(new Protocol.Assignment(s, offsets[s], (int) n, files.isEmpty() ? "" : files.get(s).file()));
                    active = w + 1;
                    break;
                }
            }
        }
        return out;
    }

    /**
     * The quality of {@code model} trained on the synthetic stream (MMCS against the planted dictionary, FVU on held-out
     * rows) or on shard files (FVU on the first (up to) 4 096 finite rows of the first shard — training rows — and no MMCS).
     */
    public static Quality quality(Config config, List<ShardFiles.Shard> files, SaeModel model) {
        if (!files.isEmpty()) {
            int n = (int) Math.min(4096, files.get(0).rows());
            float[] x = new float[n * config.dim()];
            try (var r = ShardFiles.open(java.nio.file.Path.of(files.get(0).file()))) {
                n = SliceReader.keepFinite(x, r.read(x, n), config.dim());
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e.getMessage(), e);
            }
            SaeEvaluator.Result r = SaeEvaluator.evaluate(model, new Dataset(java.util.Arrays.copyOf(x, n * config.dim()), n,
                    config.dim()), 512);
            return new Quality(Double.NaN, r.fvu(), r.l0(), r.dead());
        }
        PlantedDictionary gen = config.generator();
        Dataset eval = gen.sample(4096, config.seed() + 1_000_003L);
        SaeEvaluator.Result r = SaeEvaluator.evaluate(model, eval, 512);
        return new Quality(FeatureRecovery.mmcs(gen.dictionary(), config.features(), model), r.fvu(), r.l0(), r.dead());
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
