package io.proxstream.protocol.format;

import java.io.IOException;
import java.nio.file.Path;

/** A file or message that does not follow its format; the message names the input and the reason. */
public final class FormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public FormatException(String message) {
        super(message);
    }

    public FormatException(Path file, String reason) {
        super(file + ": " + reason);
    }

    /** For inputs that are not files (a request body, a frame): {@code name} says which. */
    public FormatException(String name, String reason) {
        super(name + ": " + reason);
    }
}
