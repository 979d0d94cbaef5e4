package io.proxstream.monitoring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TaskProgressTest {

    /**
     * Without a terminal (as under Maven) progress goes to standard error as plain lines, with counts and an ETA, once a
     * task has run one interval; a shorter task leaves no line.
     */
    @Test
    void plainLinesOnStandardErrorWithCountsAndEta() throws InterruptedException {
        PrintStream saved = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try (TaskProgress p = TaskProgress.start("ct test images", 50, "images", 1)) {
            p.stepBy(20);
            p.note("tv-pdhg");
            assertEquals(20, p.done());
            p.at(30, 60);
            assertEquals(30, p.done());
            Thread.sleep(1500);
        } finally {
            System.setErr(saved);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("ct test images") && out.contains("30/60") && out.contains("images"), out);
        assertTrue(!out.contains("\r"), "no carriage returns in a log: " + out);
        assertTrue(out.matches("(?s).*\\d+:\\d\\d:\\d\\d.*"), "elapsed / ETA shown: " + out);
    }

    @Test
    void aShortTaskLeavesNoLineInALog() {
        PrintStream saved = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try (TaskProgress p = TaskProgress.start("validation images", 2, "images")) {
            p.stepBy(2);
        } finally {
            System.setErr(saved);
        }
        assertEquals("", buf.toString(StandardCharsets.UTF_8));
    }
}
