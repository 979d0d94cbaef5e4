package io.proxstream.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.proxstream.actors.serve.ByteBudget;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The rows a node received, through rounds: leased in order in whole minibatches, trained only once a checkpoint holds
 * their round, back at the front of the queue when their round is not merged or the coordinator changes; the ledger
 * accepted = trained + queued at every step, the budget returned exactly for trained rows, acknowledgements completed
 * when the last row of their batch is trained.
 */
class LiveRowsTest {
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    /** {@code rows} rows of width 2 whose first value is the row's global number (from {@code first}). */
    private static float[] numbered(int first, int rows) {
        float[] x = new float[2 * rows];
        for (int r = 0; r < rows; r++) {
            x[2 * r] = first + r;
            x[2 * r + 1] = -(first + r);
        }
        return x;
    }

    private static float[] firstColumn(float[] x) {
        float[] c = new float[x.length / 2];
        for (int i = 0; i < c.length; i++) {
            c[i] = x[2 * i];
        }
        return c;
    }

    private static void assertLedger(LiveRows live) {
        LiveRows.Ledger l = live.ledger();
        assertEquals(l.accepted(), l.trained() + l.queued(), "accepted = trained + queued: " + l);
        assertTrue(l.available() + l.leased() <= l.queued() && l.available() >= 0 && l.leased() >= 0, "waiting and leased rows are queued: " + l);
        assertEquals(8L * l.queued(), l.heldBytes(), "the budget holds exactly the untrained rows: " + l);
    }

    private LiveRows rows(ByteBudget budget, int... batches) {
        LiveRows live = new LiveRows(2, budget);
        int at = 0;
        for (int n : batches) {
            assertTrue(budget.reserve(8L * n, 0).toCompletableFuture().join());
            live.add(numbered(at, n), n);
            at += n;
        }
        return live;
    }

    @Test
    void roundsLeaseWholeMinibatchesInOrderAndRowsAreTrainedOnlyWhenACheckpointHoldsTheirRound() {
        ByteBudget budget = new ByteBudget(1 << 20, timer);
        LiveRows live = rows(budget, 5, 7, 3);
        assertLedger(live);
        // 15 rows, minibatches of 4: a round asking for 10 gets 8 (two minibatches), across the first two pushes
        float[] r0 = live.lease(0, 10, 4);
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 6, 7}, firstColumn(r0));
        float[] r1 = live.lease(1, 100, 4);
        assertArrayEquals(new float[] {8, 9, 10, 11}, firstColumn(r1), "only whole minibatches: 7 wait, 4 leased");
        assertEquals(0, live.lease(2, 100, 4).length, "3 rows are less than a minibatch");
        assertEquals(3, live.ledger().available());
        assertLedger(live);
        // round 0 merged, round 1 merged; a checkpoint holds round 0 only
        live.merged(0);
        live.merged(1);
        assertEquals(8, live.durable(0));
        assertEquals(8, live.ledger().trained());
        assertLedger(live);
        assertEquals(4, live.durable(1));
        assertEquals(12, live.ledger().trained());
        assertEquals(3, live.ledger().queued());
        assertLedger(live);
    }

    @Test
    void anExcludedRoundAndEveryUnsettledRoundAfterACoordinatorChangeGoBackToTheFrontInOrder() {
        LiveRows live = rows(new ByteBudget(1 << 20, timer), 6, 6);
        live.lease(0, 4, 2); // rows 0-3
        live.lease(1, 4, 2); // rows 4-7
        live.excluded(0);
        assertLedger(live);
        assertArrayEquals(new float[] {0, 1, 2, 3, 8, 9}, firstColumn(live.lease(2, 6, 2)), "round 0's rows first, then the rest");
        live.merged(1); // merged but not in a checkpoint
        assertEquals(10, live.coordinatorChanged(), "rounds 1 (merged, not durable) and 2 go back");
        assertLedger(live);
        assertEquals(0, live.ledger().trained());
        assertArrayEquals(new float[] {4, 5, 6, 7, 0, 1, 2, 3, 8, 9, 10, 11}, firstColumn(live.lease(3, 12, 2)),
                "oldest round first, each in its order, then what was never leased");
        live.merged(3);
        live.durable(3);
        assertEquals(12, live.ledger().trained());
        assertLedger(live);
    }

    @Test
    void anAcknowledgementCompletesWhenTheLastRowOfItsBatchIsTrainedAndTheBudgetComesBack() {
        ByteBudget budget = new ByteBudget(160, timer); // 20 rows of width 2
        LiveRows live = new LiveRows(2, budget);
        assertTrue(budget.reserve(80, 0).toCompletableFuture().join());
        CompletableFuture<Boolean> first = live.add(numbered(0, 10), 10).trained().toCompletableFuture();
        assertTrue(budget.reserve(80, 0).toCompletableFuture().join());
        CompletableFuture<Boolean> second = live.add(numbered(10, 10), 10).trained().toCompletableFuture();
        assertFalse(budget.reserve(8, 0).toCompletableFuture().join(), "the queue is full: a push waits (back-pressure)");
        CompletableFuture<Boolean> waiting = budget.reserve(8, -1).toCompletableFuture();
        live.lease(0, 12, 4); // rows 0-11: all of the first batch, 2 of the second
        live.merged(0);
        assertFalse(first.isDone(), "merged is not trained: no checkpoint holds round 0 yet");
        live.durable(0);
        assertTrue(first.join());
        assertFalse(second.isDone(), "8 rows of the second batch are not trained");
        assertTrue(waiting.isDone() && waiting.join(), "the trained rows' bytes went back to the budget");
        assertEquals(8 * 8 + 8, budget.reserved(), "the 8 untrained rows and the granted push");
        assertTrue(live.accepting());
        live.close();
        assertFalse(second.join(), "rows dropped when the node stops are not acknowledged as trained");
        assertFalse(live.accepting());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> live.add(numbered(0, 1), 1),
                "a finished run takes no more rows");
    }

    @Test
    void aRoundLeasesOnceAndLeaseSizesStayWithinTheAskedRows() {
        LiveRows live = rows(new ByteBudget(1 << 20, timer), 40);
        assertEquals(2 * 16, live.lease(7, 16, 8).length);
        assertEquals(0, live.lease(7, 16, 8).length, "a second lease of the same round gets nothing");
        assertEquals(2 * 24, live.lease(8, 1000, 8).length);
        assertLedger(live);
    }

    @Test
    void aPushIsAnsweredOnceTheCoordinatorRecordedACountThatHoldsItsRows() {
        ByteBudget budget = new ByteBudget(1 << 20, timer);
        LiveRows live = new LiveRows(2, budget);
        java.util.concurrent.atomic.AtomicInteger told = new java.util.concurrent.atomic.AtomicInteger();
        live.onAdded(told::incrementAndGet);
        CompletableFuture<Boolean>[] pushes = new CompletableFuture[3];
        for (int i = 0; i < 3; i++) { // 10, 20, 30 rows accepted after each
            assertTrue(budget.reserve(80, 0).toCompletableFuture().join());
            pushes[i] = live.add(numbered(10 * i, 10), 10).recorded().toCompletableFuture();
        }
        assertEquals(3, told.get(), "the worker hears of every push (and reports)");
        assertFalse(pushes[0].isDone(), "nothing is answered before the coordinator recorded it");
        live.recorded(19);
        assertTrue(pushes[0].join(), "a count of 19 holds the first push's rows 1-10");
        assertFalse(pushes[1].isDone(), "but not all of the second push's 11-20");
        assertEquals(19, live.ledger().recorded());
        live.recorded(5);
        assertEquals(19, live.ledger().recorded(), "an older record (a coordinator that knew less) changes nothing");
        live.recorded(20);
        assertTrue(pushes[1].join());
        assertFalse(pushes[2].isDone());
        live.recorded(1000);
        assertEquals(30, live.ledger().recorded(), "no more than the node accepted is recorded");
        assertTrue(pushes[2].join());
        assertTrue(budget.reserve(8, 0).toCompletableFuture().join());
        CompletableFuture<Boolean> last = live.add(numbered(30, 1), 1).recorded().toCompletableFuture();
        live.close();
        assertFalse(last.join(), "a push not recorded when the run ends is answered as not taken");
    }
}
