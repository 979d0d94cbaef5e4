package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The cluster's configuration: the HOCON resource, with the node's own values from the command line on top. */
class ClusterNodeConfigTest {
    @Test
    void aNodesConfigIsTheResourceWithItsAddressSeedsRolesAndDowningTimesOnTop() {
        Config c = ClusterNode.config("10.0.0.7", 2600, List.of("10.0.0.1:2552", "10.0.0.2:2552"), List.of("coordinator", "worker"),
                Duration.ofMillis(8000));
        assertEquals("cluster", c.getString("pekko.actor.provider"), "from " + ClusterNode.RESOURCE);
        assertEquals("jackson-cbor", c.getConfig("pekko.actor.serialization-bindings")
                .getString("\"io.proxstream.actors.cluster.CborSerializable\""));
        assertEquals("keep-majority", c.getString("pekko.cluster.split-brain-resolver.active-strategy"));
        assertEquals("10.0.0.7", c.getString("pekko.remote.artery.canonical.hostname"));
        assertEquals(2600, c.getInt("pekko.remote.artery.canonical.port"));
        assertEquals(List.of("pekko://proxstream@10.0.0.1:2552", "pekko://proxstream@10.0.0.2:2552"),
                c.getStringList("pekko.cluster.seed-nodes"));
        assertEquals(List.of("coordinator", "worker"), c.getStringList("pekko.cluster.roles"));
        assertEquals(Duration.ofSeconds(8), c.getDuration("pekko.cluster.split-brain-resolver.stable-after"));
        assertEquals(Duration.ofSeconds(4), c.getDuration("pekko.cluster.failure-detector.acceptable-heartbeat-pause"));
        assertEquals(Duration.ofSeconds(1), ClusterNode.config("h", 1, List.of("h:1"), List.of("worker"), Duration.ofMillis(500))
                .getDuration("pekko.cluster.failure-detector.acceptable-heartbeat-pause"), "at least a second");
        assertEquals("tcp", c.getString("pekko.remote.artery.transport"), "no TLS unless asked");
        Config tls = ClusterNode.config("h", 1, List.of("h:1"), List.of("worker"), Duration.ofMillis(500),
                new ClusterNode.Tls(java.nio.file.Path.of("/k/node.p12"), java.nio.file.Path.of("/k/trust.p12"), "pw-123"));
        assertEquals("tls-tcp", tls.getString("pekko.remote.artery.transport"));
        Config ssl = tls.getConfig("pekko.remote.artery.ssl.config-ssl-engine");
        assertEquals("/k/node.p12", ssl.getString("key-store"));
        assertEquals("/k/trust.p12", ssl.getString("trust-store"));
        assertEquals("pw-123", ssl.getString("key-store-password"));
        assertEquals(true, ssl.getBoolean("require-mutual-authentication"));
        // the application's own settings are underneath
        assertEquals("Dispatcher", c.getString("proxstream.training-dispatcher.type"));
    }
}
