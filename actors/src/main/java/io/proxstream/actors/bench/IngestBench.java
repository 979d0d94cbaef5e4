package io.proxstream.actors.bench;

import io.proxstream.monitoring.TaskProgress;
import io.proxstream.actors.serve.RunHandle;
import io.proxstream.actors.serve.ServeServer;
import io.proxstream.actors.stream.Chunk;
import io.proxstream.actors.stream.TrainingStages;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.StreamMeters;
import io.proxstream.protocol.config.RunConfig;
import io.proxstream.protocol.config.SaeConfig;
import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.protocol.config.TrainerConfig;
import io.proxstream.protocol.ingest.IngestFrame;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.sae.Adam;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.Sparsifier;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * {@code proxstream bench ingest}: how fast {@code serve} takes activations, over HTTP and TCP, into
 * a run that discards them and into a run that trains (PAM-SGD at the transformer shape), against
 * the same trainer fed by the in-process stream of {@code train}. Producers run in the same
 * process on the same two cores as the server, which the figures include.
 */
public final class IngestBench {
    private static final int D = 384;
    private static final int ROWS = 1024;

    private final boolean quick;
    private final PrintStream out;
    private final ActorSystem<?> system;

    public IngestBench(ActorSystem<?> system, boolean quick, PrintStream out) {
        this.system = system;
        this.quick = quick;
        this.out = out;
    }

    private static TrainerConfig trainer(String algo) {
        return new TrainerConfig(algo, 1e-3, 0.9, 0.999, 1e-8, 0, 1, 0, 0, 0, 1e-6, 0, "decoder-first", 32, 0.995, true);
    }

    public void run() throws Exception {
        out.println("== proxstream bench ingest ==");
        out.printf(Locale.ROOT, "machine: %d cores; %s%n", Runtime.getRuntime().availableProcessors(), BlasInfo.current().describe());
        out.printf(Locale.ROOT, "batches of %d x %d float32 (%.2f MB) pushed by 2 HTTP threads or 1 TCP connection in this process;"
                + " run: topk m=3072 k=32, batch 256, queue 16 MiB%n", ROWS, D, 4.0 * ROWS * D / 1e6);
        double seconds = quick ? 4 : 12;
        Path dir = Files.createTempDirectory("proxstream-bench-ingest");
        List<String[]> rows = new ArrayList<>();
        try (ServeServer s = ServeServer.start(new ServeConfig("127.0.0.1", 0, 0, dir.resolve("runs").toString(), "",
                // an in-process server on loopback whose clients send no token: not the environment's PROXSTREAM_TOKEN
                16L << 20, 2000, 100), java.util.Map.of())) {
            TaskProgress progress = TaskProgress.start("bench ingest", 4, "cases");
            for (String algo : new String[] {"discard", "pam"}) {
                for (String transport : new String[] {"http", "tcp"}) {
                    String name = algo + "-" + transport;
                    s.create(new RunConfig(name, D, new SaeConfig(3072, "topk", 32, 0, "unit"), trainer(algo), 256, 1L << 40, 1,
                            16384, 1_000_000, 16L << 20, 1, "", RunConfig.DEFAULT_MAX_ABS));
                    RunHandle h = s.runs().get(name);
                    LongSupplier counter = algo.equals("discard") ? () -> h.status().ingestedRows() : () -> h.status().samples();
                    double rate = measure(s, name, transport, counter, seconds);
                    // drain and stop the run, so that its backlog does not train during the next measurement
                    org.apache.pekko.actor.typed.javadsl.AskPattern.<io.proxstream.actors.serve.RunActor.Command,
                                    org.apache.pekko.pattern.StatusReply<io.proxstream.actors.serve.RunStatus>>ask(h.actor(),
                                    io.proxstream.actors.serve.RunActor.Stop::new, java.time.Duration.ofMinutes(5), s.system().scheduler())
                            .toCompletableFuture().get(5, TimeUnit.MINUTES);
                    rows.add(new String[] {algo.equals("discard") ? "discarding run" : "PAM-SGD training", transport,
                        String.format(Locale.ROOT, "%,.0f", rate), String.format(Locale.ROOT, "%.1f", rate * D * 4 / 1e6)});
                    out.printf(Locale.ROOT, "  %-17s over %-4s: %,10.0f vectors/s  %7.1f MB/s%n", rows.get(rows.size() - 1)[0],
                            transport, rate, rate * D * 4 / 1e6);
                    progress.step();
                }
            }
            progress.close();
        }
        double inProcess = inProcessRate(seconds);
        out.printf(Locale.ROOT, "  same trainer, in-process stream:  %,10.0f vectors/s%n", inProcess);
        out.println();
        out.println("| run | transport | vectors/s | MB/s |");
        out.println("|---|---|---|---|");
        for (String[] r : rows) {
            out.println("| " + String.join(" | ", r) + " |");
        }
        out.printf(Locale.ROOT, "| PAM-SGD training | in-process stream | %,.0f | %.1f |%n", inProcess, inProcess * D * 4 / 1e6);
        double http = Double.parseDouble(rows.get(2)[2].replace(",", ""));
        double tcp = Double.parseDouble(rows.get(3)[2].replace(",", ""));
        out.printf(Locale.ROOT, "%nserved training / in-process stream: HTTP %.2f, TCP %.2f (target >= 0.8)%n", http / inProcess, tcp / inProcess);
    }

    /** Pushes as fast as possible for {@code seconds} after a warm-up; returns the counter's rate. */
    private double measure(ServeServer s, String run, String transport, LongSupplier counter, double seconds) throws Exception {
        AtomicBoolean go = new AtomicBoolean(true);
        byte[] body = new byte[4 * ROWS * D];
        float[] data = new float[ROWS * D];
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) SaeModel.gaussian(rnd);
        }
        ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(data);
        List<Thread> producers = new ArrayList<>();
        if (transport.equals("http")) {
            HttpClient http = HttpClient.newHttpClient();
            for (int t = 0; t < 2; t++) {
                producers.add(new Thread(() -> {
                    while (go.get()) {
                        try {
                            http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.httpPort() + "/runs/" + run + "/batches"))
                                    .header("Content-Type", "application/octet-stream").header("X-Shape", ROWS + "," + D)
                                    .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.discarding());
                        } catch (Exception e) {
                            return;
                        }
                    }
                }));
            }
        } else {
            ByteBuffer frame = IngestFrame.encode(run, data, ROWS, D);
            producers.add(new Thread(() -> {
                try (Socket sock = new Socket("127.0.0.1", s.tcpPort())) {
                    OutputStream o = sock.getOutputStream();
                    DataInputStream in = new DataInputStream(sock.getInputStream());
                    byte[] len = new byte[4];
                    while (go.get()) {
                        o.write(frame.array(), 0, frame.limit());
                        in.readFully(len);
                        in.readFully(new byte[ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getInt()]);
                    }
                } catch (Exception e) {
                    // ends with the benchmark
                }
            }));
        }
        producers.forEach(Thread::start);
        Thread.sleep((long) (quick ? 1500 : 4000));
        long c0 = counter.getAsLong();
        long t0 = System.nanoTime();
        Thread.sleep((long) (seconds * 1000));
        double rate = (counter.getAsLong() - c0) / ((System.nanoTime() - t0) / 1e9);
        go.set(false);
        for (Thread t : producers) {
            t.join(30_000);
        }
        return rate;
    }

    private double inProcessRate(double seconds) throws Exception {
        SaeSpec spec = new SaeSpec(D, 3072, Sparsifier.TOPK, 32, 0, false);
        float[][] batches = new float[8][ROWS * D];
        SplittableRandom rnd = new SplittableRandom(3);
        for (float[] b : batches) {
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) SaeModel.gaussian(rnd);
            }
        }
        PamSgdTrainer.Options o = new PamSgdTrainer.Options(Adam.Options.withLr(1e-3), 1, 0, 0, 0, 1e-6, 0,
                PamSgdTrainer.BlockOrder.DECODER_FIRST, 32, 0.995, true);
        try (PamSgdTrainer t = new PamSgdTrainer(SaeModel.initialise(spec, SaeModel.Init.UNIT, 42), o)) {
            var done = TrainingStages.graph(Source.repeat(0).zipWithIndex().map(p -> new Chunk(batches[(int) (p.second() % 8)], ROWS, D,
                            p.second() * ROWS, "bench")), t, 256, 0, (quick ? 1.5 : 4) + seconds, 16384, 1_000_000,
                    new StreamMeters(new Meters().registry(), "bench")).runWith(Sink.ignore(), system);
            Thread.sleep((long) (quick ? 1500 : 4000));
            long c0 = t.samplesSeen();
            long t0 = System.nanoTime();
            Thread.sleep((long) (seconds * 1000));
            double rate = (t.samplesSeen() - c0) / ((System.nanoTime() - t0) / 1e9);
            done.toCompletableFuture().get(5, TimeUnit.MINUTES);
            return rate;
        }
    }
}
