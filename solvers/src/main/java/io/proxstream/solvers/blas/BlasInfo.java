package io.proxstream.solvers.blas;

import com.sun.jna.Function;
import com.sun.jna.Library;
import com.sun.jna.NativeLibrary;
import java.util.Map;
import org.bytedeco.javacpp.Loader;
import org.nd4j.linalg.factory.Nd4j;

/**
 * What BLAS the process runs: OpenBLAS's own report of the kernel it selected
 * ({@code openblas_get_corename}), its build configuration and thread count, and the
 * {@code OPENBLAS_CORETYPE} override if one was set.
 *
 * <p>The JavaCPP preset does not bind {@code openblas_get_corename}, so it is looked up with JNA in
 * the library ND4J already loaded (opened with {@code RTLD_NOLOAD}, so no second copy is mapped).
 */
public record BlasInfo(String coreName, String config, int threads, String coreTypeOverride) {

    private static final int RTLD_LAZY = 0x1;
    private static final int RTLD_NOLOAD = 0x4;

    /** Reads the report from the loaded OpenBLAS (initialises ND4J if needed). */
    public static BlasInfo current() {
        String override = System.getenv("OPENBLAS_CORETYPE");
        NativeLibrary lib;
        try {
            lib = openblas();
        } catch (UnsatisfiedLinkError e) {
            return new BlasInfo("unknown (" + e.getMessage() + ")", "", -1, override);
        }
        if (lib == null) {
            return new BlasInfo("unknown (OpenBLAS not loaded)", "", -1, override);
        }
        String core = call(lib, "openblas_get_corename");
        String config = call(lib, "openblas_get_config");
        return new BlasInfo(core, config, threads(lib), override);
    }

    /**
     * Sets OpenBLAS's thread count for the whole process and returns the previous one (-1 when
     * OpenBLAS cannot be reached; then nothing changes). Code that runs one GEMM per core from its
     * own threads (data-parallel critic training) sets 1 to avoid oversubscribing the cores.
     */
    public static int setThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("BLAS threads must be >= 1, got " + threads);
        }
        try {
            NativeLibrary lib = openblas();
            if (lib == null) {
                return -1;
            }
            int before = threads(lib);
            lib.getFunction("openblas_set_num_threads").invokeVoid(new Object[] {threads});
            return before;
        } catch (UnsatisfiedLinkError e) {
            return -1;
        }
    }

    private static int threads(NativeLibrary lib) {
        Function threads = lib.getFunction("openblas_get_num_threads");
        return threads.invokeInt(new Object[0]);
    }

    private static NativeLibrary openblas() {
        Nd4j.getBackend();
        Nd4j.scalar(0f).close();
        String path = null;
        for (Map.Entry<String, String> e : Loader.getLoadedLibraries().entrySet()) {
            String k = e.getKey();
            if (k.startsWith("openblas") && !k.startsWith("openblas_nolapack")) {
                path = e.getValue();
            }
        }
        if (path == null) {
            for (Map.Entry<String, String> e : Loader.getLoadedLibraries().entrySet()) {
                if (e.getKey().startsWith("openblas_nolapack")) {
                    path = e.getValue();
                }
            }
        }
        return path == null ? null : NativeLibrary.getInstance(path, Map.of(Library.OPTION_OPEN_FLAGS, RTLD_LAZY | RTLD_NOLOAD));
    }

    private static String call(NativeLibrary lib, String name) {
        return lib.getFunction(name).invokeString(new Object[0], false).trim();
    }

    /** Who chose the kernel: OpenBLAS, or the user's {@code OPENBLAS_CORETYPE} (and whether OpenBLAS obeyed). */
    public String chosenBy() {
        if (coreTypeOverride == null) {
            return "detected by OpenBLAS";
        }
        return "OPENBLAS_CORETYPE=" + coreTypeOverride + (coreName.equalsIgnoreCase(coreTypeOverride.trim()) ? ", set by you"
                : ", set by you, but OpenBLAS runs " + coreName + " instead");
    }

    /** One line for benchmark and log output. */
    public String describe() {
        String timeout = System.getenv("OPENBLAS_THREAD_TIMEOUT");
        return "OpenBLAS kernel " + coreName + " (" + config + "), " + threads + " BLAS threads, OPENBLAS_CORETYPE="
                + (coreTypeOverride == null ? "<unset>" : coreTypeOverride) + ", OPENBLAS_THREAD_TIMEOUT="
                + (timeout == null ? "<unset>" : timeout);
    }
}
