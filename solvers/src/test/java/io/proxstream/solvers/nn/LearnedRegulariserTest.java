package io.proxstream.solvers.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.solvers.inverse.Operators;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LearnedRegulariserTest {

    @Test
    void valueAndGradientAreLambdaTimesTheNetworksAndLeaveParameterGradientsAlone() {
        Shape s = new Shape(1, 6, 6);
        Iwcnn net = new Iwcnn(s, new int[] {3}, 2, 3, 3, 1.0, 4);
        LearnedRegulariser reg = new LearnedRegulariser(net, 2.5, 1);
        SplittableRandom r = new SplittableRandom(5);
        float[] x = new float[36];
        for (int i = 0; i < 36; i++) {
            x[i] = (float) r.nextDouble(-1, 1);
        }
        assertEquals(2.5 * net.value(x), reg.value(x), 1e-6);
        float[] g = new float[36];
        reg.gradient(x, g);
        for (Param p : net.params()) {
            for (float v : p.grad()) {
                assertEquals(0f, v, "parameter gradients untouched");
            }
        }
        for (int i = 0; i < 36; i += 5) {
            float keep = x[i];
            x[i] = keep + 1e-2f;
            double up = reg.value(x);
            x[i] = keep - 1e-2f;
            double down = reg.value(x);
            x[i] = keep;
            assertEquals((up - down) / 2e-2, g[i], 2e-3 * (1 + Math.abs(g[i])), "component " + i);
        }
        assertThrows(UnsupportedOperationException.class, () -> reg.proximal(1, x, x));
        assertTrue(LearnedRegulariser.estimateLipschitz(net, 2.5, x, 5, 1e-2, 6) > 0);
    }

    @Test
    void theLambdaHeuristicIsTheMeanDataGradientAtTheTruth() {
        // A = identity, y = x + e: ‖Aᵀ(Ax − y)‖ = ‖e‖
        float[] x1 = {1, 2, 3, 4};
        float[] x2 = {0, 0, 0, 0};
        float[] y1 = {1, 2, 3, 7};                     // ‖e‖ = 3
        float[] y2 = {1, 0, 0, 0};                     // ‖e‖ = 1
        assertEquals(2.0, LearnedRegulariser.lambdaHeuristic(Operators.identity(2, 2), List.of(x1, x2), List.of(y1, y2)), 1e-6);
    }
}
