package io.proxstream.actors.stream;

import io.proxstream.solvers.sae.DecoderStatistics;
import io.proxstream.solvers.sae.EncodedBatch;
import io.proxstream.solvers.sae.SaeTrainer;
import io.proxstream.solvers.sae.TrainingMetrics;
import io.proxstream.monitoring.StreamMeters;
import java.time.Duration;
import java.util.Optional;
import org.apache.pekko.NotUsed;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The training stages of the stream: encoder stage → decoder-statistics stage → metrics
 * aggregation. The two trainer stages share the trainer's model (the decoder stage writes the
 * decoder the next encoder stage reads), so they must stay in one fused island; the caller places
 * the async boundary in front of them.
 */
public final class TrainingStages {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TrainingStages.class);

    /** Dispatcher of the training island (see reference.conf). */
    public static final String TRAINING_DISPATCHER = "proxstream.training-dispatcher";

    private TrainingStages() {
    }

    /**
     * The whole training stream up to its sink:
     * <pre>
     *   chunks → kill switch → time budget → validate → rebatch → back-pressure probe → [async]
     *          → encoder stage → decoder-statistics stage → metrics aggregation
     * </pre>
     * The ingest part runs in its own island so that data preparation overlaps training; the
     * island boundary buffers at most two minibatches. The training island runs on
     * {@value #TRAINING_DISPATCHER}. The materialised kill switch ends the stream gracefully.
     *
     * @param maxSamples  stop after this many rows (0 = no limit)
     * @param maxSeconds  stop taking input after this much time (0 = no limit)
     */
    public static Source<WindowReport, UniqueKillSwitch> graph(Source<Chunk, ?> chunks, SaeTrainer trainer, int batchSize,
                                                                long maxSamples, double maxSeconds, long reportEvery,
                                                                long deadWindow, StreamMeters meters) {
        int d = trainer.model().spec().inputDim();
        int m = trainer.model().spec().latents();
        return graph(chunks, trainer, batchSize, maxSamples, maxSeconds, reportEvery, new TrainingMetrics(d, m, deadWindow),
                io.proxstream.protocol.config.RunConfig.DEFAULT_MAX_ABS, meters);
    }

    /**
     * The training stream with a caller-owned metrics window (its dead-latent tracker goes into
     * checkpoints) and a bound on values: validation drops a row holding a value beyond {@code maxAbs}.
     * Snapshots of the trainer are taken by control tokens in {@code chunks}, between steps.
     */
    public static Source<WindowReport, UniqueKillSwitch> graph(Source<Chunk, ?> chunks, SaeTrainer trainer, int batchSize,
                                                                long maxSamples, double maxSeconds, long reportEvery,
                                                                TrainingMetrics window, double maxAbs, StreamMeters meters) {
        return graph(chunks, trainer, batchSize, maxSamples, maxSeconds, reportEvery, window, maxAbs, null, meters);
    }

    /**
     * As above, with valid rows held out of training into {@code holdOut} (null: none) right behind
     * validation.
     */
    public static Source<WindowReport, UniqueKillSwitch> graph(Source<Chunk, ?> chunks, SaeTrainer trainer, int batchSize,
                                                                long maxSamples, double maxSeconds, long reportEvery,
                                                                TrainingMetrics window, double maxAbs, HoldOut holdOut,
                                                                StreamMeters meters) {
        int d = trainer.model().spec().inputDim();
        Source<Chunk, UniqueKillSwitch> in = chunks.viaMat(KillSwitches.single(), Keep.right());
        if (maxSeconds > 0) {
            in = in.takeWithin(Duration.ofMillis((long) (maxSeconds * 1000)));
        }
        Source<Chunk, UniqueKillSwitch> valid = in.via(Validate.flow(d, maxAbs, meters));
        if (holdOut != null) {
            valid = valid.via(holdOut.flow());
        }
        return valid
                .via(new Rebatch(batchSize, maxSamples))
                .via(new BackpressureProbe<>(nanos -> meters.backpressureWait("trainer", nanos)))
                .async()
                .via(encoder(trainer)
                        .map(st -> {
                            if (st.batch() != null && st.batch().result().skipped()) {
                                // not finite: nothing of it was committed; counted like a rejected row
                                meters.rejected("non_finite_step", st.batch().rows());
                            }
                            return st;
                        })
                        .via(decoderStatistics(trainer))
                        .via(metrics(window, reportEvery))
                        .withAttributes(ActorAttributes.dispatcher(TRAINING_DISPATCHER).and(Attributes.inputBuffer(1, 2))));
    }

    /** Gradient updates; emits the batch with the codes the statistics need (control tokens pass). */
    public static Flow<Minibatch, Staged, NotUsed> encoder(SaeTrainer trainer) {
        return Flow.<Minibatch>create().map(b -> b.control() != null
                ? new Staged(null, b.control())
                : new Staged(trainer.encoderStage(b.x(), b.rows()), null)).named("encoder-stage");
    }

    /** Accumulates decoder statistics and re-solves the decoder when due (no-op for Adam trainers). */
    public static Flow<Staged, Staged, NotUsed> decoderStatistics(SaeTrainer trainer) {
        return Flow.<Staged>create().map(b -> {
            if (b.batch() != null) {
                trainer.decoderStage(b.batch());
            }
            return b;
        }).named("decoder-statistics-stage");
    }

    /**
     * Aggregates step results into a {@link WindowReport} every {@code reportEvery} samples, and
     * once more at the end of the stream for the remainder. Runs control tokens' actions: at that
     * point every batch ahead of the token has passed all training stages.
     */
    public static Flow<Staged, WindowReport, NotUsed> metrics(int inputDim, int latents, long deadWindow, long reportEvery) {
        return metrics(new TrainingMetrics(inputDim, latents, deadWindow), reportEvery);
    }

    /** As {@link #metrics(int, int, long, long)} with a given window. */
    public static Flow<Staged, WindowReport, NotUsed> metrics(TrainingMetrics window, long reportEvery) {
        return Flow.<Staged>create().statefulMap(
                () -> new Window(window),
                (w, b) -> Pair.create(w, w.add(b, reportEvery)),
                w -> {
                    if (w.metrics.windowRows() > 0 || w.reports == 0) {
                        return Optional.of(Optional.of(w.report(true)));
                    }
                    return Optional.empty();
                })
                .filter(Optional::isPresent)
                .map(Optional::get)
                .named("metrics-aggregation");
    }

    private static final class Window {
        final TrainingMetrics metrics;
        final long start = System.nanoTime();
        long lastReport = start;
        int solves;
        double solveMillis;
        DecoderStatistics.SolveReport lastSolve;
        int reports;

        Window(TrainingMetrics metrics) {
            this.metrics = metrics;
        }

        Optional<WindowReport> add(Staged staged, long reportEvery) {
            if (staged.control() != null) {
                // every batch before the token is trained and counted: the barrier
                staged.control().run();
                return Optional.empty();
            }
            EncodedBatch b = staged.batch();
            if (b.result().skipped()) {
                return Optional.empty();
            }
            if (b.result().solveError() != null) {
                LOG.warn("decoder solve failed, the previous decoder is kept: {}", b.result().solveError());
            }
            metrics.add(b.x(), b.rows(), b.result());
            DecoderStatistics.SolveReport s = b.result().solve();
            if (s != null) {
                solves++;
                solveMillis += s.millis();
                lastSolve = s;
            }
            return metrics.windowRows() >= reportEvery ? Optional.of(report(false)) : Optional.empty();
        }

        WindowReport report(boolean last) {
            long now = System.nanoTime();
            WindowReport r = new WindowReport(metrics.report((now - lastReport) / 1e9), solves, solveMillis,
                    (now - start) / 1e9, last, lastSolve);
            lastReport = now;
            solves = 0;
            solveMillis = 0;
            lastSolve = null;
            reports++;
            return r;
        }
    }
}
