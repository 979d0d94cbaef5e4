package io.proxstream.solvers.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TrainingMetricsTest {

    @Test
    void fvuMseL0AndDeadLatentsFollowTheirDefinitions() {
        int d = 3;
        int m = 5;
        TrainingMetrics tm = new TrainingMetrics(d, m, 4);
        StepResult r = new StepResult(m);
        float[] x = {1, 2, 3, -1, 0, 1};
        r.rows = 2;
        r.sse = 0.6;
        r.loss = 0.1;
        r.nonZeros = 3;
        r.fired[1] = true;
        r.fired[3] = true;
        tm.add(x, 2, r);
        // mean (0,1,2); centred sum of squares: (1,1,1) and (-1,-1,-1) -> 6
        TrainingMetrics.Report rep = tm.report(0.5);
        assertEquals(0.6 / 6, rep.mse(), 1e-12);
        assertEquals(0.6 / 6.0, rep.fvu(), 1e-12);
        assertEquals(1.5, rep.l0(), 1e-12);
        assertEquals(3, rep.deadLatents(), "latents 0, 2, 4 never fired");
        assertEquals(4.0, rep.vectorsPerSecond(), 1e-12);
        // two more rows with only latent 1 firing: latent 3 last fired 2 samples ago (< window 4)
        java.util.Arrays.fill(r.fired, false);
        r.fired[1] = true;
        tm.add(x, 2, r);
        assertEquals(3, tm.deadLatents());
        tm.add(x, 2, r);
        assertEquals(4, tm.deadLatents(), "latent 3 silent for 4 samples");
        assertEquals(6, tm.samples());
    }
}
