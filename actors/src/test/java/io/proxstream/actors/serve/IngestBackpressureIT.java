package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.config.HealthConfig;
import io.proxstream.protocol.config.RunConfig;
import io.proxstream.protocol.config.SaeConfig;
import io.proxstream.protocol.config.ServeConfig;
import io.proxstream.protocol.ingest.IngestFrame;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Producers much faster than training (four HTTP threads and a TCP connection pushing 2 MiB
 * batches as fast as they can, into a run that trains some ten thousand vectors per second): the
 * server's heap stays bounded (the run's 8 MiB queue plus the bodies in flight), HTTP producers are
 * told to retry (503) while TCP ones are slowed by flow control, and every accepted row is trained
 * (nothing is dropped silently).
 */
class IngestBackpressureIT {
    @TempDir
    Path tmp;

    /**
     * The heap that a full collection left live: the pools' usage as the collector recorded it when it finished. The
     * heap's current usage, read after {@code System.gc()} returns, also counts what the producers allocated since
     * (a 2 MiB body is a humongous object taking three 1 MiB regions), which put 25-30 MiB of noise on a bound of 32.
     */
    private static long liveHeapAfterGc() {
        System.gc();
        long live = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getCollectionUsage() != null) {
                live += p.getCollectionUsage().getUsed();
            }
        }
        return live;
    }

    @Test
    void aFastProducerIsHeldBackAndTheHeapStaysBounded() throws Exception {
        ServeConfig cfg = new ServeConfig("127.0.0.1", 0, 0, tmp.resolve("runs").toString(), "", 4 << 20, 200, 100);
        int d = 512;
        int rows = 1024;
        try (ServeServer s = ServeServer.start(cfg)) {
            RunConfig def = RunConfig.defaults("fast", d);
            var adam = new io.proxstream.protocol.config.TrainerConfig("adam", 1e-3, 0.9, 0.999, 1e-8, 0, 1, 0, 0, 0, 1e-6, 0,
                    "decoder-first", 16, 0.995, true);
            // latent health as by default (1 row in 256 held out), but evaluated once in the test's time: an evaluation
            // holds ~26 MiB of scratch for its decoder-cosine scan (2048-atom blocks) while it runs, which is the
            // monitor's memory, not ingest's; the heap is measured after it
            HealthConfig health = new HealthConfig(1.0 / 256, 4096, 3600, 0.1, HealthConfig.defaults().cosineFlops());
            s.create(new RunConfig("fast", d, new SaeConfig(4096, "topk", 32, 0, "unit"), adam, 256, 10_000_000, 2, 8192,
                    1_000_000, 8 << 20, 1, "", RunConfig.DEFAULT_MAX_ABS, health));
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicLong accepted = new AtomicLong();
            AtomicLong busy = new AtomicLong();
            byte[] body = new byte[4 * rows * d];
            ByteBuffer bb = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
            SplittableRandom rnd = new SplittableRandom(1);
            for (int i = 0; i < rows * d; i++) {
                bb.putFloat((float) rnd.nextDouble(-1, 1));
            }
            List<Thread> producers = new ArrayList<>();
            // what goes wrong inside a producer thread fails the test (an exception there would only end the thread)
            java.util.Queue<Throwable> errors = new java.util.concurrent.ConcurrentLinkedQueue<>();
            HttpClient http = HttpClient.newHttpClient();
            for (int t = 0; t < 4; t++) {
                producers.add(new Thread(() -> {
                    while (running.get()) {
                        try {
                            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.httpPort()
                                            + "/runs/fast/batches")).header("Content-Type", "application/octet-stream")
                                    .header("X-Shape", rows + "," + d).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (r.statusCode() == 200) {
                                accepted.addAndGet(rows);
                            } else if (r.statusCode() == 503) {
                                busy.incrementAndGet();
                            } else {
                                throw new AssertionError("HTTP push answered " + r.statusCode() + " " + r.body());
                            }
                        } catch (Exception | AssertionError e) {
                            if (running.get()) {
                                errors.add(e);
                                return;
                            }
                        }
                    }
                }));
            }
            float[] frameData = new float[rows * d];
            bb.rewind();
            bb.asFloatBuffer().get(frameData);
            ByteBuffer frame = IngestFrame.encode("fast", frameData, rows, d);
            AtomicLong tcpAccepted = new AtomicLong();
            producers.add(new Thread(() -> {
                try (Socket sock = new Socket("127.0.0.1", s.tcpPort())) {
                    OutputStream o = sock.getOutputStream();
                    DataInputStream in = new DataInputStream(sock.getInputStream());
                    while (running.get()) {
                        o.write(frame.array(), 0, frame.limit());
                        byte[] len = new byte[4];
                        in.readFully(len);
                        byte[] rep = new byte[ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getInt()];
                        in.readFully(rep);
                        IngestFrame.Reply reply = IngestFrame.decodeReply(ByteBuffer.wrap(rep));
                        assertEquals(IngestFrame.ACCEPTED, reply.status(), reply.reason());
                        tcpAccepted.addAndGet(reply.rows());
                    }
                } catch (Exception | AssertionError e) {
                    if (running.get()) {
                        errors.add(e);
                    }
                }
            }));
            producers.forEach(Thread::start);
            // warm-up: connection pools, JIT and the trainer's buffers settle, and the first latent-health evaluation
            // (due once 256 rows are held out) is over; the bound is on growth after that
            long t0 = System.currentTimeMillis();
            while (s.runs().get("fast").status().health() == null) {
                assertTrue(System.currentTimeMillis() - t0 < 120_000, "no latent-health evaluation within two minutes");
                assertTrue(errors.isEmpty(), "a producer failed during warm-up: " + errors.peek());
                Thread.sleep(200);
            }
            long baseline = 0;
            t0 = System.currentTimeMillis();
            while (System.currentTimeMillis() - t0 < 4_000) {
                Thread.sleep(1000);
                baseline = Math.max(baseline, liveHeapAfterGc());
            }
            long maxHeap = 0;
            t0 = System.currentTimeMillis();
            while (System.currentTimeMillis() - t0 < 15_000) {
                Thread.sleep(1000);
                maxHeap = Math.max(maxHeap, liveHeapAfterGc());
            }
            running.set(false);
            for (Thread t : producers) {
                t.join(60_000);
            }
            long total = accepted.get() + tcpAccepted.get();
            RunStatus st = s.runs().get("fast").status();
            System.out.printf("[IngestBackpressureIT] %,d rows accepted (%,d over TCP), %,d HTTP pushes answered 503, "
                            + "%,d trained meanwhile; heap after GC: %.1f MiB after warm-up, max %.1f MiB over the next 15 s (growth %.1f MiB)%n",
                    total, tcpAccepted.get(), busy.get(), st.samples(), baseline / 1048576.0, maxHeap / 1048576.0,
                    (maxHeap - baseline) / 1048576.0);
            for (Thread t : producers) {
                assertTrue(!t.isAlive(), "producer " + t.getName() + " did not finish");
            }
            if (!errors.isEmpty()) {
                AssertionError e = new AssertionError(errors.size() + " producer(s) failed; first: " + errors.peek());
                errors.forEach(e::addSuppressed);
                throw e;
            }
            assertTrue(busy.get() > 0, "HTTP producers were told to retry");
            // the bound the README states. What ingest can hold: the run's 8 MiB budget, which covers the queued floats
            // and the bodies being read, twice (a body being decoded sits beside its floats), 16 MiB; one TCP frame's
            // floats waiting for room, 2 MiB; the chunk being cut into minibatches and the two minibatches at the
            // training boundary, 3 MiB: 21 MiB, and the test allows 24
            assertTrue(maxHeap - baseline < 24L << 20, "heap grew by " + ((maxHeap - baseline) >> 20) + " MiB, beyond 24 MiB");
            assertEquals(total, st.ingestedRows(), "every acknowledged row was queued");
            var stop = s.runs().get("fast");
            org.apache.pekko.actor.typed.javadsl.AskPattern.<RunActor.Command, org.apache.pekko.pattern.StatusReply<RunStatus>>ask(
                    stop.actor(), RunActor.Stop::new, java.time.Duration.ofMinutes(5), s.system().scheduler())
                    .toCompletableFuture().get();
            RunStatus end = s.runs().get("fast").status();
            // the ledger: every accepted row was trained or held out for latent health (one in 256, the default)
            assertEquals(total, end.samples() + end.heldOutRows(), "every accepted row was trained or held out: " + end);
            assertEquals(total / 256, end.heldOutRows(), "one row in 256 held out");
        }
    }
}
