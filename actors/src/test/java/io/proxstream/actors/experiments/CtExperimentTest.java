package io.proxstream.actors.experiments;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.actors.image.ImageTask;
import io.proxstream.solvers.inverse.Phantoms;
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
}
