package io.proxstream.solvers.inverse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PhantomsTest {

    @Test
    void familiesAreDeterministicInTheSeedAndStayInTheUnitRange() {
        for (Phantoms.Family f : Phantoms.Family.values()) {
            float[] a = f.draw(64, 7);
            assertArrayEquals(a, f.draw(64, 7), f.id());
            assertFalse(Arrays.equals(a, f.draw(64, 8)), f.id() + ": another seed gives another phantom");
            for (float v : a) {
                assertTrue(v >= 0 && v <= 1, f.id() + ": value " + v + " outside [0, 1]");
            }
            assertEquals(f, Phantoms.Family.fromId(f.id()));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Phantoms.Family.fromId("mayo"));
        assertTrue(e.getMessage().contains("mayo") && e.getMessage().contains("textured"), e.getMessage());
    }

    /**
     * What makes the textured family different: inside the object almost every pixel differs from its neighbour
     * (ramps and texture), where the ellipses are flat between their edges: the median |difference| inside the object
     * is zero for ellipses and well above float rounding for the textured family.
     */
    @Test
    void texturedPhantomsVaryInsideTheirRegionsWhereEllipsesAreFlat() {
        int n = 128;
        double[] flatE = new double[2];
        double[] flatT = new double[2];
        for (int seed = 1; seed <= 5; seed++) {
            double[] e = interiorVariation(Phantoms.randomEllipses(n, seed), n);
            double[] t = interiorVariation(Phantoms.textured(n, seed), n);
            for (int i = 0; i < 2; i++) {
                flatE[i] += e[i] / 5;
                flatT[i] += t[i] / 5;
            }
        }
        assertTrue(flatE[0] < 0.35, "ellipses: fraction of object pixels with a nonzero difference " + flatE[0]);
        assertTrue(flatT[0] > 0.9, "textured: fraction of object pixels with a nonzero difference " + flatT[0]);
        assertTrue(flatE[1] < 1e-4 && flatT[1] > 3e-3, "median |difference| in the object: textured " + flatT[1] + ", ellipses " + flatE[1]);
    }

    /** Over pixels inside the object (value > 0.05, neighbour too): fraction with |horizontal difference| > 1e-4, median |difference|. */
    private static double[] interiorVariation(float[] img, int n) {
        long count = 0;
        long moving = 0;
        java.util.List<Double> diffs = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j + 1 < n; j++) {
                float a = img[i * n + j];
                float b = img[i * n + j + 1];
                if (a > 0.05 && b > 0.05) {
                    count++;
                    double d = Math.abs(a - b);
                    diffs.add(d);
                    if (d > 1e-4) {
                        moving++;
                    }
                }
            }
        }
        java.util.Collections.sort(diffs);
        return new double[] {(double) moving / count, diffs.get(diffs.size() / 2)};
    }
}
