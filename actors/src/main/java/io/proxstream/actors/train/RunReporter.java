package io.proxstream.actors.train;

import io.proxstream.actors.stream.WindowReport;
import io.proxstream.monitoring.SaeRunMeters;
import io.proxstream.monitoring.StreamMeters;
import io.proxstream.monitoring.report.CsvTable;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The sink of a training stream: receives each {@link WindowReport} through
 * {@code ActorSink.actorRefWithBackpressure} (acknowledging it, so the stream's back-pressure
 * reaches this actor), publishes it to the run's meters, appends it to {@code metrics.csv} and
 * prints a progress line. When the stream ends it completes {@code done} with the reports.
 */
public final class RunReporter extends AbstractBehavior<RunReporter.Command> {

    /** Local-only protocol (never crosses nodes, so exempt from serialisation checks). */
    public sealed interface Command extends NoSerializationVerificationNeeded {
    }

    /** The stream is starting. */
    public record Started(ActorRef<Ack> replyTo) implements Command {
    }

    /** One report window. */
    public record Window(WindowReport report, ActorRef<Ack> replyTo) implements Command {
    }

    /** The stream completed. */
    public enum Completed implements Command { INSTANCE }

    /** The stream failed. */
    public record Failed(Throwable cause) implements Command {
    }

    /** Acknowledgement: send the next element. */
    public enum Ack implements NoSerializationVerificationNeeded { INSTANCE }

    static final List<String> CSV_HEADER = List.of("samples", "seconds", "loss", "mse", "fvu", "l0", "dead_latents",
            "vectors_per_s", "decoder_solves", "solve_ms", "rejected");

    private final SaeRunMeters meters;
    private final StreamMeters streamMeters;
    private final CsvTable csv;
    private final PrintStream progress;
    private final String label;
    private final int latents;
    private final CompletableFuture<List<WindowReport>> done;
    private final List<WindowReport> history = new ArrayList<>();
    private long reportedSamples;

    public static Behavior<Command> create(SaeRunMeters meters, StreamMeters streamMeters, CsvTable csv, PrintStream progress,
                                           String label, int latents, CompletableFuture<List<WindowReport>> done) {
        return Behaviors.setup(ctx -> new RunReporter(ctx, meters, streamMeters, csv, progress, label, latents, done));
    }

    private RunReporter(ActorContext<Command> ctx, SaeRunMeters meters, StreamMeters streamMeters, CsvTable csv,
                        PrintStream progress, String label, int latents, CompletableFuture<List<WindowReport>> done) {
        super(ctx);
        this.meters = meters;
        this.streamMeters = streamMeters;
        this.csv = csv;
        this.progress = progress;
        this.label = label;
        this.latents = latents;
        this.done = done;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Started.class, this::onStarted)
                .onMessage(Window.class, this::onWindow)
                .onMessageEquals(Completed.INSTANCE, this::onCompleted)
                .onMessage(Failed.class, this::onFailed)
                .build();
    }

    private Behavior<Command> onStarted(Started s) {
        s.replyTo().tell(Ack.INSTANCE);
        return this;
    }

    private Behavior<Command> onWindow(Window w) {
        WindowReport r = w.report();
        var m = r.metrics();
        meters.report(m.loss(), m.mse(), m.fvu(), m.l0(), m.deadLatents(), m.vectorsPerSecond(), m.samples() - reportedSamples,
                m.auxLoss());
        if (r.solves() > 0) {
            meters.solve(r.solveMillis() / r.solves());
            if (r.lastSolve() != null) {
                meters.decoderConvergence(r.lastSolve().iterations(), r.lastSolve().residual());
            }
        }
        reportedSamples = m.samples();
        history.add(r);
        double rejected = streamMeters.rejectedTotal();
        try {
            csv.row(m.samples(), r.seconds(), m.loss(), m.mse(), m.fvu(), m.l0(), m.deadLatents(), m.vectorsPerSecond(),
                    r.solves(), r.solveMillis(), (long) rejected);
        } catch (IOException e) {
            getContext().getLog().error("cannot append to metrics.csv: {}", e.getMessage());
        }
        if (progress != null) {
            progress.printf(Locale.ROOT, "[%s] %,11d samples %7.1fs  %8.0f vec/s  loss %.4e  FVU %.4f  L0 %6.2f  dead %d/%d  rejected %d%n",
                    label, m.samples(), r.seconds(), m.vectorsPerSecond(), m.loss(), m.fvu(), m.l0(), m.deadLatents(), latents,
                    (long) rejected);
        }
        w.replyTo().tell(Ack.INSTANCE);
        return this;
    }

    private Behavior<Command> onCompleted() {
        closeCsv();
        done.complete(List.copyOf(history));
        return Behaviors.stopped();
    }

    private Behavior<Command> onFailed(Failed f) {
        closeCsv();
        done.completeExceptionally(f.cause());
        return Behaviors.stopped();
    }

    private void closeCsv() {
        try {
            csv.close();
        } catch (IOException e) {
            getContext().getLog().error("cannot close metrics.csv: {}", e.getMessage());
        }
    }
}
