package io.proxstream.actors.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class ByteBudgetTest {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor();

    @AfterAll
    static void stop() {
        TIMER.shutdownNow();
    }

    @Test
    void reservationsWaitInOrderAndTimeOut() throws Exception {
        ByteBudget b = new ByteBudget(100, TIMER);
        assertTrue(b.reserve(60, 0).toCompletableFuture().get());
        assertFalse(b.reserve(50, 0).toCompletableFuture().get(), "no waiting with timeout 0");
        CompletableFuture<Boolean> big = b.reserve(50, -1).toCompletableFuture();
        CompletableFuture<Boolean> small = b.reserve(10, -1).toCompletableFuture();
        assertFalse(big.isDone());
        assertFalse(small.isDone(), "a smaller request does not overtake an earlier one");
        b.release(20);
        assertTrue(big.get(1, TimeUnit.SECONDS));
        assertTrue(small.get(1, TimeUnit.SECONDS));
        assertEquals(100, b.reserved());
        CompletableFuture<Boolean> late = b.reserve(30, 50).toCompletableFuture();
        assertFalse(late.get(2, TimeUnit.SECONDS), "times out while the budget stays full");
        b.release(100);
        assertEquals(0, b.reserved());
        assertThrows(IllegalArgumentException.class, () -> b.reserve(101, 0));
    }

    @Test
    void anExpiredHeadUnblocksTheWaitersBehindIt() throws Exception {
        ByteBudget b = new ByteBudget(100, TIMER);
        b.reserve(80, 0).toCompletableFuture().get();
        CompletableFuture<Boolean> head = b.reserve(90, 50).toCompletableFuture();
        CompletableFuture<Boolean> behind = b.reserve(20, -1).toCompletableFuture();
        assertFalse(head.get(2, TimeUnit.SECONDS));
        assertTrue(behind.get(2, TimeUnit.SECONDS));
    }

    @Test
    void closingAnswersEveryWaitingReservationAndEveryLaterOneSoNoWaitOutlivesTheRun() throws Exception {
        ByteBudget b = new ByteBudget(100, TIMER);
        assertTrue(b.reserve(100, 0).toCompletableFuture().get());
        CompletableFuture<Boolean> forever = b.reserve(40, -1).toCompletableFuture();
        CompletableFuture<Boolean> timed = b.reserve(10, 60_000).toCompletableFuture();
        assertFalse(forever.isDone());
        b.close();
        assertFalse(forever.get(1, TimeUnit.SECONDS), "a wait without a time limit ends when the run stops taking data");
        assertFalse(timed.get(1, TimeUnit.SECONDS));
        b.release(100);
        assertFalse(b.reserve(10, -1).toCompletableFuture().get(1, TimeUnit.SECONDS), "nothing is reserved after close");
        assertEquals(0, b.reserved());
    }
}
