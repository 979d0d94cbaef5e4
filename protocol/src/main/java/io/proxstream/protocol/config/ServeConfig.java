package io.proxstream.protocol.config;

import java.util.Objects;

/**
 * The online training service ({@code proxstream serve}).
 *
 * @param host            interface the HTTP and TCP servers bind
 * @param port            HTTP port (0 = any free port, printed)
 * @param tcpPort         TCP ingest port (0 = any free port, printed; -1 = off)
 * @param runsDir         directory of the runs (one subdirectory each: run.json, checkpoints, exports)
 * @param watchDir        directory watched for shards: {@code WATCH/RUN/*.npy|*.safetensors} (empty = off)
 * @param maxBatchBytes   largest accepted batch body (HTTP) or frame (TCP)
 * @param ingestWaitMillis how long an HTTP push waits for room in a full queue before the answer is 503
 * @param historyPoints   report windows kept per run for the dashboard
 * @param tokenFile       file holding the bearer token that HTTP (except /health and the dashboard's static page) and
 *                        TCP ingest require (empty: the environment variable PROXSTREAM_TOKEN, else no token)
 * @param insecure        allow a bind to a non-loopback interface without a token or without TLS (anyone who reaches
 *                        the port can push data and create, stop and export runs, or read the token on the way)
 * @param tlsKeystore     PKCS12 key store with the server's key and certificate: HTTP becomes HTTPS and TCP ingest runs
 *                        over TLS (empty: plain)
 * @param tlsPasswordFile file holding the key store's password (empty: the environment variable PROXSTREAM_TLS_PASSWORD)
 */
public record ServeConfig(String host, int port, int tcpPort, String runsDir, String watchDir, long maxBatchBytes,
                          long ingestWaitMillis, int historyPoints, String tokenFile, boolean insecure, String tlsKeystore,
                          String tlsPasswordFile) {
    public ServeConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(runsDir, "runsDir");
        watchDir = watchDir == null ? "" : watchDir;
        tokenFile = tokenFile == null ? "" : tokenFile;
        tlsKeystore = tlsKeystore == null ? "" : tlsKeystore;
        tlsPasswordFile = tlsPasswordFile == null ? "" : tlsPasswordFile;
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0 (any) or 1-65535, got " + port);
        }
        if (tcpPort < -1 || tcpPort > 65535) {
            throw new IllegalArgumentException("tcpPort must be -1 (off), 0 (any) or 1-65535, got " + tcpPort);
        }
        if (runsDir.isBlank()) {
            throw new IllegalArgumentException("runsDir must not be empty");
        }
        Checks.positive("maxBatchBytes", maxBatchBytes);
        Checks.nonNegative("ingestWaitMillis", ingestWaitMillis);
        Checks.positive("historyPoints", historyPoints);
    }

    /** A service without a token of its own (loopback binds; the environment's PROXSTREAM_TOKEN still applies). */
    public ServeConfig(String host, int port, int tcpPort, String runsDir, String watchDir, long maxBatchBytes,
                       long ingestWaitMillis, int historyPoints) {
        this(host, port, tcpPort, runsDir, watchDir, maxBatchBytes, ingestWaitMillis, historyPoints, "", false);
    }

    /** A service without TLS. */
    public ServeConfig(String host, int port, int tcpPort, String runsDir, String watchDir, long maxBatchBytes,
                       long ingestWaitMillis, int historyPoints, String tokenFile, boolean insecure) {
        this(host, port, tcpPort, runsDir, watchDir, maxBatchBytes, ingestWaitMillis, historyPoints, tokenFile, insecure, "", "");
    }

    public static ServeConfig defaults() {
        return new ServeConfig("127.0.0.1", 8080, 9090, "runs/serve", "", 64L << 20, 2000, 2000, "", false, "", "");
    }
}
