package io.proxstream.actors.serve;

import io.proxstream.protocol.config.ServeConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;

/**
 * TLS for the service's HTTP (HTTPS) and TCP ingest: one server key and certificate from a PKCS12 key store
 * ({@link ServeConfig#tlsKeystore()}), its password from {@link ServeConfig#tlsPasswordFile()} or {@value #ENV}. Clients
 * authenticate with the bearer token ({@link ServeAuth}); TLS keeps the token and the data private and the server
 * authentic. Protocols: TLS 1.3 and 1.2 (the JDK's defaults for a {@code TLS} context).
 */
public final class ServeTls {
    /** The environment variable that may hold the key store's password. */
    public static final String ENV = "PROXSTREAM_TLS_PASSWORD";

    private ServeTls() {
    }

    /**
     * The server's TLS context, or null when no key store is configured.
     *
     * @throws IllegalArgumentException naming the file, when the key store or its password cannot be read or it holds no key
     */
    public static SSLContext resolve(ServeConfig config, Map<String, String> env) {
        if (config.tlsKeystore().isBlank()) {
            return null;
        }
        Path store = Path.of(config.tlsKeystore());
        String password = password(config.tlsPasswordFile(), env, store);
        try (InputStream in = Files.newInputStream(store)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password.toCharArray());
            boolean key = false;
            for (String alias : java.util.Collections.list(ks.aliases())) {
                key |= ks.isKeyEntry(alias);
            }
            if (!key) {
                throw new IllegalArgumentException("TLS key store " + store + " holds no private key");
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, password.toCharArray());
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("TLS key store " + store + " cannot be opened: " + e.getMessage(), e);
        }
    }

    /**
     * A key store's password: the contents of {@code file} (stripped) when given, else {@value #ENV} from {@code env}
     * (shared by {@code serve} and {@code node}).
     *
     * @throws IllegalArgumentException naming the file or the store, when the file cannot be read or there is no password
     */
    public static String password(String file, Map<String, String> env, Path store) {
        if (file != null && !file.isBlank()) {
            try {
                return Files.readString(Path.of(file)).strip();
            } catch (IOException e) {
                throw new IllegalArgumentException("TLS password file " + file + " cannot be read: " + e.getMessage(), e);
            }
        }
        if (env.get(ENV) != null) {
            return env.get(ENV).strip();
        }
        throw new IllegalArgumentException("TLS key store " + store + " needs its password: --tls-password-file FILE or the"
                + " environment variable " + ENV);
    }

    /** A server-side engine of {@code ctx} (for TCP ingest). */
    static SSLEngine serverEngine(SSLContext ctx) {
        SSLEngine e = ctx.createSSLEngine();
        e.setUseClientMode(false);
        return e;
    }
}
