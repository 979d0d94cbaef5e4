package io.proxstream.protocol.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    @TempDir
    Path tmp;

    @Test
    void defaultsFilesThenOverridesAndTheEchoRoundTrips() throws Exception {
        Path f = tmp.resolve("c.json");
        Files.writeString(f, "{\"sae\": {\"k\": 16}, \"batchSize\": 64}");
        Map<String, String> o = new LinkedHashMap<>();
        o.put("sae.k", "32");
        o.put("trainer.holdUnfired", "false");
        o.put("trainer.rho", "1e-4");
        o.put("trainer.decoder.step", "cg");
        o.put("trainer.decoder.window", "16384");
        TrainConfig c = ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(f), o);
        assertEquals(new DecoderConfig("cg", 16384, 8, 1e-3), c.trainer().decoder());
        assertEquals(32, c.sae().k());
        assertEquals(64, c.batchSize());
        assertEquals(false, c.trainer().holdUnfired());
        assertEquals(1e-4, c.trainer().rho());
        Path echo = tmp.resolve("echo.json");
        Files.writeString(echo, ConfigLoader.toJson(c));
        assertEquals(c, ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(echo), Map.of()));
    }

    @Test
    void reportsTheKeyAndTheReason() throws Exception {
        assertMessage(Map.of("sae.kk", "3"), "unknown config key 'sae.kk'");
        assertMessage(Map.of("sae.k", "many"), "expected an integer");
        assertMessage(Map.of("sae.k", "5000"), "sae.k must be in [1, latents=1024]");
        assertMessage(Map.of("trainer.algo", "sgd"), "trainer.algo must be one of");
        assertMessage(Map.of("trainer.forgetting", "0"), "trainer.forgetting must be in (0,1]");
        assertMessage(Map.of("trainer.decoder.step", "fast"), "trainer.decoder.step must be one of [auto, exact, cg]");
        assertMessage(Map.of("trainer.decoder.window", "-1"), "trainer.decoder.window must be >= 0 rows");
        assertMessage(Map.of("trainer.decoder.iterations", "0"), "trainer.decoder.iterations must be positive");
        assertMessage(Map.of("source.kind", "npy"), "source.path is required");
        Path f = tmp.resolve("bad.json");
        Files.writeString(f, "{\"sae\": {\"width\": 3}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(f), Map.of()));
        assertTrue(e.getMessage().contains("sae.width") && e.getMessage().contains("bad.json"), e.getMessage());
        Files.writeString(f, "{\"sae\": ");
        e = assertThrows(IllegalArgumentException.class,
                () -> ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(f), Map.of()));
        assertTrue(e.getMessage().contains("cannot read config"), e.getMessage());
    }

    private static void assertMessage(Map<String, String> overrides, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConfigLoader.load(TrainConfig.class, TrainConfig.defaults(), List.of(), overrides));
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should contain '" + fragment + "'");
    }
}
