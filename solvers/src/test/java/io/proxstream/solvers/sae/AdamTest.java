package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class AdamTest {

    /** Two steps written out by hand from the torch.optim.Adam definition. */
    @Test
    void matchesTheDefinition() {
        Adam.Options o = new Adam.Options(0.1, 0.9, 0.99, 1e-8, 0.01);
        Adam adam = new Adam(o);
        float[] p = {1f, -2f, 0.5f};
        float[] g1 = {0.3f, -0.1f, 0f};
        float[] g2 = {-0.2f, 0.4f, 1f};
        Adam.State s = new Adam.State(3);
        double[] ref = {1, -2, 0.5};
        double[] m = new double[3];
        double[] v = new double[3];
        float[][] gs = {g1, g2};
        for (int t = 1; t <= 2; t++) {
            adam.beginStep();
            adam.update(p, gs[t - 1], null, 3, s, null, 0f, 1f);
            for (int i = 0; i < 3; i++) {
                double g = gs[t - 1][i] + 0.01 * ref[i];
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.99 * v[i] + 0.01 * g * g;
                double mh = m[i] / (1 - Math.pow(0.9, t));
                double vh = v[i] / (1 - Math.pow(0.99, t));
                ref[i] -= 0.1 * mh / (Math.sqrt(vh) + 1e-8);
            }
            for (int i = 0; i < 3; i++) {
                assertEquals(ref[i], p[i], 1e-6, "step " + t + " param " + i);
            }
        }
    }

    @Test
    void rowMaskEqualsADenseZeroGradientAndAnchorAndClipApply() {
        Adam.Options o = Adam.Options.withLr(0.05);
        int rows = 4;
        int len = 3;
        float[] g = {1, 2, 3, 9, 9, 9, -1, 0.5f, 2, 9, 9, 9};
        boolean[] touched = {true, false, true, false};
        float[] dense = g.clone();
        for (int r = 0; r < rows; r++) {
            if (!touched[r]) {
                java.util.Arrays.fill(dense, r * len, (r + 1) * len, 0f);
            }
        }
        float[] anchor = new float[rows * len];
        float[] p1 = new float[rows * len];
        float[] p2 = new float[rows * len];
        for (int i = 0; i < p1.length; i++) {
            p1[i] = p2[i] = 0.1f * i;
            anchor[i] = -0.05f * i;
        }
        Adam a1 = new Adam(o);
        Adam a2 = new Adam(o);
        Adam.State s1 = new Adam.State(p1.length);
        Adam.State s2 = new Adam.State(p2.length);
        for (int t = 0; t < 3; t++) {
            a1.beginStep();
            a1.update(p1, g, touched, len, s1, anchor, 0.2f, 0.5f);
            a2.beginStep();
            a2.update(p2, dense, null, len, s2, anchor, 0.2f, 0.5f);
        }
        assertArrayEquals(p2, p1, 1e-7f);
        double n1 = Adam.gradNormSq(p1, g, touched, len, anchor, 0.2f);
        double n2 = Adam.gradNormSq(p2, dense, null, len, anchor, 0.2f);
        assertEquals(n2, n1, 1e-9);
    }

    @Test
    void rejectsInvalidOptionsAndMissingBeginStep() {
        assertThrows(IllegalArgumentException.class, () -> new Adam.Options(-1, 0.9, 0.999, 1e-8, 0));
        assertThrows(IllegalArgumentException.class, () -> new Adam.Options(0.1, 1.0, 0.999, 1e-8, 0));
        assertThrows(IllegalArgumentException.class, () -> new Adam.Options(0.1, 0.9, 0.999, 0, 0));
        Adam adam = new Adam(Adam.Options.withLr(0.1));
        assertThrows(IllegalStateException.class,
                () -> adam.update(new float[1], new float[1], null, 1, new Adam.State(1), null, 0f, 1f));
    }
}
