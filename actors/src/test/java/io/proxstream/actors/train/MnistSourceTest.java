package io.proxstream.actors.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.config.SourceConfig;
import io.proxstream.protocol.format.Mnist;
import org.junit.jupiter.api.Test;

/** Needs the MNIST digits fetched by {@code ./proxstream setup}; fails with that instruction when absent. */
class MnistSourceTest {

    @Test
    void readsTheFetchedDigitsAndHoldsOutAnEvaluationSet() throws Exception {
        Mnist.Images im = Mnist.readJsonDigits(DataPaths.mnistDigits(""));
        assertEquals(10_000, im.rows());
        int[] perClass = new int[10];
        for (int l : im.labels()) {
            perClass[l]++;
        }
        for (int c = 0; c < 10; c++) {
            assertTrue(perClass[c] > 800 && perClass[c] < 1200, "class " + c + ": " + perClass[c]);
        }
        double mean = 0;
        for (float v : im.pixels()) {
            assertTrue(v >= 0f && v <= 1f);
            mean += v;
        }
        mean /= im.pixels().length;
        assertEquals(0.1307, mean, 0.01, "MNIST mean intensity");
        SourceConfig s = new SourceConfig("mnist", "", "", 1, 1, 1, 0.5, 0, 500, 1, 3, 128);
        TrainingRun.ResolvedSource r = TrainingRun.resolve(s, 1000, 1);
        assertEquals(784, r.inputDim());
        assertEquals(1000, r.eval().rows());
    }
}
