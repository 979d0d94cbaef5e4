package io.proxstream.monitoring;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Per-worker meters: rows add up, the round time is the last one, and a worker that left leaves the exposition. */
class ClusterMetersTest {
    @Test
    void perWorkerRowsAndRoundTimeAppearAndGoWithTheWorker() {
        Meters m = new Meters();
        ClusterMeters c = new ClusterMeters(m.registry(), "n:1");
        c.workerRound("a:2551", 100, 1.5);
        c.workerRound("a:2551", 200, 0.25);
        c.workerRound("b:2551", 50, 2.0);
        String s = m.scrape();
        assertTrue(s.contains("cluster_worker_rows_total{node=\"n:1\",run=\"cluster\",worker=\"a:2551\"} 300.0"), s);
        assertTrue(s.contains("cluster_worker_rows_total{node=\"n:1\",run=\"cluster\",worker=\"b:2551\"} 50.0"), s);
        assertTrue(s.contains("cluster_worker_round_seconds{node=\"n:1\",run=\"cluster\",worker=\"a:2551\"} 0.25"), s);
        c.workerGone("a:2551");
        s = m.scrape();
        assertFalse(s.contains("worker=\"a:2551\""), s);
        assertTrue(s.contains("cluster_worker_round_seconds{node=\"n:1\",run=\"cluster\",worker=\"b:2551\"} 2.0"), s);
        // a worker that comes back starts a fresh series
        c.workerRound("a:2551", 7, 1.0);
        assertTrue(m.scrape().contains("cluster_worker_rows_total{node=\"n:1\",run=\"cluster\",worker=\"a:2551\"} 7.0"), m.scrape());
    }
}
