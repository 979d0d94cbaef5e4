package io.proxstream.actors.image;

import io.proxstream.solvers.inverse.Angles;
import io.proxstream.solvers.inverse.Blur;
import io.proxstream.solvers.inverse.Fbp;
import io.proxstream.solvers.inverse.LinearOperator;
import io.proxstream.solvers.inverse.Operators;
import io.proxstream.solvers.inverse.RayTransform;
import io.proxstream.solvers.sae.SaeModel;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The measurement model of the image stream: {@code y = A x + ε} with A the ray transform (ct),
 * a blur (deblur) or the identity (denoise), and ε Gaussian with standard deviation
 * {@code noise · max|Ax|}, seeded per image ({@code seed + index}) so that runs repeat exactly.
 *
 * @param problem   ct, deblur or denoise
 * @param angles    ct: {@code full:N}, {@code sparse:N} or {@code limited:FROM-TO:N} (degrees)
 * @param detectors ct: detector count (0 = enough for the image diagonal)
 * @param spacing   ct: detector spacing in pixels
 * @param blur      deblur: {@code gaussian:SIGMA}, {@code box:SIZE} or {@code motion:LENGTH:ANGLE}
 * @param noise     relative noise level
 * @param filter    FBP filter (ct)
 * @param seed      noise seed
 */
public record ForwardModel(String problem, String angles, int detectors, double spacing, String blur, double noise,
                           Fbp.Filter filter, long seed) {
    public ForwardModel {
        problem = problem.toLowerCase(Locale.ROOT);
        if (!java.util.List.of("ct", "deblur", "denoise").contains(problem)) {
            throw new IllegalArgumentException("unknown problem '" + problem + "'; valid: ct, deblur, denoise");
        }
        if (!(noise >= 0) || Double.isInfinite(noise)) {
            throw new IllegalArgumentException("noise must be finite and >= 0, got " + noise);
        }
        if (detectors < 0) {
            throw new IllegalArgumentException("detectors must be >= 0 (0 = automatic), got " + detectors);
        }
        if (problem.equals("ct")) {
            parseAngles(angles);
        }
        if (problem.equals("deblur")) {
            blurOperator(blur, 8, 8);
        }
    }

    /** The angle set of a specification (errors name the specification). */
    public static double[] parseAngles(String spec) {
        String[] p = spec.split(":");
        try {
            switch (p[0]) {
                case "full":
                    return Angles.full(Integer.parseInt(p[1]));
                case "sparse":
                    return Angles.sparseView(Integer.parseInt(p[1]));
                case "limited":
                    String[] r = p[1].split("-");
                    return Angles.range(Double.parseDouble(r[0]), Double.parseDouble(r[1]), Integer.parseInt(p[2]));
                default:
                    break;
            }
        } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
            // reported below
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("angle set '" + spec + "': " + e.getMessage(), e);
        }
        throw new IllegalArgumentException("angle set '" + spec + "' is not full:N, sparse:N or limited:FROM-TO:N");
    }

    static LinearOperator blurOperator(String spec, int h, int w) {
        String[] p = spec.split(":");
        try {
            switch (p[0]) {
                case "gaussian":
                    return Blur.gaussian(h, w, Double.parseDouble(p[1]));
                case "box":
                    return Blur.box(h, w, Integer.parseInt(p[1]));
                case "motion":
                    return Blur.motion(h, w, Double.parseDouble(p[1]), p.length > 2 ? Double.parseDouble(p[2]) : 0);
                default:
                    break;
            }
        } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
            // reported below
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("blur '" + spec + "': " + e.getMessage(), e);
        }
        throw new IllegalArgumentException("blur '" + spec + "' is not gaussian:SIGMA, box:SIZE or motion:LENGTH[:ANGLE]");
    }

    /** The operator for an {@code h × w} image. */
    public LinearOperator operator(int h, int w) {
        return switch (problem) {
            case "ct" -> new RayTransform(h, w, parseAngles(angles), detectors == 0 ? RayTransform.defaultDetectors(h, w) : detectors,
                    spacing);
            case "deblur" -> blurOperator(blur, h, w);
            default -> Operators.identity(h, w);
        };
    }

    /** FBP for CT operators, else null. */
    public Fbp fbp(LinearOperator a) {
        return a instanceof RayTransform rt ? new Fbp(rt, filter) : null;
    }

    /** Simulated data for a task. */
    public float[] measure(LinearOperator a, ImageTask t) {
        float[] y = a.apply(t.truth());
        double max = 0;
        for (float v : y) {
            max = Math.max(max, Math.abs(v));
        }
        SplittableRandom r = new SplittableRandom(seed + t.index());
        float s = (float) (noise * max);
        for (int i = 0; i < y.length; i++) {
            y[i] += s * (float) SaeModel.gaussian(r);
        }
        return y;
    }

    /** One line for reports. */
    public String describe() {
        return switch (problem) {
            case "ct" -> String.format(Locale.ROOT, "parallel-beam CT, angles %s, noise %.3g x max|Ax|", angles, noise);
            case "deblur" -> String.format(Locale.ROOT, "deblurring, blur %s, noise %.3g x max|Ax|", blur, noise);
            default -> String.format(Locale.ROOT, "denoising, noise %.3g x max|x|", noise);
        };
    }
}
