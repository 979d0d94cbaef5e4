package io.proxstream.solvers.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.sae.SaeModel;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GraphSegmentationTest {

    /** A grey h × w image: a bright disc on a dark background, plus Gaussian noise; truth in {@code truth}. */
    static float[] disc(int h, int w, double noise, long seed, int[] truth) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] img = new float[h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double dy = y - h * 0.45;
                double dx = x - w * 0.55;
                boolean in = dy * dy + dx * dx < (0.3 * h) * (0.3 * h);
                if (truth != null) {
                    truth[y * w + x] = in ? 1 : 0;
                }
                img[y * w + x] = (float) ((in ? 0.8 : 0.2) + noise * SaeModel.gaussian(r));
            }
        }
        return img;
    }

    @Test
    void nystromWithEveryNodeSampledIsTheDenseEigensolver() {
        int h = 18;
        int w = 20;
        int n = h * w;
        float[] img = disc(h, w, 0.05, 1, null);
        float[] z = PatchFeatures.of(img, 1, h, w, 1, Double.POSITIVE_INFINITY);
        int f = PatchFeatures.width(1, 1);
        Nystrom.Eigen full = Nystrom.eigen(z, n, f, new Nystrom.Options(n, 8, 0.6, 3, Nystrom.Method.QR, 1e-7));
        Nystrom.Eigen dense = Nystrom.dense(z, n, f, 0.6, 8);
        for (int j = 0; j < 8; j++) {
            assertEquals(dense.value(j), full.value(j), 2e-4, "eigenvalue " + j);
        }
        double orth = Subspaces.orthonormalityError(full.vectors(), n, 8);
        assertTrue(orth < 1e-4, "orthonormality " + orth);
        assertEquals(0, full.clampedDegrees());
        // eigenvalues 0 and ~0.01 are well separated from the rest, so their two-dimensional eigenspace is determined
        double angle = Subspaces.sinSquaredLargestAngle(full.vectors(), dense.vectors(), n, 2);
        assertTrue(angle < 1e-6, "angle " + angle);
        assertEquals(0, dense.value(0), 1e-9, "L_s has eigenvalue 0");
    }

    @Test
    void nystromWithFewSamplesApproximatesTheLeadingEigenpairsAndQrIsOrthonormal() {
        int h = 30;
        int w = 30;
        int n = h * w;
        float[] img = disc(h, w, 0.05, 2, null);
        float[] z = PatchFeatures.of(img, 1, h, w, 1, 1.0);
        int f = PatchFeatures.width(1, 1);
        Nystrom.Eigen dense = Nystrom.dense(z, n, f, 0.5, 4);
        Nystrom.Eigen qr = Nystrom.eigen(z, n, f, new Nystrom.Options(150, 4, 0.5, 5, Nystrom.Method.QR, 1e-7));
        Nystrom.Eigen shot = Nystrom.eigen(z, n, f, new Nystrom.Options(150, 4, 0.5, 5, Nystrom.Method.ONE_SHOT, 1e-7));
        // two clusters: eigenvalues 0 and a small second one, then a gap
        assertTrue(dense.value(2) > 5 * dense.value(1), "gap after two eigenvalues: " + java.util.Arrays.toString(dense.values()));
        for (int j = 0; j < 2; j++) {
            assertEquals(dense.value(j), qr.value(j), 0.02, "QR eigenvalue " + j);
            assertEquals(dense.value(j), shot.value(j), 0.02, "one-shot eigenvalue " + j);
        }
        double angle = Subspaces.sinSquaredLargestAngle(qr.vectors(), dense.vectors(), n, 2);
        assertTrue(angle < 0.02, "sin^2 of the largest angle " + angle);
        double orth = Subspaces.orthonormalityError(qr.vectors(), n, 4);
        assertTrue(orth < 1e-4, "QR: " + orth);
    }

    @Test
    void mboOnACleanTwoRegionImageWithAFewLabelsIsNearlyPerfect() {
        int h = 64;
        int w = 64;
        int[] truth = new int[h * w];
        float[] img = disc(h, w, 0.02, 3, truth);
        // 3x3 patches: wider ones blur the one-pixel boundary, which then splits between the classes
        float[] z = PatchFeatures.of(img, 1, h, w, 1, 2.0);
        Nystrom.Eigen eig = Nystrom.eigen(z, h * w, PatchFeatures.width(1, 1), new Nystrom.Options(120, 20, Double.NaN, 7,
                Nystrom.Method.QR, 1e-7));
        int[] fid = Labels.fromRects(Labels.parseRects("0:2,2,8,8;1:34,26,38,30"), h, w);
        GraphMbo.Result r = GraphMbo.run(eig, 2, fid, null, null, GraphMbo.Options.defaults());
        assertTrue(accuracy(r.labels(), truth) > 0.98, "accuracy " + accuracy(r.labels(), truth));
        assertTrue(r.converged());
    }

    @Test
    void sdieWithLambdaOneIsMboAndASmallerLambdaKeepsSoftValues() {
        int h = 40;
        int w = 40;
        int[] truth = new int[h * w];
        float[] img = disc(h, w, 0.2, 4, truth);
        float[] z = PatchFeatures.of(img, 1, h, w, 2, 2.0);
        Nystrom.Eigen eig = Nystrom.eigen(z, h * w, PatchFeatures.width(1, 2), new Nystrom.Options(100, 20, Double.NaN, 9,
                Nystrom.Method.QR, 1e-7));
        int[] fid = Labels.fromRects(Labels.parseRects("0:1,1,5,5;1:20,16,24,20"), h, w);
        GraphMbo.Options o = GraphMbo.Options.defaults().withIterations(40);
        GraphMbo.Result mbo = GraphMbo.run(eig, 2, fid, null, null, o);
        GraphMbo.Result sdie1 = GraphMbo.run(eig, 2, fid, null, null, o.sdie(1));
        assertArrayEquals(mbo.labels(), sdie1.labels());
        assertArrayEquals(mbo.state(), sdie1.state());
        assertEquals(mbo.iterations(), sdie1.iterations());
        GraphMbo.Result soft = GraphMbo.run(eig, 2, fid, null, null, o.sdie(0.5));
        int fractional = 0;
        for (float v : soft.state()) {
            fractional += v > 0 && v < 1 ? 1 : 0;
        }
        assertTrue(fractional > 0, "SDIE with lambda 0.5 keeps some values strictly between 0 and 1");
        assertTrue(accuracy(soft.labels(), truth) > 0.9, "SDIE accuracy " + accuracy(soft.labels(), truth));
    }

    @Test
    void badLabelsFailClearly() {
        IllegalArgumentException outside = assertThrows(IllegalArgumentException.class,
                () -> Labels.fromRects(Labels.parseRects("0:0,0,5,5;1:10,10,40,12"), 20, 30));
        assertTrue(outside.getMessage().contains("outside the 30x20 image"), outside.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> Labels.requireEveryClass(Labels.fromRects(Labels.parseRects("0:0,0,5,5;2:10,10,12,12"), 20, 30), 3));
        assertTrue(missing.getMessage().contains("class 1 has no labelled pixel"), missing.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Labels.parseRects("0:1,2,3")).getMessage()
                .contains("is not CLASS:X0,Y0,X1,Y1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Labels.parseRects("a:1,2,3,4")).getMessage()
                .contains("non-integer"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Labels.parseRects("0:5,5,1,1")).getMessage()
                .contains("X1 < X0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Labels.fromMask(new float[6], 2, 3)).getMessage()
                .contains("non-zero level"));
        assertEquals(List.of(-1, 0, 1, 0, -1, 1), java.util.Arrays.stream(Labels.fromMask(new float[] {0, 0.2f, 0.6f, 0.2f, 0, 0.6f}, 2, 3))
                .boxed().toList());
    }

    private static JointSegmentation.Options jointOptions(JointSegmentation.Segmenter seg) {
        return new JointSegmentation.Options(0.08, 0.5, 0.5, 4, 0, 400, 1, 1.0, 0, 0, new Nystrom.Options(80, 16, Double.NaN, 3,
                Nystrom.Method.QR, 1e-7), GraphMbo.Options.defaults(), seg);
    }

    @Test
    void jointEnergyNeverRisesWhenEveryStepIsAnExactMinimiser() {
        int h = 32;
        int w = 32;
        int[] truth = new int[h * w];
        float[] f = disc(h, w, 0.3, 5, truth);
        int[] fid = Labels.fromRects(Labels.parseRects("0:1,1,5,5;1:16,12,20,16"), h, w);
        JointSegmentation.Outcome r = JointSegmentation.joint(f, 1, h, w, null, fid, 2, jointOptions(JointSegmentation.Segmenter.NEAREST_MEAN));
        List<JointSegmentation.Energy> e = r.energies();
        assertTrue(e.size() >= 2, "at least one round");
        for (int t = 1; t < e.size(); t++) {
            double before = e.get(t - 1).total();
            assertTrue(r.afterReconstruction().get(t - 1).total() <= before * (1 + 1e-5), "round " + t + ": u- and c-steps raised J");
            assertTrue(e.get(t).total() <= r.afterReconstruction().get(t - 1).total() * (1 + 1e-5), "round " + t + ": v-step raised J");
        }
    }

    @Test
    void jointRoundsLowerTheEnergyInTheirExactStepsAndSegmentTheNoisyDisc() {
        int h = 40;
        int w = 40;
        int[] truth = new int[h * w];
        float[] f = disc(h, w, 0.4, 6, truth);
        int[] fid = Labels.fromRects(Labels.parseRects("0:1,1,6,6;1:19,15,25,21"), h, w);
        JointSegmentation.Outcome joint = JointSegmentation.joint(f, 1, h, w, null, fid, 2, jointOptions(JointSegmentation.Segmenter.MBO));
        for (int t = 0; t < joint.afterReconstruction().size(); t++) {
            assertTrue(joint.afterReconstruction().get(t).total() <= joint.energies().get(t).total() * (1 + 1e-5),
                    "round " + (t + 1) + ": the exact u- and c-steps raised J");
        }
        JointSegmentation.Outcome raw = JointSegmentation.mboOnly(f, 1, h, w, fid, 2, jointOptions(JointSegmentation.Segmenter.MBO));
        double accJoint = JointSegmentation.accuracy(joint.labels(), truth);
        double accRaw = JointSegmentation.accuracy(raw.labels(), truth);
        assertTrue(accJoint > 0.95, "joint accuracy " + accJoint + " (raw image " + accRaw + ")");
    }

    @Test
    void localDeviationChannelsAreTheWindowStandardDeviation() {
        // a vertical stripe pattern 0,1,0,1,...: every 3x3 window away from the border holds 3 or 6 ones of 9
        int h = 6;
        int w = 7;
        float[] img = new float[h * w];
        for (int i = 0; i < h * w; i++) {
            img[i] = (i % w) % 2;
        }
        float[] out = PatchFeatures.withLocalDeviation(img, 1, h, w, 1, 2.0);
        assertEquals(2 * h * w, out.length);
        assertArrayEquals(img, java.util.Arrays.copyOf(out, h * w), "the image channel is kept");
        for (int y = 0; y < h; y++) {
            for (int x = 1; x < w - 1; x++) {
                double p = ((x % 2) == 1 ? 1 : 2) / 3.0;     // share of ones among the three columns
                assertEquals(2 * Math.sqrt(p * (1 - p)), out[h * w + y * w + x], 1e-5, "pixel " + y + "," + x);
            }
        }
        float[] flat = PatchFeatures.withLocalDeviation(new float[] {0.3f, 0.3f, 0.3f, 0.3f}, 1, 2, 2, 1, 5.0);
        for (int i = 4; i < 8; i++) {
            assertEquals(0, flat[i], 1e-6);
        }
    }

    static double accuracy(int[] labels, int[] truth) {
        int ok = 0;
        for (int i = 0; i < truth.length; i++) {
            ok += labels[i] == truth[i] ? 1 : 0;
        }
        return ok / (double) truth.length;
    }
}
