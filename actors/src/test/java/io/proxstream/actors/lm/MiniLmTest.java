package io.proxstream.actors.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.protocol.format.FormatException;
import io.proxstream.protocol.format.OnnxGraph;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class MiniLmTest {
    private static final List<String> TEXTS = List.of(
            "A fool and his money are soon parted.",
            "Hello world",
            "You will be honoured for contributing your time and skill to a worthy cause, eventually.");

    @Test
    void blockFiveOfTheSourceIsTheModelsLastHiddenStateTokenByToken() throws Exception {
        try (MiniLm patched = new MiniLm(5, 64, 2); MiniLm shipped = new MiniLm(5, 64, 2, false)) {
            // the texts batched together (padded to the longest) against each text alone through the unmodified model
            MiniLm.Rows batch = patched.residuals(TEXTS);
            assertEquals(batch.data().length, batch.count() * MiniLm.WIDTH);
            int row = 0;
            for (int i = 0; i < TEXTS.size(); i++) {
                MiniLm.Rows alone = shipped.run(List.of(TEXTS.get(i)), MiniLm.LAST_HIDDEN_STATE);
                assertEquals(alone.count(), batch.perText()[i], "tokens of text " + i);
                assertEquals(patched.tokenIds(TEXTS.get(i)).length - 2, alone.count(), "[CLS] and [SEP] are left out");
                float[] mine = Arrays.copyOfRange(batch.data(), row * MiniLm.WIDTH, (row + alone.count()) * MiniLm.WIDTH);
                assertArrayEquals(alone.data(), mine, 2e-4f, "text " + i);
                row += alone.count();
            }
            assertEquals(List.of(101L, 7592L, 2088L, 102L), Arrays.stream(patched.tokenIds("Hello world")).boxed().toList(),
                    "bert-base-uncased ids of [CLS] hello world [SEP]");
        }
    }

    @Test
    void everyBlockGivesWidth384VectorsThatDifferFromBlockToBlock() throws Exception {
        float[] previous = null;
        for (int k = 0; k < MiniLm.BLOCKS; k++) {
            try (MiniLm lm = new MiniLm(k, 32, 2)) {
                MiniLm.Rows r = lm.residuals(List.of(TEXTS.get(1)));
                assertEquals(2, r.count());
                assertEquals(2 * 384, r.data().length);
                for (float v : r.data()) {
                    assertTrue(Float.isFinite(v));
                }
                if (previous != null) {
                    double diff = 0;
                    for (int i = 0; i < previous.length; i++) {
                        diff += Math.abs(previous[i] - r.data()[i]);
                    }
                    assertTrue(diff > 1, "block " + k + " equals block " + (k - 1));
                }
                previous = r.data();
            }
        }
        assertThrows(IllegalArgumentException.class, () -> MiniLm.residualTensor(6));
    }

    @Test
    void graphEditingNamesItsErrors() throws Exception {
        byte[] model = MiniLm.class.getResourceAsStream("/all-minilm-l6-v2.onnx").readAllBytes();
        FormatException e = assertThrows(FormatException.class, () -> OnnxGraph.withOutputs(model, List.of("/no/such/tensor")));
        assertTrue(e.getMessage().contains("no node produces a tensor named '/no/such/tensor'"), e.getMessage());
        byte[] cut = Arrays.copyOf(model, 1000);
        e = assertThrows(FormatException.class, () -> OnnxGraph.nodeOutputs(cut));
        assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("no graph"), e.getMessage());
        byte[] patched = OnnxGraph.withOutputs(model, List.of(MiniLm.residualTensor(2)));
        assertEquals(List.of("last_hidden_state", MiniLm.residualTensor(2)), OnnxGraph.graphOutputs(patched));
        assertEquals(OnnxGraph.nodeOutputs(model), OnnxGraph.nodeOutputs(patched));
    }

    @Test
    void fortuneFilesSplitOnPercentLines() {
        assertEquals(List.of("one line", "two lines here", "last"), Fortunes.split("one line\n%\ntwo\n  lines here\n%\n%\nlast\n"));
    }
}
