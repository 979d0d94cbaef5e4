package io.proxstream.actors.experiments;

import io.proxstream.monitoring.report.CsvTable;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The validation scores of a parameter search ({@link ImagingRuns#selectWithBudget}), written as each grid value
 * finishes, so that a resumed experiment does not solve the validation images again: a value whose (method, key,
 * value, budgets) row is here is read back. The key names everything the scores depend on besides the value (for a
 * learned method a fingerprint of the critic's parameters, and the validation images), so a retrained critic never
 * reuses them. Scores are stored with 17 significant digits, so a resumed run chooses exactly what an uninterrupted one
 * does. A torn last row (a kill while writing) is dropped.
 */
final class ValidationLedger implements Closeable {
    static final List<String> HEADER = List.of("method", "key", "value", "budgets", "psnr", "ssim");

    private final CsvTable out;
    private final Map<String, Map<String, String>> rows = new HashMap<>();

    private ValidationLedger(CsvTable out, List<Map<String, String>> kept) {
        this.out = out;
        for (Map<String, String> r : kept) {
            rows.put(id(r.get("method"), r.get("key"), r.get("value"), r.get("budgets")), r);
        }
    }

    static ValidationLedger open(Path file) throws IOException {
        CsvTable.Continued c = CsvTable.continueOrCreate(file, HEADER);
        return new ValidationLedger(c.table(), c.rows());
    }

    synchronized int size() {
        return rows.size();
    }

    /** The mean PSNR and SSIM at each budget recorded for this search point, {psnr[], ssim[]}, else null. */
    synchronized double[][] get(String method, String key, double value, int[] budgets) {
        Map<String, String> r = rows.get(id(method, key, exact(value), budgetText(budgets)));
        if (r == null) {
            return null;
        }
        double[] psnr = parse(r.get("psnr"));
        double[] ssim = parse(r.get("ssim"));
        if (psnr.length != budgets.length || ssim.length != budgets.length) {
            return null;
        }
        return new double[][] {psnr, ssim};
    }

    /** Records a search point's scores (flushed before returning). */
    synchronized void add(String method, String key, double value, int[] budgets, double[] psnr, double[] ssim) throws IOException {
        String v = exact(value);
        String b = budgetText(budgets);
        out.row(method, key, v, b, join(psnr), join(ssim));
        rows.put(id(method, key, v, b), Map.of("method", method, "key", key, "value", v, "budgets", b, "psnr", join(psnr),
                "ssim", join(ssim)));
    }

    private static String id(String method, String key, String value, String budgets) {
        return method + "\u0000" + key + "\u0000" + value + "\u0000" + budgets;
    }

    private static String exact(double v) {
        return String.format(Locale.ROOT, "%.17g", v);
    }

    private static String budgetText(int[] budgets) {
        return Arrays.stream(budgets).mapToObj(Integer::toString).collect(Collectors.joining(" "));
    }

    private static String join(double[] v) {
        return Arrays.stream(v).mapToObj(ValidationLedger::exact).collect(Collectors.joining(" "));
    }

    private static double[] parse(String s) {
        return s == null || s.isBlank() ? new double[0] : Arrays.stream(s.trim().split(" ")).mapToDouble(Double::parseDouble).toArray();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
