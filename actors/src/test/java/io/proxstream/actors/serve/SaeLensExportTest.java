package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.actors.train.SaeModelFiles;
import io.proxstream.protocol.format.Safetensors;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.SparseStep;
import io.proxstream.solvers.sae.Sparsifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SaeLensExportTest {
    @TempDir
    Path tmp;

    private static SaeModel model(Sparsifier sp, boolean tied) {
        SaeModel m = SaeModel.initialise(new SaeSpec(6, 10, sp, sp.isTopK() ? 3 : 0, 0, tied), SaeModel.Init.PAPER, 4);
        SplittableRandom r = new SplittableRandom(5);
        for (int j = 0; j < 10; j++) {
            m.encoderBias()[j] = (float) r.nextDouble(-0.2, 0.2);
        }
        for (int i = 0; i < 6; i++) {
            m.decoderBias()[i] = (float) r.nextDouble(-1, 1);
        }
        m.encoderChanged();
        return m;
    }

    @Test
    void exportThenImportGivesTheSameModel() throws Exception {
        for (Sparsifier sp : Sparsifier.values()) {
            SaeModel m = model(sp, sp == Sparsifier.TOPK);
            Path dir = tmp.resolve(sp.id());
            SaeModelFiles.exportSaeLens(dir, m, Map.of("run", "t"));
            String cfg = Files.readString(dir.resolve("cfg.json"));
            assertTrue(cfg.contains("\"apply_b_dec_to_input\" : false"), cfg);
            SaeModel back = SaeModelFiles.importSaeLens(dir);
            assertEquals(m.spec().withTied(false), back.spec());
            assertArrayEquals(m.encoderWeights(), back.encoderWeights());
            assertArrayEquals(m.encoderBias(), back.encoderBias());
            assertArrayEquals(m.decoderWeights(), back.decoderWeights());
            assertArrayEquals(m.decoderBias(), back.decoderBias());
        }
    }

    /** SAELens's default encoder subtracts b_dec first: importing folds that into b_enc, giving the same codes. */
    @Test
    void importFoldsApplyBDecToInputIntoTheEncoderBias() throws Exception {
        SaeModel m = model(Sparsifier.TOPK, false);
        Path dir = tmp.resolve("applied");
        SaeModelFiles.exportSaeLens(dir, m, Map.of());
        Path cfg = dir.resolve("cfg.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"apply_b_dec_to_input\" : false", "\"apply_b_dec_to_input\" : true"));
        SaeModel imported = SaeModelFiles.importSaeLens(dir);
        float[] x = new float[4 * 6];
        SplittableRandom r = new SplittableRandom(9);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble(-2, 2);
        }
        float[] shifted = x.clone();
        for (int b = 0; b < 4; b++) {
            for (int i = 0; i < 6; i++) {
                shifted[b * 6 + i] -= m.decoderBias()[i];
            }
        }
        try (SparseStep a = new SparseStep(imported.spec()); SparseStep ref = new SparseStep(m.spec())) {
            a.encode(imported, x, 4);
            ref.encode(m, shifted, 4);
            for (int b = 0; b < 4; b++) {
                assertArrayEquals(ref.codes().denseRow(b), a.codes().denseRow(b), 1e-5f, "row " + b);
            }
        }
    }

    @Test
    void rejectsWhatItCannotLoad() throws Exception {
        Path dir = tmp.resolve("gated");
        SaeModelFiles.exportSaeLens(dir, model(Sparsifier.TOPK, false), Map.of());
        Path cfg = dir.resolve("cfg.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"architecture\" : \"topk\"", "\"architecture\" : \"gated\"")
                .replace("\"activation_fn_str\" : \"topk\"", "\"activation_fn_str\" : \"relu\""));
        Exception e = assertThrows(Exception.class, () -> SaeModelFiles.importSaeLens(dir));
        assertTrue(e.getMessage().contains("gated"), e.getMessage());
        Path weights = dir.resolve("sae_weights.safetensors");
        Map<String, Safetensors.Tensor> t = new LinkedHashMap<>(Safetensors.readAll(weights));
        t.remove("b_enc");
        Safetensors.write(weights, t, Map.of());
        Files.writeString(cfg, Files.readString(cfg).replace("\"gated\"", "\"topk\""));
        e = assertThrows(Exception.class, () -> SaeModelFiles.importSaeLens(dir));
        assertTrue(e.getMessage().contains("missing tensor b_enc"), e.getMessage());
        e = assertThrows(Exception.class, () -> SaeModelFiles.importSaeLens(tmp.resolve("nothing")));
        assertTrue(e.getMessage().contains("not an SAELens directory"), e.getMessage());
    }
}
