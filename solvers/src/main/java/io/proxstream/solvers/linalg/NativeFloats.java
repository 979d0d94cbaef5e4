package io.proxstream.solvers.linalg;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A grow-only off-heap float array for BLAS operands that are too large to pass as Java arrays.
 *
 * <p>JavaCPP passes a {@code float[]} to native code by copying the whole array into freshly allocated
 * memory and back after the call (JNI {@code Get/ReleaseFloatArrayElements}), inputs included: for a
 * 1 152 × 16 384 im2col matrix (75 MB) that made one {@code cblas_sgemm} take 230 ms where the product
 * itself takes 8 ms. Operands kept here go to BLAS by pointer; Java code reads and writes them through
 * {@link #buffer()} (bulk absolute gets and puts are memory copies). The memory is zeroed when it is
 * (re)allocated and freed with this object (JavaCPP's deallocator). One instance belongs to one thread.
 */
public final class NativeFloats implements AutoCloseable {
    private FloatPointer pointer;
    private FloatBuffer buffer;
    private long capacity;

    /** At least {@code n} floats; the contents survive only while the capacity suffices (a larger request reallocates, zeroed). */
    public NativeFloats ensure(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative size " + n);
        }
        if (n > capacity || pointer == null) {
            if (n > Integer.MAX_VALUE) {
                // FloatBuffer indexes with int: a single operand above 2^31 floats is not planned for
                throw new IllegalArgumentException("an off-heap operand of " + n + " floats exceeds 2^31 - 1");
            }
            if (pointer != null) {
                pointer.close();
            }
            pointer = new FloatPointer(Math.max(n, 1));
            pointer.zero();
            buffer = pointer.asBuffer();
            capacity = n;
        }
        return this;
    }

    public FloatPointer pointer() {
        return pointer;
    }

    /** A view of the memory (position and limit are not used: callers use absolute gets and puts). */
    public FloatBuffer buffer() {
        return buffer;
    }

    public long capacity() {
        return capacity;
    }

    /** Frees the memory now (instead of when the collector finds this object); a later {@link #ensure} allocates again. */
    @Override
    public void close() {
        if (pointer != null) {
            pointer.close();
            pointer = null;
            buffer = null;
            capacity = 0;
        }
    }
}
