package io.proxstream.solvers.linalg;

import org.bytedeco.openblas.global.openblas;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Dense products through ND4J's BLAS for callers that hold plain arrays (allocates per call). */
public final class Gemm {
    /**
     * One {@code cblas_sgemm} call at a time from this class. OpenBLAS (0.3.31 as JavaCPP builds it) takes its buffers
     * under a lock that concurrent callers contend for expensively: two Java threads each calling a single-threaded
     * 8 × 72 × 1 024 product took 3.5× longer per call than one thread alone (together 0.3× one thread's throughput; at
     * 16 384 columns 0.45×), so the critic trainer's two replicas were slower than one. Serialised here, two threads
     * run their products one after the other at one thread's speed, and everything between the products (im2col,
     * activations) still runs in parallel.
     */
    private static final Object BLAS = new Object();

    private Gemm() {
    }

    /**
     * {@code out = A Bᵀ} with A {@code rows × d} and B {@code cols × d}, row-major; {@code out} is
     * {@code rows × cols}.
     */
    public static void abT(float[] a, int rows, float[] b, int cols, int d, float[] out) {
        if (a.length < (long) rows * d || b.length < (long) cols * d || out.length < (long) rows * cols) {
            throw new IllegalArgumentException("abT: arrays too small for " + rows + "x" + d + " times (" + cols + "x" + d + ")^T");
        }
        if (rows == 0 || cols == 0) {
            return;
        }
        try (INDArray x = Nd4j.create(DataType.FLOAT, rows, d); INDArray y = Nd4j.create(DataType.FLOAT, cols, d);
             INDArray z = Nd4j.create(DataType.FLOAT, rows, cols)) {
            x.data().asNioFloat().put(0, a, 0, rows * d);
            y.data().asNioFloat().put(0, b, 0, cols * d);
            Nd4j.gemm(x, y, z, false, true, 1.0, 0.0);
            z.data().asNioFloat().get(0, out, 0, rows * cols);
        }
    }

    /**
     * {@code C ← α op(A) op(B) + β C} on plain row-major float arrays through OpenBLAS's
     * {@code cblas_sgemm}; JavaCPP copies each array into native memory and back around the call (inputs
     * too), so operands of megabytes belong in {@link NativeFloats} and the overload below; {@code op(A)} is {@code m × k},
     * {@code op(B)} {@code k × n}, C {@code m × n}; lda, ldb, ldc are the row strides.
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int lda, float[] b, int ldb,
                             float beta, float[] c, int ldc) {
        if (m == 0 || n == 0) {
            return;
        }
        synchronized (BLAS) {
            openblas.cblas_sgemm(openblas.CblasRowMajor, op(transA), op(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

    /** As above on off-heap operands, which BLAS reads and writes in place. */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, NativeFloats a, int lda, NativeFloats b,
                             int ldb, float beta, NativeFloats c, int ldc) {
        if (m == 0 || n == 0) {
            return;
        }
        synchronized (BLAS) {
            openblas.cblas_sgemm(openblas.CblasRowMajor, op(transA), op(transB), m, n, k, alpha, a.pointer(), lda, b.pointer(), ldb, beta, c.pointer(), ldc);
        }
    }

    /**
     * As above on parts of off-heap operands: A starts {@code aOff} floats into {@code a}, B at {@code bOff}, C at
     * {@code cOff} (a block of rows of a row-major matrix is such a part).
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, NativeFloats a, long aOff, int lda,
                             NativeFloats b, long bOff, int ldb, float beta, NativeFloats c, long cOff, int ldc) {
        if (m == 0 || n == 0) {
            return;
        }
        org.bytedeco.javacpp.FloatPointer pa = new org.bytedeco.javacpp.FloatPointer(a.pointer()).position(aOff);
        org.bytedeco.javacpp.FloatPointer pb = new org.bytedeco.javacpp.FloatPointer(b.pointer()).position(bOff);
        org.bytedeco.javacpp.FloatPointer pc = new org.bytedeco.javacpp.FloatPointer(c.pointer()).position(cOff);
        synchronized (BLAS) {
            openblas.cblas_sgemm(openblas.CblasRowMajor, op(transA), op(transB), m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    private static int op(boolean transpose) {
        return transpose ? openblas.CblasTrans : openblas.CblasNoTrans;
    }
}
