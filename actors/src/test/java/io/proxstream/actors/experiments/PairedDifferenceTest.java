package io.proxstream.actors.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PairedDifferenceTest {

    @Test
    void knownInterval() {
        // differences 1, 2, 3: mean 2, sd 1, se 1/sqrt(3); t(0.975, 2) = 4.302653 (standard tables)
        PairedDifference d = PairedDifference.of(new double[] {2, 4, 6}, new double[] {1, 2, 3});
        assertEquals(3, d.n());
        assertEquals(2.0, d.mean(), 1e-12);
        double half = 4.302653 / Math.sqrt(3);
        assertEquals(2 - half, d.low(), 1e-5);
        assertEquals(2 + half, d.high(), 1e-5);
        assertFalse(d.resolved(), "the interval [-0.48, 4.48] holds zero");
    }

    @Test
    void resolvedWhenIntervalExcludesZero() {
        PairedDifference d = PairedDifference.of(new double[] {0.10, 0.11, 0.12, 0.10}, new double[] {0.20, 0.20, 0.21, 0.19});
        assertTrue(d.high() < 0 && d.resolved(), d.toString());
        assertTrue(d.format(2).startsWith("-0.093 ["), d.format(2));
    }

    @Test
    void onePairHasNoInterval() {
        PairedDifference d = PairedDifference.of(new double[] {1}, new double[] {0.5});
        assertEquals(0.5, d.mean());
        assertTrue(Double.isNaN(d.low()) && !d.resolved());
        assertTrue(d.format(2).contains("no interval"));
    }

    @Test
    void badInputNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PairedDifference.of(new double[] {1, 2}, new double[] {1}))
                .getMessage().contains("equally long"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PairedDifference.of(new double[] {1, Double.NaN},
                new double[] {1, 2})).getMessage().contains("pair 1"));
    }
}
