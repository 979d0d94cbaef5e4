package io.proxstream.solvers.inverse;

import java.util.Arrays;

/** Composition, sum, scaling, transposition and identity of operators. */
public final class Operators {
    private Operators() {
    }

    static LinearOperator compose(LinearOperator outer, LinearOperator inner) {
        if (!Arrays.equals(outer.domainShape(), inner.rangeShape())) {
            throw new IllegalArgumentException("cannot compose: inner range " + Arrays.toString(inner.rangeShape())
                    + " is not the outer domain " + Arrays.toString(outer.domainShape()));
        }
        return new LinearOperator() {
            private final float[] mid = new float[inner.rangeSize()];

            @Override
            public int[] domainShape() {
                return inner.domainShape();
            }

            @Override
            public int[] rangeShape() {
                return outer.rangeShape();
            }

            @Override
            public synchronized void apply(float[] x, float[] out) {
                inner.apply(x, mid);
                outer.apply(mid, out);
            }

            @Override
            public synchronized void adjoint(float[] y, float[] out) {
                outer.adjoint(y, mid);
                inner.adjoint(mid, out);
            }
        };
    }

    static LinearOperator sum(LinearOperator a, LinearOperator b) {
        if (!Arrays.equals(a.domainShape(), b.domainShape()) || !Arrays.equals(a.rangeShape(), b.rangeShape())) {
            throw new IllegalArgumentException("cannot add operators of shapes " + Arrays.toString(a.domainShape()) + "->"
                    + Arrays.toString(a.rangeShape()) + " and " + Arrays.toString(b.domainShape()) + "->"
                    + Arrays.toString(b.rangeShape()));
        }
        return new LinearOperator() {
            private final float[] tmpR = new float[a.rangeSize()];
            private final float[] tmpD = new float[a.domainSize()];

            @Override
            public int[] domainShape() {
                return a.domainShape();
            }

            @Override
            public int[] rangeShape() {
                return a.rangeShape();
            }

            @Override
            public synchronized void apply(float[] x, float[] out) {
                a.apply(x, out);
                b.apply(x, tmpR);
                Vectors.axpy(out, 1f, tmpR, out);
            }

            @Override
            public synchronized void adjoint(float[] y, float[] out) {
                a.adjoint(y, out);
                b.adjoint(y, tmpD);
                Vectors.axpy(out, 1f, tmpD, out);
            }
        };
    }

    static LinearOperator scale(LinearOperator a, double s) {
        float f = (float) s;
        return new LinearOperator() {
            @Override
            public int[] domainShape() {
                return a.domainShape();
            }

            @Override
            public int[] rangeShape() {
                return a.rangeShape();
            }

            @Override
            public void apply(float[] x, float[] out) {
                a.apply(x, out);
                Vectors.scale(out, f);
            }

            @Override
            public void adjoint(float[] y, float[] out) {
                a.adjoint(y, out);
                Vectors.scale(out, f);
            }
        };
    }

    static LinearOperator transpose(LinearOperator a) {
        return new LinearOperator() {
            @Override
            public int[] domainShape() {
                return a.rangeShape();
            }

            @Override
            public int[] rangeShape() {
                return a.domainShape();
            }

            @Override
            public void apply(float[] x, float[] out) {
                a.adjoint(x, out);
            }

            @Override
            public void adjoint(float[] y, float[] out) {
                a.apply(y, out);
            }
        };
    }

    /** The identity on vectors of {@code shape} (denoising). */
    public static LinearOperator identity(int... shape) {
        int[] s = shape.clone();
        return new LinearOperator() {
            @Override
            public int[] domainShape() {
                return s.clone();
            }

            @Override
            public int[] rangeShape() {
                return s.clone();
            }

            @Override
            public void apply(float[] x, float[] out) {
                System.arraycopy(x, 0, out, 0, x.length);
            }

            @Override
            public void adjoint(float[] y, float[] out) {
                System.arraycopy(y, 0, out, 0, y.length);
            }
        };
    }

    /**
     * The stacked operator x ↦ (A x, B x) (same domain; the range is the concatenation, as a flat
     * vector of A's range followed by B's).
     */
    public static LinearOperator stack(LinearOperator a, LinearOperator b) {
        if (!Arrays.equals(a.domainShape(), b.domainShape())) {
            throw new IllegalArgumentException("cannot stack operators on domains " + Arrays.toString(a.domainShape()) + " and "
                    + Arrays.toString(b.domainShape()));
        }
        int ma = a.rangeSize();
        int mb = b.rangeSize();
        return new LinearOperator() {
            private final float[] ya = new float[ma];
            private final float[] yb = new float[mb];
            private final float[] tmp = new float[a.domainSize()];

            @Override
            public int[] domainShape() {
                return a.domainShape();
            }

            @Override
            public int[] rangeShape() {
                return new int[] {ma + mb};
            }

            @Override
            public synchronized void apply(float[] x, float[] out) {
                a.apply(x, ya);
                b.apply(x, yb);
                System.arraycopy(ya, 0, out, 0, ma);
                System.arraycopy(yb, 0, out, ma, mb);
            }

            @Override
            public synchronized void adjoint(float[] y, float[] out) {
                System.arraycopy(y, 0, ya, 0, ma);
                System.arraycopy(y, ma, yb, 0, mb);
                a.adjoint(ya, out);
                b.adjoint(yb, tmp);
                Vectors.axpy(out, 1f, tmp, out);
            }
        };
    }
}
