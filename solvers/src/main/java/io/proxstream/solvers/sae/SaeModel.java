package io.proxstream.solvers.sae;

import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Parameters of a sparse autoencoder {@code x̂ = σ(x W_enc + b_enc) W_dec + b_dec}, held in plain
 * Java arrays, row-major.
 *
 * <p>Layout: both weight matrices are stored latent-major, {@code m × d}: row {@code j} of
 * {@link #encoderWeights()} is column j of the usual {@code W_enc} (d × m), the site of latent j in
 * the power-diagram picture; row {@code j} of {@link #decoderWeights()} is the dictionary atom of
 * latent j. With this layout every sparse operation of training is a contiguous row operation.
 * A tied model shares one array for both ({@code W_dec = W_encᵀ}).
 *
 * <p>Whoever changes the encoder arrays calls {@link #encoderChanged()} so that cached device copies
 * (see {@link EncoderGemm}) are refreshed.
 */
public final class SaeModel {

    /** Initialisation schemes. */
    public enum Init {
        /**
         * The SplInterp scripts: {@code W_enc ~ N(0, 0.1²)}, untied {@code W_dec ~ N(0, 0.01²)},
         * biases zero.
         */
        PAPER,
        /**
         * Decoder atoms uniformly random on the unit sphere, encoder rows equal to the atoms
         * ({@code W_enc = W_decᵀ}), biases zero: the initialisation of the large SAE libraries.
         */
        UNIT
    }

    /** Separates the initialisation's random stream from data streams drawn from the same seed. */
    static final long INIT_SALT = 0x2545F4914F6CDD1DL;

    private final SaeSpec spec;
    private final float[] wEnc;
    private final float[] bEnc;
    private final float[] wDec;
    private final float[] bDec;
    private long encoderVersion;

    private SaeModel(SaeSpec spec, float[] wEnc, float[] bEnc, float[] wDec, float[] bDec) {
        this.spec = spec;
        this.wEnc = wEnc;
        this.bEnc = bEnc;
        this.wDec = wDec;
        this.bDec = bDec;
    }

    /** A model with the given parameters (arrays are taken, not copied; {@code wDec} ignored if tied). */
    public static SaeModel of(SaeSpec spec, float[] wEnc, float[] bEnc, float[] wDec, float[] bDec) {
        Objects.requireNonNull(spec, "spec");
        int d = spec.inputDim();
        int m = spec.latents();
        check("W_enc", wEnc, (long) m * d);
        check("b_enc", bEnc, m);
        check("b_dec", bDec, d);
        if (!spec.tied()) {
            check("W_dec", wDec, (long) m * d);
        }
        return new SaeModel(spec, wEnc, bEnc, spec.tied() ? wEnc : wDec, bDec);
    }

    private static void check(String name, float[] a, long len) {
        Objects.requireNonNull(a, name);
        if (a.length != len) {
            throw new IllegalArgumentException(name + " has " + a.length + " values, expected " + len);
        }
    }

    /** A freshly initialised model, deterministic in {@code seed}. */
    public static SaeModel initialise(SaeSpec spec, Init init, long seed) {
        int d = spec.inputDim();
        int m = spec.latents();
        SplittableRandom rnd = new SplittableRandom(seed ^ INIT_SALT);
        float[] wEnc = new float[m * d];
        float[] wDec = spec.tied() ? wEnc : new float[m * d];
        switch (init) {
            case PAPER -> {
                for (int i = 0; i < wEnc.length; i++) {
                    wEnc[i] = (float) (0.1 * gaussian(rnd));
                }
                if (!spec.tied()) {
                    for (int i = 0; i < wDec.length; i++) {
                        wDec[i] = (float) (0.01 * gaussian(rnd));
                    }
                }
            }
            case UNIT -> {
                for (int j = 0; j < m; j++) {
                    double norm = 0;
                    for (int i = 0; i < d; i++) {
                        double g = gaussian(rnd);
                        wDec[j * d + i] = (float) g;
                        norm += g * g;
                    }
                    float inv = (float) (1.0 / Math.sqrt(norm));
                    for (int i = 0; i < d; i++) {
                        wDec[j * d + i] *= inv;
                    }
                }
                if (!spec.tied()) {
                    System.arraycopy(wDec, 0, wEnc, 0, wEnc.length);
                }
            }
            default -> throw new IllegalStateException(init.toString());
        }
        return new SaeModel(spec, wEnc, new float[m], wDec, new float[d]);
    }

    /** A standard normal variate (Box-Muller), from a seeded generator. */
    public static double gaussian(SplittableRandom rnd) {
        double u = 1.0 - rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2.0 * Math.PI * v);
    }

    public SaeSpec spec() {
        return spec;
    }

    /** Encoder rows, {@code m × d} (modifiable; call {@link #encoderChanged()} after writing). */
    public float[] encoderWeights() {
        return wEnc;
    }

    /** Encoder bias, length m (modifiable; call {@link #encoderChanged()} after writing). */
    public float[] encoderBias() {
        return bEnc;
    }

    /** Decoder atoms, {@code m × d} (the encoder array itself when tied). */
    public float[] decoderWeights() {
        return wDec;
    }

    /** Decoder bias, length d. */
    public float[] decoderBias() {
        return bDec;
    }

    /** Marks the encoder as modified. */
    public void encoderChanged() {
        encoderVersion++;
    }

    /** Increases whenever the encoder changed. */
    public long encoderVersion() {
        return encoderVersion;
    }

    /** A deep copy (a tied copy stays tied). */
    public SaeModel copy() {
        float[] e = wEnc.clone();
        return new SaeModel(spec, e, bEnc.clone(), spec.tied() ? e : wDec.clone(), bDec.clone());
    }

    /** Copies all parameters of {@code other} (same spec) into this model. */
    public void copyFrom(SaeModel other) {
        if (!other.spec.equals(spec)) {
            throw new IllegalArgumentException("spec mismatch: " + other.spec + " vs " + spec);
        }
        System.arraycopy(other.wEnc, 0, wEnc, 0, wEnc.length);
        System.arraycopy(other.bEnc, 0, bEnc, 0, bEnc.length);
        if (!spec.tied()) {
            System.arraycopy(other.wDec, 0, wDec, 0, wDec.length);
        }
        System.arraycopy(other.bDec, 0, bDec, 0, bDec.length);
        encoderChanged();
    }

    /** Adds the parameters to a state under {@code W_enc}, {@code b_enc}, {@code W_dec}, {@code b_dec} (latent-major). */
    public void saveTo(TrainerState.Builder b) {
        b.put("W_enc", wEnc).put("b_enc", bEnc).put("b_dec", bDec);
        if (!spec.tied()) {
            b.put("W_dec", wDec);
        }
    }

    /** Loads the parameters written by {@link #saveTo}. */
    public void loadFrom(TrainerState s) {
        s.copy("W_enc", wEnc);
        s.copy("b_enc", bEnc);
        s.copy("b_dec", bDec);
        if (!spec.tied()) {
            s.copy("W_dec", wDec);
        }
        encoderChanged();
    }

    /** True if every parameter is finite. */
    public boolean isFinite() {
        return finite(wEnc) && finite(bEnc) && finite(wDec) && finite(bDec);
    }

    private static boolean finite(float[] a) {
        for (float v : a) {
            if (!Float.isFinite(v)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "SaeModel" + spec;
    }
}
