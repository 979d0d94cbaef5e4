package io.proxstream.actors.experiments;

import java.io.PrintStream;
import java.nio.file.Path;
import org.apache.pekko.actor.typed.ActorSystem;

/** An experiment of {@code proxstream experiment NAME}: writes {@code report.md} and its files into a directory. */
public interface Experiment {

    /**
     * @param quick a small configuration for tests and CI (same structure, fewer samples)
     * @param out   the output directory (created)
     */
    void run(boolean quick, Path out, PrintStream log, ActorSystem<?> system) throws Exception;
}
