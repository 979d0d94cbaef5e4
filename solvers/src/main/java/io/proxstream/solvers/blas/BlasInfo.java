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
        Nd4j.getBackend();
        Nd4j.scalar(0f).close();
        String override = System.getenv("OPENBLAS_CORETYPE");
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
        if (path == null) {
            return new BlasInfo("unknown (OpenBLAS not loaded)", "", -1, override);
        }
        try {
            NativeLibrary lib = NativeLibrary.getInstance(path, Map.of(Library.OPTION_OPEN_FLAGS, RTLD_LAZY | RTLD_NOLOAD));
            String core = call(lib, "openblas_get_corename");
            String config = call(lib, "openblas_get_config");
            Function threads = lib.getFunction("openblas_get_num_threads");
            return new BlasInfo(core, config, threads.invokeInt(new Object[0]), override);
        } catch (UnsatisfiedLinkError e) {
            return new BlasInfo("unknown (" + e.getMessage() + ")", "", -1, override);
        }
    }

    private static String call(NativeLibrary lib, String name) {
        return lib.getFunction(name).invokeString(new Object[0], false).trim();
    }

    /** One line for benchmark and log output. */
    public String describe() {
        return "OpenBLAS kernel " + coreName + " (" + config + "), " + threads + " BLAS threads, OPENBLAS_CORETYPE="
                + (coreTypeOverride == null ? "<unset>" : coreTypeOverride);
    }
}
