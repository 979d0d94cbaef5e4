package io.proxstream.actors.experiments;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
}
