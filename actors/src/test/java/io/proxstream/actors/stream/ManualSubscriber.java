package io.proxstream.actors.stream;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * A hand-driven Reactive Streams subscriber: it requests exactly what the test asks for, so a
 * test can hold demand at a fixed level and watch what the upstream does (pekko-stream-testkit is
 * not served for Pekko 1.7, see DESIGN.md).
 */
final class ManualSubscriber<T> implements Subscriber<T> {
    private final AtomicReference<Subscription> subscription = new AtomicReference<>();
    final List<T> received = Collections.synchronizedList(new ArrayList<>());
    volatile boolean completed;
    volatile Throwable error;

    @Override
    public void onSubscribe(Subscription s) {
        subscription.set(s);
    }

    @Override
    public void onNext(T t) {
        received.add(t);
    }

    @Override
    public void onError(Throwable t) {
        error = t;
    }

    @Override
    public void onComplete() {
        completed = true;
    }

    void request(long n) throws InterruptedException {
        while (subscription.get() == null) {
            Thread.sleep(5);
        }
        subscription.get().request(n);
    }

    void cancel() {
        Subscription s = subscription.get();
        if (s != null) {
            s.cancel();
        }
    }

    /** Waits until {@code n} elements arrived (or fails after {@code millis}). */
    void awaitCount(int n, long millis) throws InterruptedException {
        long end = System.currentTimeMillis() + millis;
        while (received.size() < n && System.currentTimeMillis() < end && error == null) {
            Thread.sleep(5);
        }
        if (received.size() < n) {
            throw new AssertionError("expected " + n + " elements, got " + received.size()
                    + (error == null ? "" : " (stream failed: " + error + ")"));
        }
    }
}
