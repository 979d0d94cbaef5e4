package io.proxstream.actors.serve;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.proxstream.protocol.config.ServeConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Map;

/**
 * The service's bearer token: where it comes from, when one is required, and the check (in constant time).
 *
 * <p>The token comes from {@link ServeConfig#tokenFile()} (a file, so that it never appears on a command line or in
 * a process listing), else from the environment variable {@code PROXSTREAM_TOKEN}. Without one, the service binds
 * only loopback interfaces: a bind that other machines can reach refuses to start unless {@link ServeConfig#insecure()}
 * says so. With one, every HTTP route but {@code /health/*} and the dashboard's static page and script needs
 * {@code Authorization: Bearer TOKEN}, and every TCP connection must open with an authentication frame; each refusal
 * is counted in {@code auth_rejected_total{endpoint}} on /metrics.
 */
public final class ServeAuth {
    /** The environment variable read when the configuration names no token file. */
    public static final String ENV = "PROXSTREAM_TOKEN";
    /** Shortest token accepted: a guessable token is no protection. */
    public static final int MIN_LENGTH = 16;

    private final byte[] token;
    private final Counter httpRejected;
    private final Counter tcpRejected;

    private ServeAuth(byte[] token, MeterRegistry registry) {
        this.token = token;
        this.httpRejected = Counter.builder("auth.rejected").tag("endpoint", "http")
                .description("requests refused for a missing or wrong bearer token").register(registry);
        this.tcpRejected = Counter.builder("auth.rejected").tag("endpoint", "tcp")
                .description("TCP ingest connections refused for a missing or wrong token").register(registry);
    }

    /**
     * The token the service requires (none: every request passes).
     *
     * @throws IllegalArgumentException naming the file and the reason when the token file cannot be read or its token is
     *                                  too short, and when a non-loopback bind has no token and is not marked insecure
     */
    public static ServeAuth resolve(ServeConfig config, Map<String, String> env, MeterRegistry registry) {
        String token = "";
        String from = "";
        if (!config.tokenFile().isBlank()) {
            Path f = Path.of(config.tokenFile());
            try {
                token = Files.readString(f, StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw new IllegalArgumentException("token file " + f + " cannot be read: " + e);
            }
            from = "token file " + f;
            if (token.isEmpty()) {
                throw new IllegalArgumentException(from + " is empty");
            }
        } else if (env.get(ENV) != null && !env.get(ENV).isBlank()) {
            token = env.get(ENV).strip();
            from = "environment variable " + ENV;
        }
        if (!token.isEmpty() && token.length() < MIN_LENGTH) {
            throw new IllegalArgumentException("the token from " + from + " has " + token.length() + " characters; at least "
                    + MIN_LENGTH + " are needed (e.g. openssl rand -hex 32)");
        }
        if (!token.isEmpty() && token.getBytes(StandardCharsets.UTF_8).length > 255) {
            throw new IllegalArgumentException("the token from " + from + " is longer than 255 bytes");
        }
        if (token.isEmpty() && !config.insecure() && !loopback(config.host())) {
            throw new IllegalArgumentException("serve binds " + config.host() + ", which other machines can reach, without a"
                    + " token: give one in a file (--token-file FILE, or the config key tokenFile) or in " + ENV
                    + ", or pass --insecure to let anyone who reaches the port push data and manage runs");
        }
        if (config.tlsKeystore().isBlank() && !config.insecure() && !loopback(config.host())) {
            throw new IllegalArgumentException("serve binds " + config.host() + ", which other machines can reach, without TLS,"
                    + " so the token would cross the network in clear: give a key store (--tls-keystore FILE, or the config key"
                    + " tlsKeystore), or pass --insecure");
        }
        return new ServeAuth(token.getBytes(StandardCharsets.UTF_8), registry);
    }

    static boolean loopback(String host) {
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return true;
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("serve host '" + host + "' does not resolve: " + e.getMessage());
        }
    }

    /** Whether requests need the token. */
    public boolean required() {
        return token.length > 0;
    }

    /** Whether an {@code Authorization} header's value carries the token (always, when none is required). */
    public boolean httpAllowed(String authorization) {
        if (!required()) {
            return true;
        }
        boolean ok = authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                && matches(authorization.substring(7).strip());
        if (!ok) {
            httpRejected.increment();
        }
        return ok;
    }

    /** Whether a TCP authentication frame's token is the service's (always, when none is required). */
    boolean tcpAllowed(String presented) {
        if (!required()) {
            return true;
        }
        boolean ok = matches(presented);
        if (!ok) {
            tcpRejected.increment();
        }
        return ok;
    }

    /** Counts a TCP connection refused before it authenticated (a data frame first, a malformed authentication frame). */
    void tcpRefused() {
        tcpRejected.increment();
    }

    private boolean matches(String presented) {
        return MessageDigest.isEqual(token, presented.getBytes(StandardCharsets.UTF_8));
    }
}
