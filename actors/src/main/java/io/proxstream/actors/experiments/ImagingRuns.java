package io.proxstream.actors.experiments;

import io.proxstream.monitoring.TaskProgress;
import io.proxstream.actors.image.ImagePipeline;
import io.proxstream.actors.image.ImageTask;
import io.proxstream.actors.image.Reconstruction;
import io.proxstream.monitoring.ImageMeters;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.DoubleFunction;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Runs image sets of a setting through the image stream and chooses parameters on validation
 * images. Every parameter choice is made by mean validation PSNR; test images are never looked at
 * before the final run.
 */
public final class ImagingRuns {

    /** One validated parameter value and its mean scores on the validation images. */
    public record Trial(double value, double psnr, double ssim) {
    }

    /** The outcome of a parameter search: the trials in the order run, and the best. */
    public record Selection(String parameter, List<Trial> trials, Trial best, boolean atEdge) {
    }

    /** A validated pair of a parameter value and an iteration budget, with its mean validation scores. */
    public record BudgetTrial(double value, int iterations, double psnr, double ssim) {
    }

    /**
     * The outcome of a joint search over a parameter and an iteration budget: every pair, the best, and whether
     * the best value or the best budget lies on its grid's edge.
     */
    public record BudgetSelection(String parameter, List<BudgetTrial> trials, BudgetTrial best, boolean valueAtEdge,
                                  boolean budgetAtEdge) {
        /** The best budget's validation PSNR for each value, in grid order (value: PSNR at k iterations). */
        public String summary(double unit) {
            StringBuilder b = new StringBuilder();
            double last = Double.NaN;
            for (BudgetTrial t : trials) {
                if (t.value() == last) {
                    continue;
                }
                last = t.value();
                BudgetTrial top = null;
                for (BudgetTrial u : trials) {
                    if (u.value() == t.value() && (top == null || u.psnr() > top.psnr())) {
                        top = u;
                    }
                }
                b.append(String.format(Locale.ROOT, "%s%.3g: %.2f@%d", b.length() == 0 ? "" : ", ", t.value() / unit, top.psnr(),
                        top.iterations()));
            }
            return b.toString();
        }
    }

    private final ActorSystem<?> system;
    private final ImageMeters meters;
    private final int parallelism;
    private final PrintStream log;

    public ImagingRuns(ActorSystem<?> system, ImageMeters meters, int parallelism, PrintStream log) {
        this.system = system;
        this.meters = meters;
        this.parallelism = parallelism;
        this.log = log;
    }

    /** Reconstructs {@code images} of {@code setting} by {@code method}, in stream order. */
    public List<ImagePipeline.Result> run(ImagingSetting setting, List<ImageTask> images, Reconstruction method, boolean keepTrace) {
        return run(setting, images, method, keepTrace, new int[0]);
    }

    /** As above, scoring each image's iterates after each of {@code checkpoints} iterations. */
    public List<ImagePipeline.Result> run(ImagingSetting setting, List<ImageTask> images, Reconstruction method, boolean keepTrace,
                                          int[] checkpoints) {
        return run(setting, images, method, keepTrace, checkpoints, false, r -> { });
    }

    /**
     * As above; with {@code best} each result carries its best iterate against the truth (the oracle protocol), and
     * {@code onResult} sees every result as it comes (from the stream; e.g. to record it before the next image).
     */
    public List<ImagePipeline.Result> run(ImagingSetting setting, List<ImageTask> images, Reconstruction method, boolean keepTrace,
                                          int[] checkpoints, boolean best, Consumer<ImagePipeline.Result> onResult) {
        if (images.isEmpty()) {
            return List.of();
        }
        List<String> rejected = new ArrayList<>();
        try (TaskProgress progress = TaskProgress.start(setting.name() + " " + method.name(), images.size(), "images")) {
            List<ImagePipeline.Result> out = ImagePipeline.graph(Source.from(images), setting.model(), method, parallelism, meters,
                            keepTrace, checkpoints, best, r -> {
                                synchronized (rejected) {
                                    rejected.add(r.id() + ": " + r.reason());
                                }
                            })
                    .map(r -> {
                        onResult.accept(r);
                        progress.step();
                        return r;
                    })
                    .runWith(Sink.seq(), system).toCompletableFuture().get();
            if (!rejected.isEmpty()) {
                throw new IllegalStateException(setting.name() + " / " + method.name() + ": images rejected: " + rejected);
            }
            List<ImagePipeline.Result> sorted = new ArrayList<>(out);
            sorted.sort((a, b) -> Long.compare(a.task().index(), b.task().index()));
            return sorted;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(setting.name() + " / " + method.name() + ": " + e.getCause(), e.getCause());
        }
    }

    /**
     * Chooses a positive parameter on the validation images: the best of {@code grid} (ascending),
     * then, if {@code refine} and the best is inside the grid, the best of it and the two geometric
     * midpoints next to it. Reports whether the grid's best lies on its edge (then the grid should
     * be widened).
     */
    public Selection select(ImagingSetting setting, String parameter, double[] grid, boolean refine, DoubleFunction<Reconstruction> method) {
        List<Trial> trials = new ArrayList<>();
        for (double v : grid) {
            trials.add(trial(setting, parameter, v, method));
        }
        Trial best = best(trials);
        int at = trials.indexOf(best);
        boolean edge = grid.length > 1 && (at == 0 || at == grid.length - 1);
        if (refine && grid.length > 1 && !edge) {
            double lower = Math.sqrt(best.value() * grid[at - 1]);
            double upper = Math.sqrt(best.value() * grid[at + 1]);
            trials.add(trial(setting, parameter, lower, method));
            trials.add(trial(setting, parameter, upper, method));
            best = best(trials);
        }
        return new Selection(parameter, List.copyOf(trials), best, edge);
    }

    /**
     * Chooses a positive parameter and an iteration budget together on the validation images: for each value of
     * {@code grid} (ascending) one solve of {@code budgets}' largest count per image, its iterates scored after each
     * of {@code budgets} iterations (ascending); the pair with the best mean validation PSNR wins. The budget is
     * as much a regularisation parameter as λ when the energy's minimisers are not the best images (early stopping),
     * and choosing it on validation images keeps the test images unseen.
     */
    public BudgetSelection selectWithBudget(ImagingSetting setting, String parameter, double[] grid, int[] budgets,
                                            BiFunction<Double, Integer, Reconstruction> method) {
        return selectWithBudget(setting, parameter, grid, budgets, method, null, "");
    }

    /**
     * As above, reading a grid value's validation scores from {@code ledger} when it holds them under {@code key} (which
     * must name everything the scores depend on besides the value), and recording each value it solves.
     */
    BudgetSelection selectWithBudget(ImagingSetting setting, String parameter, double[] grid, int[] budgets,
                                     BiFunction<Double, Integer, Reconstruction> method, ValidationLedger ledger, String key) {
        if (budgets.length == 0) {
            throw new IllegalArgumentException("no iteration budgets to choose from");
        }
        for (int i = 0; i < budgets.length; i++) {
            if (budgets[i] < 1 || i > 0 && budgets[i] <= budgets[i - 1]) {
                throw new IllegalArgumentException("iteration budgets must be positive and ascending: " + Arrays.toString(budgets));
            }
        }
        int max = budgets[budgets.length - 1];
        List<BudgetTrial> trials = new ArrayList<>();
        for (double v : grid) {
            Reconstruction m = method.apply(v, max);
            double[][] recorded = ledger == null ? null : ledger.get(m.name(), key, v, budgets);
            double[] psnr = new double[budgets.length];
            double[] ssim = new double[budgets.length];
            if (recorded != null) {
                psnr = recorded[0];
                ssim = recorded[1];
            } else {
                List<ImagePipeline.Result> rs = run(setting, setting.validation(), m.named(m.name() + "-validation"), false, budgets);
                for (int b = 0; b < budgets.length; b++) {
                    int at = b;
                    psnr[b] = rs.stream().mapToDouble(r -> r.checkpoints().get(at).psnr()).average().orElseThrow();
                    ssim[b] = rs.stream().mapToDouble(r -> r.checkpoints().get(at).ssim()).average().orElseThrow();
                }
                if (ledger != null) {
                    try {
                        ledger.add(m.name(), key, v, budgets, psnr, ssim);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            }
            for (int b = 0; b < budgets.length; b++) {
                trials.add(new BudgetTrial(v, budgets[b], psnr[b], ssim[b]));
            }
            BudgetTrial top = trials.subList(trials.size() - budgets.length, trials.size()).stream()
                    .max(Comparator.comparingDouble(BudgetTrial::psnr)).orElseThrow();
            log.printf(Locale.ROOT, "  %-10s %s %-8s = %-9.4g validation PSNR %6.2f dB  SSIM %.4f  at %d of %s iterations%s%n",
                    setting.name(), m.name(), parameter, v, top.psnr(), top.ssim(), top.iterations(), Arrays.toString(budgets),
                    recorded != null ? " (recorded by an earlier run)" : "");
        }
        BudgetTrial best = trials.stream().max(Comparator.comparingDouble(BudgetTrial::psnr)).orElseThrow();
        boolean valueEdge = grid.length > 1 && (best.value() == grid[0] || best.value() == grid[grid.length - 1]);
        boolean budgetEdge = budgets.length > 1 && best.iterations() == max;
        return new BudgetSelection(parameter, List.copyOf(trials), best, valueEdge, budgetEdge);
    }

    private Trial trial(ImagingSetting setting, String parameter, double v, DoubleFunction<Reconstruction> method) {
        Reconstruction m = method.apply(v);
        List<ImagePipeline.Result> rs = run(setting, setting.validation(), m.named(m.name() + "-validation"), false);
        Trial t = new Trial(v, rs.stream().mapToDouble(ImagePipeline.Result::psnr).average().orElseThrow(),
                rs.stream().mapToDouble(ImagePipeline.Result::ssim).average().orElseThrow());
        log.printf(Locale.ROOT, "  %-10s %s %-8s = %-9.4g validation PSNR %6.2f dB  SSIM %.4f%n", setting.name(), m.name(), parameter, v,
                t.psnr(), t.ssim());
        return t;
    }

    private static Trial best(List<Trial> trials) {
        Trial best = trials.get(0);
        for (Trial t : trials) {
            if (t.psnr() > best.psnr()) {
                best = t;
            }
        }
        return best;
    }
}
