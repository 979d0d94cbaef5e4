package io.proxstream.actors.experiments;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.actors.image.ImageTask;
import io.proxstream.solvers.inverse.Phantoms;
import io.proxstream.solvers.nn.Critic;
import java.util.List;
import org.junit.jupiter.api.Test;

class CtExperimentTest {

    @Test
    void budgetsClimbTheLadderBelowTheMaximumAndEndAtIt() {
        assertArrayEquals(new int[] {10, 25, 50, 100, 200}, CtExperiment.budgets(200));
        assertArrayEquals(new int[] {10, 25, 50, 100}, CtExperiment.budgets(100));
        assertArrayEquals(new int[] {10, 25, 50, 100, 200, 300}, CtExperiment.budgets(300));
        assertArrayEquals(new int[] {10, 20}, CtExperiment.budgets(20));
        assertArrayEquals(new int[] {5}, CtExperiment.budgets(5));
        assertEquals(Integer.MAX_VALUE, CtExperiment.budgets(Integer.MAX_VALUE)[CtExperiment.budgets(Integer.MAX_VALUE).length - 1],
                "no overflow on the way up");
    }

    @Test
    void kindsAreCheckedByName() {
        CtExperiment.Config c = CtExperiment.Config.quick().withKinds(List.of("awcr", "ar"));
        assertEquals(List.of("awcr", "ar"), c.kinds());
        assertEquals(CtExperiment.Config.quick().size(), c.size());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CtExperiment.Config.quick().withKinds(List.of("cnn")))
                .getMessage().contains("unknown regulariser 'cnn'"));
        assertThrows(IllegalArgumentException.class, () -> CtExperiment.Config.quick().withKinds(List.of()));
    }

    @Test
    void thePhantomFamilyTheTestCountAndAFixedTrainingAreOptions() {
        CtExperiment.Config c = CtExperiment.Config.quick().withPhantoms(Phantoms.Family.TEXTURED).withTestImages(5);
        assertEquals(Phantoms.Family.TEXTURED, c.training().phantoms(), "training pairs from the same family");
        assertEquals(5, c.test());
        List<ImagingSetting> s = TvBaselines.ctSettings(32, 1, 3, 0.01, 1, c.training().phantoms());
        for (ImagingSetting setting : s) {
            assertEquals(3, setting.test().size());
            ImageTask t = setting.test().get(0);
            assertTrue(t.id().startsWith("textured-"), t.id());
            assertArrayEquals(Phantoms.textured(32, Long.parseLong(t.id().substring("textured-".length()))), t.truth());
            assertTrue(setting.title().contains("textured"), setting.title());
        }
        CtExperiment.Config full = CtExperiment.Config.full();
        assertTrue(full.training().stopping().enabled() && full.test() >= 50, "the full run trains to a plateau and tests on 50 images");
        CtExperiment.Config fixed = full.withFixedTraining(120);
        assertEquals(120, fixed.training().steps());
        assertTrue(!fixed.training().stopping().enabled());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> full.withFixedTraining(100)).getMessage().contains("multiple of 30"));
        assertThrows(IllegalArgumentException.class, () -> full.withTestImages(0));
    }

    @Test
    void publicWidthsApplyToAwcrOnlyAndDifferBySetting() {
        CtExperiment.Config c = CtExperiment.Config.full();
        for (String setting : List.of("ct-sparse", "ct-limited")) {
            assertEquals(c.architecture(), c.architectureFor(Critic.Kind.AWCR, setting), "the CPU-sized critic unless asked");
        }
        CtExperiment.Config p = c.withPublicAwcr();
        Critic.Architecture sparse = p.architectureFor(Critic.Kind.AWCR, "ct-sparse");
        assertArrayEquals(new int[] {16, 32, 32, 64, 64, 128}, sparse.smooth());
        assertEquals(4, java.util.Arrays.stream(sparse.smoothStrides()).filter(t -> t == 2).count(), "four of the six at stride 2");
        Critic.Architecture limited = p.architectureFor(Critic.Kind.AWCR, "ct-limited");
        assertArrayEquals(new int[] {128}, limited.smooth());
        assertEquals(5, limited.layers());
        assertEquals(16, limited.channels());
        for (Critic.Kind k : List.of(Critic.Kind.AR, Critic.Kind.ACR, Critic.Kind.ACNCR)) {
            assertEquals(c.architecture(), p.architectureFor(k, "ct-sparse"), k + " keeps the CPU-sized critic");
        }
        assertTrue(p.withTestImages(3).withKinds(List.of("awcr")).publicAwcr(), "the other options keep the choice");
        // the public-width AWCR trains at the public step size; everything else at the configured one, and the training
        // configuration a checkpoint is matched against differs, so a checkpoint of the other step size is not continued
        assertEquals(1e-4, p.trainingFor(Critic.Kind.AWCR).learningRate(), 0.0);
        assertTrue(p.trainingFor(Critic.Kind.AWCR).stopping().restoreBest(), "and ends with its best held-out parameters");
        assertEquals(c.training(), c.trainingFor(Critic.Kind.AWCR), "CPU widths: the configured training");
        for (Critic.Kind k : List.of(Critic.Kind.AR, Critic.Kind.ACR, Critic.Kind.ACNCR)) {
            assertEquals(c.training(), p.trainingFor(k), k + " keeps the configured training");
        }
        assertTrue(!p.trainingFor(Critic.Kind.AWCR).toString().equals(c.training().toString()), "the checkpoints' key differs");
        assertThrows(IllegalArgumentException.class, () -> CtExperiment.Config.publicIwcnn("ct-full"));
    }
}
