package io.proxstream.actors.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Hosts on one machine for measuring what crosses a network: {@code n} Linux network namespaces, each with a veth pair
 * to one bridge (a switch), every link shaped to a rate in both directions by a token-bucket filter ({@code tc tbf}) on
 * each end, like a full-duplex NIC and its switch port. Needs root and iproute2; the kernel's {@code sch_netem} (added
 * delay) is used when present, else the links have the veth's own latency (tens of microseconds), which
 * {@link #delayNote()} says. Closing removes everything it made.
 */
final class NetNamespaces implements AutoCloseable {
    private final String tag;
    private Thread hook;
    private final List<String> made = new ArrayList<>();
    private String delayNote = "";

    /** The namespace of host i. */
    String namespace(int i) {
        return "ps" + tag + "h" + i;
    }

    /** The address of host i. */
    String address(int i) {
        return "10.93." + (Integer.parseInt(tag) % 250) + "." + (i + 1);
    }

    private NetNamespaces(String tag) {
        this.tag = tag;
    }

    /**
     * Makes {@code n} hosts whose links carry at most {@code megabits} Mbit/s each way, with {@code delayMicros} added on
     * every link end when the kernel has netem (a host-to-host path then has 2 × delayMicros one way).
     *
     * @throws IOException with the command and what it printed, when a step fails (after removing what was made)
     */
    static NetNamespaces create(int n, long megabits, long delayMicros) throws IOException {
        String tag = Long.toString(ProcessHandle.current().pid() % 10_000);
        NetNamespaces ns = new NetNamespaces(tag);
        // Ctrl-C or SIGTERM during a run: the namespaces, links and bridge go too
        Thread hook = new Thread(ns::close, "proxstream-netns-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        ns.hook = hook;
        try {
            String br = "psb" + tag;
            ns.run("ip", "link", "add", br, "type", "bridge");
            ns.made.add("link:" + br);
            ns.run("ip", "link", "set", br, "up");
            boolean netem = delayMicros > 0;
            for (int i = 0; i < n; i++) {
                String name = ns.namespace(i);
                String inside = "pv" + tag + "h" + i;
                String outside = "pb" + tag + "h" + i;
                ns.run("ip", "netns", "add", name);
                ns.made.add("netns:" + name);
                ns.run("ip", "link", "add", inside, "type", "veth", "peer", "name", outside);
                ns.made.add("link:" + outside);
                ns.run("ip", "link", "set", inside, "netns", name);
                ns.run("ip", "link", "set", outside, "master", br);
                ns.run("ip", "link", "set", outside, "up");
                ns.run("ip", "netns", "exec", name, "ip", "addr", "add", ns.address(i) + "/24", "dev", inside);
                ns.run("ip", "netns", "exec", name, "ip", "link", "set", inside, "up");
                ns.run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up");
                String rate = megabits + "mbit";
                String burst = Math.max(64, megabits / 8) + "kb"; // about 1 ms at the rate
                if (netem) {
                    netem = ns.tryRun("ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", inside, "root", "netem", "rate", rate,
                            "delay", delayMicros + "us", "limit", "100000")
                            && ns.tryRun("tc", "qdisc", "add", "dev", outside, "root", "netem", "rate", rate, "delay", delayMicros + "us",
                            "limit", "100000");
                    if (!netem) {
                        ns.tryRun("ip", "netns", "exec", name, "tc", "qdisc", "del", "dev", inside, "root");
                        ns.delayNote = "this kernel has no netem qdisc (sch_netem), so no delay is added: the links have the veth's"
                                + " own latency; rates are shaped by tbf";
                        // hosts before this one got netem: shape them again with tbf so that every link is alike
                        for (int j = 0; j < i; j++) {
                            ns.tryRun("ip", "netns", "exec", ns.namespace(j), "tc", "qdisc", "del", "dev", "pv" + tag + "h" + j, "root");
                            ns.tryRun("tc", "qdisc", "del", "dev", "pb" + tag + "h" + j, "root");
                            ns.tbf(ns.namespace(j), "pv" + tag + "h" + j, "pb" + tag + "h" + j, rate, burst);
                        }
                    }
                }
                if (!netem) {
                    ns.tbf(name, inside, outside, rate, burst);
                }
            }
            if (netem) {
                ns.delayNote = "netem on both ends of every link: " + delayMicros + " us each, " + 2 * delayMicros + " us host to host"
                        + " one way, and the rate";
            }
            return ns;
        } catch (IOException | RuntimeException e) {
            ns.close();
            throw e;
        }
    }

    private void tbf(String name, String inside, String outside, String rate, String burst) throws IOException {
        run("ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", inside, "root", "tbf", "rate", rate, "burst", burst, "latency", "100ms");
        run("tc", "qdisc", "add", "dev", outside, "root", "tbf", "rate", rate, "burst", burst, "latency", "100ms");
    }

    /**
     * An address for this (the root) namespace on the bridge, so that a process here reaches every host; its link is not
     * shaped (for control traffic only).
     */
    synchronized String hostAddress() throws IOException {
        String a = "10.93." + (Integer.parseInt(tag) % 250) + ".254";
        if (!hostAddressed) {
            run("ip", "addr", "add", a + "/24", "dev", "psb" + tag);
            hostAddressed = true;
        }
        return a;
    }

    private boolean hostAddressed;

    String delayNote() {
        return delayNote;
    }

    /** The command to run {@code cmd} on host i. */
    List<String> on(int i, List<String> cmd) {
        List<String> out = new ArrayList<>(List.of("ip", "netns", "exec", namespace(i)));
        out.addAll(cmd);
        return out;
    }

    private boolean tryRun(String... cmd) {
        try {
            run(cmd);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void run(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + ": no answer in 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + said);
        }
    }

    @Override
    public synchronized void close() {
        if (hook != null && Thread.currentThread() != hook) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down: the hook runs this anyway
            }
        }
        for (int i = made.size() - 1; i >= 0; i--) {
            String m = made.get(i);
            if (m.startsWith("netns:")) {
                tryRun("ip", "netns", "del", m.substring(6));
            } else {
                tryRun("ip", "link", "del", m.substring(5));
            }
        }
        made.clear();
    }
}
