package io.proxstream.actors.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;
import org.junit.jupiter.api.Test;

class MainTest {

    private record Outcome(int code, String out, String err) {
    }

    private static Outcome run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(List.of(args), new PrintStream(out, true), new PrintStream(err, true));
        return new Outcome(code, out.toString(), err.toString());
    }

    @Test
    void badInvocationsFailWithAClearMessageAndExitCode2() {
        Outcome o = run("trian");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("unknown command 'trian'"), o.err());
        o = run("train", "--kk", "3");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("unknown option --kk") && o.err().contains("--k"), o.err());
        o = run("train", "--k");
        assertTrue(o.err().contains("--k needs a value"), o.err());
        o = run("train", "--k", "-3");
        assertTrue(o.err().contains("sae.k must be in [1, latents=1024]"), o.err());
        o = run("train", "--source", "parquet:x");
        assertTrue(o.err().contains("unknown source 'parquet:x'"), o.err());
        o = run("train", "--source", "npy:/nonexistent/file.npy", "--port", "-1");
        assertEquals(1, o.code());
        assertTrue(o.err().contains("/nonexistent/file.npy"), o.err());
        o = run("bench", "nope");
        assertTrue(o.err().contains("unknown benchmark 'nope'"), o.err());
    }

    @Test
    void helpListsTheOptions() {
        Outcome o = run("train", "--help");
        assertEquals(0, o.code());
        assertTrue(o.out().contains("--max-samples N") && o.out().contains("--source SRC"), o.out());
        assertEquals(0, run("help").code());
        assertEquals(2, run().code());
    }
}
