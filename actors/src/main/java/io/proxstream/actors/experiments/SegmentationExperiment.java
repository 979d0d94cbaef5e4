package io.proxstream.actors.experiments;

import io.proxstream.actors.segment.Composites;
import io.proxstream.actors.segment.SegmentOutputs;
import io.proxstream.actors.segment.Segmentation;
import io.proxstream.actors.train.DataPaths;
import io.proxstream.monitoring.Meters;
import io.proxstream.monitoring.TaskProgress;
import io.proxstream.monitoring.SegmentMeters;
import io.proxstream.monitoring.report.CsvTable;
import io.proxstream.protocol.format.AtomicFiles;
import io.proxstream.protocol.format.Png;
import io.proxstream.solvers.blas.BlasInfo;
import io.proxstream.solvers.graph.GraphMbo;
import io.proxstream.solvers.graph.JointSegmentation;
import io.proxstream.solvers.graph.Labels;
import io.proxstream.solvers.graph.Nystrom;
import io.proxstream.solvers.graph.PatchFeatures;
import io.proxstream.solvers.graph.Subspaces;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Source;

/**
 * {@code proxstream experiment segmentation}: joint reconstruction-segmentation against the
 * sequential baseline and the clean-/raw-image bounds (spec/graph.md), on a texture composite with
 * exact truth and a natural colour image, under heavy noise and under blur, over Nyström seeds.
 */
public final class SegmentationExperiment implements Experiment {
    /** Reported methods: the bounds, the sequential baseline (TV weight chosen by accuracy, and by PSNR), the joint scheme and its β = 0 control. */
    private static final List<String> METHODS = List.of("clean", "mbo", "sequential", "sequential-psnr", "joint", "joint-b0");

    private record Case(String name, float[] clean, int channels, int h, int w, int[] fidelity, int classes, int[] truth, String truthNote) {
        boolean texture() {
            return name.startsWith("brick");
        }

        boolean exact() {
            return truthNote.startsWith("exact");
        }
    }

    /**
     * The parameters chosen on a validation draw: α by the sequential method's segmentation accuracy and, separately,
     * by its reconstruction PSNR; β of the joint scheme by its accuracy with the accuracy-chosen α.
     */
    private record Choice(double alphaAccuracy, double alphaPsnr, double beta, String alphaTrials, String betaTrials) {
    }

    /** The solver options of a reported method. */
    private static JointSegmentation.Options optionsFor(String method, Choice ch, int outer, int samples, long seed, boolean texture) {
        return switch (method) {
            case "sequential-psnr" -> options(ch.alphaPsnr(), ch.beta(), outer, samples, seed, texture);
            case "joint-b0" -> options(ch.alphaAccuracy(), 0, outer, samples, seed, texture);
            default -> options(ch.alphaAccuracy(), ch.beta(), outer, samples, seed, texture);
        };
    }

    /** The segmentation routine a reported method runs. */
    private static String routine(String method) {
        return switch (method) {
            case "sequential-psnr" -> "sequential";
            case "joint-b0" -> "joint";
            default -> method;
        };
    }

    private static Choice choose(Case c, Segmentation.Distortion d, double[] alphaFactors, double[] betas, int outer, int samples) {
        float[] observed = d.apply(c.clean(), c.channels(), c.h(), c.w(), 99);
        double base = d.kind().equals("noise") ? 0.08 : 0.005;
        double alphaAcc = Double.NaN;
        double alphaPsnr = Double.NaN;
        double bestAcc = -1;
        double bestPsnr = Double.NEGATIVE_INFINITY;
        StringBuilder trials = new StringBuilder();
        for (double factor : alphaFactors) {
            double a = factor * base;
            Segmentation.Result r = Segmentation.run(new Segmentation.Task("validation", c.clean(), observed, c.channels(), c.h(), c.w(), d,
                    c.fidelity(), c.classes(), c.truth(), "sequential", options(a, 0.5, outer, samples, 99, c.texture())));
            trials.append(String.format(Locale.ROOT, "%s%.3g: %.3f / %.1f", trials.length() == 0 ? "" : ", ", a, r.accuracy(), r.psnr()));
            if (r.accuracy() > bestAcc) {
                bestAcc = r.accuracy();
                alphaAcc = a;
            }
            if (r.psnr() > bestPsnr) {
                bestPsnr = r.psnr();
                alphaPsnr = a;
            }
        }
        double bestBeta = betas[0];
        bestAcc = -1;
        StringBuilder betaTrials = new StringBuilder();
        for (double b : betas) {
            double acc = Segmentation.run(new Segmentation.Task("validation", c.clean(), observed, c.channels(), c.h(), c.w(), d,
                    c.fidelity(), c.classes(), c.truth(), "joint", options(alphaAcc, b, outer, samples, 99, c.texture()))).accuracy();
            betaTrials.append(String.format(Locale.ROOT, "%s%.3g: %.3f", betaTrials.length() == 0 ? "" : ", ", b, acc));
            if (acc > bestAcc) {
                bestAcc = acc;
                bestBeta = b;
            }
        }
        return new Choice(alphaAcc, alphaPsnr, bestBeta, trials.toString(), betaTrials.toString());
    }

    @Override
    public void run(boolean quick, Path out, PrintStream log, ActorSystem<?> system) throws Exception {
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        Path skimage = DataPaths.dataDir().resolve("skimage");
        int seeds = quick ? 1 : 10;
        int sweepSeeds = quick ? 1 : 5;
        int outer = quick ? 2 : 5;
        int samples = quick ? 150 : 300;
        double[] alphaFactors = quick ? new double[] {1, 10} : new double[] {0.1, 0.3, 1, 3, 10, 30};
        double[] betas = quick ? new double[] {0.5} : new double[] {0.05, 0.5, 2};
        List<Case> cases = new ArrayList<>();
        int step = quick ? 4 : 2;
        Composites.Composite comp = Composites.horse(skimage, "brick", "grass", step);
        Case brick = new Case("brick-in-grass", comp.image(), 1, comp.h(), comp.w(),
                Labels.fromRects(Composites.squaresFromTruth(comp.truth(), comp.h(), comp.w(), 2, 4, quick ? 4 : 6, 1), comp.h(), comp.w()),
                2, comp.truth(), "exact (the horse silhouette)");
        cases.add(brick);
        JointSegmentation.Options ref = options(0.08, 0.5, outer, quick ? 200 : 500, 999, false);
        // rectangles in the original pictures (x0, y0, x1, y1): coffee 600x400 — table, saucer, coffee;
        // astronaut 512x512 — orange suit, grey backdrop, black helmet
        Case coffee = photo(skimage, "coffee", quick ? 6 : 3, new int[][] {{0, 480, 20, 560, 80}, {0, 20, 300, 70, 380},
            {1, 100, 250, 150, 290}, {1, 400, 300, 440, 330}, {2, 240, 120, 330, 170}}, ref);
        cases.add(coffee);
        cases.add(photo(skimage, "astronaut", quick ? 8 : 3, new int[][] {{0, 60, 330, 110, 410}, {0, 310, 300, 345, 330},
            {1, 310, 20, 360, 90}, {1, 470, 180, 505, 250}, {2, 400, 420, 450, 470}}, ref));

        List<Segmentation.Distortion> distortions = List.of(Segmentation.Distortion.parse("noise:0.3"),
                Segmentation.Distortion.parse("blur:2:0.02"));
        // parameters chosen on a validation draw (noise seed 99, Nyström seed 99), disjoint from the reported seeds
        Map<String, Choice> chosen = new LinkedHashMap<>();
        StringBuilder validation = new StringBuilder();
        TaskProgress choosing = TaskProgress.start("segmentation: choosing alpha and beta", (long) cases.size() * distortions.size(),
                "settings");
        for (Case c : cases) {
            for (Segmentation.Distortion d : distortions) {
                Choice ch = choose(c, d, alphaFactors, betas, outer, samples);
                chosen.put(c.name() + "|" + d, ch);
                choosing.step();
                validation.append(String.format(Locale.ROOT, "| %s | %s | %.4g | %.4g | %.3g | %s | %s |%n", c.name(), d, ch.alphaAccuracy(),
                        ch.alphaPsnr(), ch.beta(), ch.alphaTrials(), ch.betaTrials()));
            }
        }
        choosing.close();
        log.print(validation);
        List<Segmentation.Task> tasks = new ArrayList<>();
        for (Case c : cases) {
            for (Segmentation.Distortion d : distortions) {
                for (int s = 0; s < seeds; s++) {
                    float[] observed = d.apply(c.clean(), c.channels(), c.h(), c.w(), 100 + s);
                    Choice ch = chosen.get(c.name() + "|" + d);
                    for (String m : METHODS) {
                        tasks.add(new Segmentation.Task(c.name() + "|" + d + "|" + s + "|" + m, c.clean(), observed, c.channels(), c.h(),
                                c.w(), d, c.fidelity(), c.classes(), c.truth(), routine(m), optionsFor(m, ch, outer, samples, s + 1,
                                        c.texture())));
                    }
                }
            }
        }
        log.printf(Locale.ROOT, "segmentation: %d cases x %d distortions x %d seeds x %d methods = %d runs%n", cases.size(),
                distortions.size(), seeds, METHODS.size(), tasks.size());
        List<Segmentation.Result> results = runAll(system, tasks, "segmentation");

        Map<String, List<Segmentation.Result>> groups = new LinkedHashMap<>();
        for (Case c : cases) {
            for (Segmentation.Distortion d : distortions) {
                for (String m : METHODS) {
                    groups.put(c.name() + "|" + d + "|" + m, new ArrayList<>());
                }
            }
        }
        try (CsvTable csv = new CsvTable(out.resolve("runs.csv"), List.of("image", "distortion", "seed", "method", "alpha", "beta",
                "accuracy", "psnr", "ssim", "seconds", "rounds", "mbo_iterations"))) {
            for (Segmentation.Result r : results) {
                String[] id = r.task().name().split("\\|");
                groups.get(id[0] + "|" + id[1] + "|" + id[3]).add(r);
                csv.row(id[0], id[1], id[2], id[3], r.task().options().alpha(), r.task().options().beta(), r.accuracy(), r.psnr(),
                        r.ssim(), r.outcome().seconds(), r.outcome().changes().size(), r.outcome().mboIterations());
            }
        }
        StringBuilder table = new StringBuilder("| image | distortion | method | α | β | accuracy ¹ | PSNR (dB) | SSIM | seconds |\n"
                + "|---|---|---|---|---|---|---|---|---|\n");
        for (Map.Entry<String, List<Segmentation.Result>> e : groups.entrySet()) {
            String[] id = e.getKey().split("\\|");
            List<Segmentation.Result> rs = e.getValue();
            boolean recon = !id[2].equals("clean") && !id[2].equals("mbo");
            JointSegmentation.Options o = rs.get(0).task().options();
            table.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %.1f |%n", id[0], id[1], label(id[2]),
                    recon ? String.format(Locale.ROOT, "%.3g", o.alpha()) : "—",
                    routine(id[2]).equals("joint") ? String.format(Locale.ROOT, "%.3g", o.beta()) : "—",
                    meanStd(rs.stream().mapToDouble(Segmentation.Result::accuracy).toArray(), 4),
                    recon ? meanStd(rs.stream().mapToDouble(Segmentation.Result::psnr).toArray(), 2) : "—",
                    recon ? meanStd(rs.stream().mapToDouble(Segmentation.Result::ssim).toArray(), 3) : "—",
                    rs.stream().mapToDouble(r -> r.outcome().seconds()).average().orElse(Double.NaN)));
        }
        log.print(table);
        StringBuilder paired = new StringBuilder("| image | distortion | comparison | accuracy difference ¹ | PSNR difference (dB) |\n"
                + "|---|---|---|---|---|\n");
        for (Case c : cases) {
            for (Segmentation.Distortion d : distortions) {
                String key = c.name() + "|" + d + "|";
                for (String[] pair : new String[][] {{"joint", "sequential"}, {"joint-b0", "sequential"}, {"joint", "joint-b0"},
                    {"sequential-psnr", "sequential"}}) {
                    paired.append(pairedRow(c.name(), d.toString(), pair[0], pair[1], groups.get(key + pair[0]), groups.get(key + pair[1])));
                }
            }
        }
        log.print(paired);
        String sweep = sweep(system, brick, quick, alphaFactors, chosen, outer, samples, sweepSeeds, log);
        // pictures of seed 0, overlays on the clean image
        StringBuilder pics = new StringBuilder();
        for (Case c : cases) {
            for (Segmentation.Distortion d : distortions) {
                String tag = c.name() + "-" + d.kind();
                pics.append("**").append(c.name()).append(", ").append(d).append("** — observed; sequential and joint reconstructions; ")
                        .append("segmentations (clean bound, MBO on the observation, sequential, joint) on the clean image:\n\n");
                float[][] montage = new float[7][];
                for (Segmentation.Result r : results) {
                    String[] id = r.task().name().split("\\|");
                    if (!id[0].equals(c.name()) || !id[1].equals(d.toString()) || !id[2].equals("0")) {
                        continue;
                    }
                    String m = id[3];
                    int slot = List.of("clean", "mbo", "sequential", "joint").indexOf(m);
                    if (slot < 0) {
                        continue;
                    }
                    montage[3 + slot] = SegmentOutputs.overlay(c.clean(), c.channels(), c.h(), c.w(), r.outcome().labels());
                    if (m.equals("clean")) {
                        montage[0] = SegmentOutputs.rgb(r.task().observed(), c.channels(), c.h(), c.w());
                    } else if (m.equals("sequential") || m.equals("joint")) {
                        montage[m.equals("sequential") ? 1 : 2] = SegmentOutputs.rgb(r.outcome().image(), c.channels(), c.h(), c.w());
                    }
                    if (m.equals("clean")) {
                        SegmentOutputs.writeImage(out.resolve(tag + "-observed.png"), r.task().observed(), c.channels(), c.h(), c.w());
                    }
                    if (m.equals("joint") || m.equals("sequential")) {
                        SegmentOutputs.writeImage(out.resolve(tag + "-" + m + "-reconstruction.png"), r.outcome().image(), c.channels(),
                                c.h(), c.w());
                    }
                    SegmentOutputs.writeOverlay(out.resolve(tag + "-" + m + "-segmentation.png"), c.clean(), c.channels(), c.h(), c.w(),
                            r.outcome().labels());
                    if (m.equals("joint")) {
                        pics.append("Joint energy J (without the graph term) after each round: ");
                        List<String> es = new ArrayList<>();
                        for (JointSegmentation.Energy en : r.outcome().energies()) {
                            es.add(String.format(Locale.ROOT, "%.5g", en.total()));
                        }
                        pics.append(String.join(" → ", es)).append("; labels changed per round: ").append(r.outcome().changes())
                                .append(".\n\n");
                    }
                }
                if (java.util.Arrays.stream(montage).allMatch(java.util.Objects::nonNull)) {
                    // row 1: observed, sequential and joint reconstructions, blank; row 2: the four segmentations
                    float[] blank = new float[3 * c.h() * c.w()];
                    java.util.Arrays.fill(blank, 1f);
                    SegmentOutputs.writeMontage(out.resolve(tag + "-montage.png"), List.of(montage[0], montage[1], montage[2], blank,
                            montage[3], montage[4], montage[5], montage[6]), c.h(), c.w(), 4);
                }
                pics.append(String.format("![observed](%1$s-observed.png) ![sequential](%1$s-sequential-reconstruction.png) "
                        + "![joint](%1$s-joint-reconstruction.png)%n%n", tag));
                pics.append(String.format("![clean](%1$s-clean-segmentation.png) ![mbo](%1$s-mbo-segmentation.png) "
                        + "![sequential](%1$s-sequential-segmentation.png) ![joint](%1$s-joint-segmentation.png)%n%n", tag));
            }
        }
        String eigenTable = eigenAccuracy(coffee.clean(), coffee.h(), coffee.w(), quick ? 32 : 48, log);
        double minutes = (System.nanoTime() - t0) / 60e9;
        StringBuilder r = new StringBuilder("# segmentation: joint reconstruction-segmentation on graphs\n\n");
        r.append("Made by `proxstream experiment segmentation").append(quick ? " --quick" : "").append("` on ")
                .append(Instant.now().truncatedTo(ChronoUnit.SECONDS)).append(String.format(Locale.ROOT, " in %.1f minutes (%d cores; %s).%n%n",
                        minutes, Runtime.getRuntime().availableProcessors(), BlasInfo.current().describe()));
        for (Case c : cases) {
            r.append(String.format(Locale.ROOT, "- **%s**: %dx%d, %d channel(s), %d classes, %d labelled pixels; truth: %s.%n", c.name(), c.w(),
                    c.h(), c.channels(), c.classes(), java.util.Arrays.stream(c.fidelity()).filter(v -> v >= 0).count(), c.truthNote()));
        }
        JointSegmentation.Options shown = options(0.08, 0.5, outer, samples, 1, true);
        r.append(String.format(Locale.ROOT, "%nSettings: Nyström-QR with m = %d samples, K = %d eigenpairs, σ = ½ RMS feature distance; "
                        + "7×7 patches (mask σ = 2 px), on the composite with local-deviation channels (radius 3, weight 2); MBO τ = %.2f, "
                        + "%d sub-steps, μ = %.0f; region forcing γ = %.2f, %d PDHG iterations per reconstruction, up to %d joint rounds "
                        + "after the sequential start. Mean ± std over %d seeds (each seed draws the noise and the Nyström samples).%n%n",
                shown.nystrom().samples(), shown.nystrom().k(), shown.mbo().tau(), shown.mbo().substeps(), shown.mbo().mu(),
                shown.gamma(), shown.pdhgIterations(), outer, seeds));
        r.append("Methods: *clean* = MBO on the graph of the clean image (upper bound), *mbo* = MBO on the graph of the observation ")
                .append("(lower bound), *sequential* = TV reconstruction, then MBO on its graph, *joint* = the alternating scheme, started ")
                .append("from the sequential result.\n\n");
        r.append("Controls: *sequential-psnr* = the sequential method with the TV weight chosen by reconstruction PSNR instead of ")
                .append("segmentation accuracy; *joint-b0* = the joint scheme with β = 0: the graph is rebuilt from the reconstruction each ")
                .append("round and MBO is region-forced as in the joint scheme, but the reconstruction is not pulled to the class means, so ")
                .append("joint − joint-b0 is what the coupling itself does.\n\n");
        r.append("TV weight α and coupling β, chosen on a validation draw (noise and Nyström seed 99, not among the reported ")
                .append("seeds): α from ").append(java.util.Arrays.toString(alphaFactors)).append(" × (0.08 under noise, 0.005 under blur), ")
                .append("once by the sequential method's accuracy and once by its reconstruction PSNR; then β from ")
                .append(java.util.Arrays.toString(betas)).append(" by the joint scheme's accuracy with the accuracy-chosen α. Trials: ")
                .append("α: accuracy / PSNR dB; β: accuracy.\n\n")
                .append("| image | distortion | α by accuracy | α by PSNR | β | α trials | β trials |\n|---|---|---|---|---|---|---|\n")
                .append(validation).append('\n');
        r.append(table).append('\n');
        r.append("¹ On the brick composite, accuracy against the exact truth; on the photos, agreement with the clean-image ")
                .append("segmentation (MBO of the clean photo with m = ").append(ref.nystrom().samples())
                .append("), not accuracy: the photos have no truth.\n\n");
        r.append("Paired differences over the seeds (the same noise and Nyström draw for both methods; mean [95 % t-interval], ")
                .append("resolved when the interval excludes 0):\n\n").append(paired).append('\n');
        r.append(sweep).append('\n');
        r.append(pics);
        r.append("## Nyström eigenpairs against a dense eigensolver\n\n").append(eigenTable);
        AtomicFiles.writeString(out.resolve("report.md"), r.toString());
    }

    /** A colour photo at 1/scale with labelled rectangles; its "truth" is an MBO segmentation of the clean photo. */
    private static Case photo(Path skimage, String name, int scale, int[][] rects, JointSegmentation.Options ref) throws java.io.IOException {
        Png.Image img = Png.readRgb(Composites.require(skimage, name + ".png")).subsample(scale);
        int h = img.h();
        int w = img.w();
        float[] planes = img.data();
        List<Labels.Rect> rs = new ArrayList<>();
        int classes = 0;
        for (int[] r : rects) {
            rs.add(new Labels.Rect(r[0], r[1] / scale, r[2] / scale, r[3] / scale, r[4] / scale));
            classes = Math.max(classes, r[0] + 1);
        }
        int[] fid = Labels.fromRects(rs, h, w);
        int[] reference = JointSegmentation.mboOnly(planes, 3, h, w, fid, classes, ref).labels();
        return new Case(name, planes, 3, h, w, fid, classes, reference, "the clean photo's MBO segmentation with m = "
                + ref.nystrom().samples() + " (seed 999); agreement, not accuracy");
    }

    /**
     * The K = 10 smallest eigenpairs of the graph of a {@code side × side} crop of the colour image
     * (7×7 patches) by LAPACK on the dense Laplacian, against Nyström with QR and with the one-shot
     * orthogonalisation for several m, same samples: worst eigenvalue error, sin² of the largest
     * principal angle between the 5-dimensional leading eigenspaces, and orthonormality error.
     */
    private static String eigenAccuracy(float[] img, int h, int w, int side, PrintStream log) {
        int n = side * side;
        float[] crop = new float[3 * n];
        int y0 = (h - side) / 2;
        int x0 = (w - side) / 2;
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < side; y++) {
                for (int x = 0; x < side; x++) {
                    crop[c * n + y * side + x] = img[c * h * w + (y0 + y) * w + x0 + x];
                }
            }
        }
        float[] z = PatchFeatures.of(crop, 3, side, side, 3, 2.0);
        int f = PatchFeatures.width(3, 3);
        double sigma = Nystrom.eigen(z, n, f, new Nystrom.Options(Math.min(n, 200), 2, Double.NaN, 1, Nystrom.Method.QR, 1e-7)).sigma();
        int k = 10;
        Nystrom.Eigen dense = Nystrom.dense(z, n, f, sigma, k);
        StringBuilder t = new StringBuilder(String.format(Locale.ROOT, "A %dx%d crop of the photo (%d nodes), σ = %.3f, K = %d; dense "
                + "eigenvalues %s.%n%n| m | method | max eigenvalue error (K = 10) | sin² largest angle, 5 leading vectors | orthonormality error |%n"
                + "|---|---|---|---|---|%n", side, side, n, sigma, k, java.util.Arrays.toString(java.util.Arrays.stream(dense.values())
                .map(v -> Math.round(v * 1e4) / 1e4).toArray())));
        for (int m : new int[] {n / 16, n / 8, n / 4, n / 2}) {
            for (Nystrom.Method method : Nystrom.Method.values()) {
                Nystrom.Eigen e = Nystrom.eigen(z, n, f, new Nystrom.Options(m, k, sigma, 7, method, 1e-7));
                double err = 0;
                for (int j = 0; j < k; j++) {
                    err = Math.max(err, Math.abs(e.value(j) - dense.value(j)));
                }
                t.append(String.format(Locale.ROOT, "| %d | %s | %.2e | %.2e | %.2e |%n", m, method == Nystrom.Method.QR ? "QR" : "one-shot",
                        err, Subspaces.sinSquaredLargestAngle(e.vectors(), dense.vectors(), n, 5),
                        Subspaces.orthonormalityError(e.vectors(), n, k)));
            }
        }
        log.print(t);
        return t.toString();
    }

    static JointSegmentation.Options options(double alpha, double beta, int outer, int samples, long seed, boolean texture) {
        return new JointSegmentation.Options(alpha, beta, 0.5, outer, 1e-3, 200, 3, 2.0, texture ? 3 : 0, texture ? 2 : 0,
                new Nystrom.Options(samples, Math.min(50, samples), Double.NaN, seed, Nystrom.Method.QR, 1e-7),
                GraphMbo.Options.defaults(), JointSegmentation.Segmenter.MBO);
    }

    /** Runs the tasks through the segmentation stream; a failed run fails the experiment (its numbers would be missing). */
    private static List<Segmentation.Result> runAll(ActorSystem<?> system, List<Segmentation.Task> tasks, String name) throws Exception {
        List<String> errors = new ArrayList<>();
        List<Segmentation.Result> results;
        try (TaskProgress progress = TaskProgress.start(name, tasks.size(), "runs")) {
            results = Segmentation.stream(system, Source.from(tasks), 1, new SegmentMeters(new Meters().registry()), errors, progress::step)
                    .toCompletableFuture().get();
        }
        if (!errors.isEmpty()) {
            throw new IllegalStateException(name + " runs failed: " + errors);
        }
        return results;
    }

    /** The seed of a result (the third part of its task name). */
    private static int seed(Segmentation.Result r) {
        return Integer.parseInt(r.task().name().split("\\|")[2]);
    }

    /** Accuracy and PSNR differences a − b paired by seed. */
    static PairedDifference[] paired(List<Segmentation.Result> a, List<Segmentation.Result> b) {
        List<Segmentation.Result> sa = new ArrayList<>(a);
        List<Segmentation.Result> sb = new ArrayList<>(b);
        sa.sort(java.util.Comparator.comparingInt(SegmentationExperiment::seed));
        sb.sort(java.util.Comparator.comparingInt(SegmentationExperiment::seed));
        for (int i = 0; i < Math.min(sa.size(), sb.size()); i++) {
            if (seed(sa.get(i)) != seed(sb.get(i))) {
                throw new IllegalStateException("unpaired seeds: " + seed(sa.get(i)) + " and " + seed(sb.get(i)));
            }
        }
        return new PairedDifference[] {
            PairedDifference.of(sa.stream().mapToDouble(Segmentation.Result::accuracy).toArray(),
                    sb.stream().mapToDouble(Segmentation.Result::accuracy).toArray()),
            PairedDifference.of(sa.stream().mapToDouble(Segmentation.Result::psnr).toArray(),
                    sb.stream().mapToDouble(Segmentation.Result::psnr).toArray())};
    }

    private static String pairedRow(String image, String distortion, String a, String b, List<Segmentation.Result> ra,
                                    List<Segmentation.Result> rb) {
        PairedDifference[] d = paired(ra, rb);
        return String.format(Locale.ROOT, "| %s | %s | %s − %s | %s%s | %s |%n", image, distortion, a, b, d[0].format(3),
                d[0].resolved() ? " *" : "", d[1].format(3));
    }

    /**
     * Sweeps over the noise level and the blur width on the composite with exact truth: α chosen by accuracy on a
     * validation draw at each level, β the one chosen at the main level of that distortion; sequential, joint and its
     * β = 0 control against MBO on the observation over {@code seeds} seeds.
     */
    private static String sweep(ActorSystem<?> system, Case c, boolean quick, double[] alphaFactors, Map<String, Choice> chosen, int outer,
                                int samples, int seeds, PrintStream log) throws Exception {
        List<Segmentation.Distortion> levels = new ArrayList<>();
        for (String spec : quick ? new String[] {"noise:0.2"} : new String[] {"noise:0.1", "noise:0.2", "noise:0.5", "blur:1:0.02",
            "blur:3:0.02"}) {
            levels.add(Segmentation.Distortion.parse(spec));
        }
        List<String> methods = List.of("mbo", "sequential", "joint", "joint-b0");
        List<Segmentation.Task> tasks = new ArrayList<>();
        Map<String, Choice> choices = new LinkedHashMap<>();
        for (Segmentation.Distortion d : levels) {
            double beta = chosen.get(c.name() + "|" + Segmentation.Distortion.parse(d.kind().equals("noise") ? "noise:0.3" : "blur:2:0.02"))
                    .beta();
            Choice ch = choose(c, d, alphaFactors, new double[] {beta}, outer, samples);
            choices.put(d.toString(), ch);
            for (int s = 0; s < seeds; s++) {
                float[] observed = d.apply(c.clean(), c.channels(), c.h(), c.w(), 100 + s);
                for (String m : methods) {
                    tasks.add(new Segmentation.Task(c.name() + "|" + d + "|" + s + "|" + m, c.clean(), observed, c.channels(), c.h(), c.w(),
                            d, c.fidelity(), c.classes(), c.truth(), routine(m), optionsFor(m, ch, outer, samples, s + 1, c.texture())));
                }
            }
        }
        List<Segmentation.Result> results = runAll(system, tasks, "segmentation sweep");
        StringBuilder t = new StringBuilder("Sweeps on ").append(c.name()).append(" (exact truth), ").append(seeds)
                .append(" seeds per level; α chosen by accuracy at each level, β as chosen at σ = 0.3 / blur 2 px. Accuracy mean ± std; ")
                .append("the last columns paired over seeds (* resolved):\n\n| distortion | α | β | MBO on observation | sequential | joint | ")
                .append("joint-b0 | joint − sequential | joint − joint-b0 | PSNR sequential / joint (dB) |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for (Segmentation.Distortion d : levels) {
            Map<String, List<Segmentation.Result>> by = new LinkedHashMap<>();
            for (Segmentation.Result r : results) {
                String[] id = r.task().name().split("\\|");
                if (id[1].equals(d.toString())) {
                    by.computeIfAbsent(id[3], k -> new ArrayList<>()).add(r);
                }
            }
            Choice ch = choices.get(d.toString());
            PairedDifference[] js = paired(by.get("joint"), by.get("sequential"));
            PairedDifference[] jb = paired(by.get("joint"), by.get("joint-b0"));
            t.append(String.format(Locale.ROOT, "| %s | %.3g | %.3g | %s | %s | %s | %s | %s%s | %s%s | %.1f / %.1f |%n", d, ch.alphaAccuracy(),
                    ch.beta(), meanStd(accuracies(by.get("mbo")), 3), meanStd(accuracies(by.get("sequential")), 3),
                    meanStd(accuracies(by.get("joint")), 3), meanStd(accuracies(by.get("joint-b0")), 3), js[0].format(2),
                    js[0].resolved() ? " *" : "", jb[0].format(2), jb[0].resolved() ? " *" : "",
                    by.get("sequential").stream().mapToDouble(Segmentation.Result::psnr).average().orElse(Double.NaN),
                    by.get("joint").stream().mapToDouble(Segmentation.Result::psnr).average().orElse(Double.NaN)));
        }
        log.print(t);
        return t.toString();
    }

    private static double[] accuracies(List<Segmentation.Result> rs) {
        return rs.stream().mapToDouble(Segmentation.Result::accuracy).toArray();
    }

    private static String label(String method) {
        return switch (method) {
            case "clean" -> "MBO on the clean image (bound)";
            case "mbo" -> "MBO on the observation (bound)";
            default -> method;
        };
    }

    private static String meanStd(double[] v, int digits) {
        double mean = 0;
        for (double x : v) {
            mean += x;
        }
        mean /= v.length;
        double var = 0;
        for (double x : v) {
            var += (x - mean) * (x - mean);
        }
        double sd = v.length > 1 ? Math.sqrt(var / (v.length - 1)) : 0;
        String f = "%." + digits + "f";
        return String.format(Locale.ROOT, f + " ± " + f, mean, sd);
    }
}
