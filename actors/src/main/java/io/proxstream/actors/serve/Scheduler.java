package io.proxstream.actors.serve;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/** One daemon timer thread for the ingest budgets' wait timeouts (served runs and cluster nodes' queues). */
public final class Scheduler {
    public static final ScheduledExecutorService SHARED = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "proxstream-ingest-timer");
        t.setDaemon(true);
        return t;
    });

    private Scheduler() {
    }
}
