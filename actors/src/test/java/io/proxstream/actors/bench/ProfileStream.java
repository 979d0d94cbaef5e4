package io.proxstream.actors.bench;

import io.proxstream.actors.stream.Chunk;
import io.proxstream.actors.stream.TrainingStages;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.StreamMeters;
import io.proxstream.solvers.sae.*;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

public class ProfileStream {
    public static void main(String[] a) throws Exception {
        int d = 784, m = 256, k = 15, B = 128, nb = 32;
        SaeSpec spec = new SaeSpec(d, m, Sparsifier.TOPK, k, 0, false);
        float[][] batches = new float[nb][B * d];
        SplittableRandom rnd = new SplittableRandom(1);
        for (float[] b : batches) for (int i = 0; i < b.length; i++) b[i] = (float) SaeModel.gaussian(rnd);
        PamSgdTrainer.Options opts = new PamSgdTrainer.Options(Adam.Options.withLr(1e-3), 1, 0, 0, 0, 1e-6, 0,
                PamSgdTrainer.BlockOrder.DECODER_FIRST, 32, 0.995, true);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "p");
        int n = Integer.parseInt(a[1]);
        for (int rep = 0; rep < 3; rep++) {
            if (a[0].equals("stream")) {
                PamSgdTrainer t = new PamSgdTrainer(SaeModel.initialise(spec, SaeModel.Init.UNIT, 2), opts);
                Source<Chunk, ?> chunks = Source.range(0, n - 1).map(i -> new Chunk(batches[i % nb], B, d, (long) i * B, "b"));
                long t0 = System.nanoTime();
                TrainingStages.graph(chunks, t, B, 0, 0, 10_000, 1_000_000, new StreamMeters(new Meters().registry(), "b"))
                        .runWith(Sink.ignore(), system).toCompletableFuture().get(10, TimeUnit.MINUTES);
                System.out.printf("stream %.0f vec/s%n", n * (double) B / ((System.nanoTime() - t0) / 1e9));
            } else {
                PamSgdTrainer t = new PamSgdTrainer(SaeModel.initialise(spec, SaeModel.Init.UNIT, 2), opts);
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) t.step(batches[i % nb], B);
                System.out.printf("loop %.0f vec/s%n", n * (double) B / ((System.nanoTime() - t0) / 1e9));
            }
        }
        system.terminate();
        System.exit(0);
    }
}
