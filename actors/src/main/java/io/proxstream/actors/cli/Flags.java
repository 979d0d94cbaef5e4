package io.proxstream.actors.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Command-line flags of one command: {@code --name value}, {@code --name=value}, or {@code --name}
 * alone for switches. Unknown flags and missing values are errors that name the flag and list the
 * valid ones.
 */
public final class Flags {

    /** A flag: its name (without dashes), whether it takes a value, its value's placeholder and help. */
    public record Spec(String name, boolean takesValue, String placeholder, String help) {
    }

    private final String command;
    private final Map<String, Spec> specs = new LinkedHashMap<>();

    public Flags(String command) {
        this.command = command;
        add(new Spec("help", false, "", "show this help"));
    }

    public Flags add(Spec s) {
        specs.put(s.name(), s);
        return this;
    }

    public Flags value(String name, String placeholder, String help) {
        return add(new Spec(name, true, placeholder, help));
    }

    public Flags option(String name, String help) {
        return add(new Spec(name, false, "", help));
    }

    /** Parsed flags (in order; a repeated flag keeps every value) and positional arguments. */
    public record Parsed(List<Map.Entry<String, String>> flags, List<String> positionals) {
        public boolean has(String name) {
            return flags.stream().anyMatch(e -> e.getKey().equals(name));
        }

        public String get(String name, String fallback) {
            String v = fallback;
            for (Map.Entry<String, String> e : flags) {
                if (e.getKey().equals(name)) {
                    v = e.getValue();
                }
            }
            return v;
        }

        public List<String> all(String name) {
            return flags.stream().filter(e -> e.getKey().equals(name)).map(Map.Entry::getValue).toList();
        }
    }

    public Parsed parse(List<String> args) {
        List<Map.Entry<String, String>> out = new ArrayList<>();
        List<String> pos = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.startsWith("--") || a.equals("--")) {
                pos.add(a);
                continue;
            }
            String body = a.substring(2);
            String name = body;
            String value = null;
            int eq = body.indexOf('=');
            if (eq >= 0) {
                name = body.substring(0, eq);
                value = body.substring(eq + 1);
            }
            Spec s = specs.get(name);
            if (s == null) {
                throw new UsageException("unknown option --" + name + " for '" + command + "'; valid options: "
                        + String.join(", ", specs.keySet().stream().map(k -> "--" + k).toList()));
            }
            if (s.takesValue()) {
                if (value == null) {
                    if (i + 1 >= args.size() || args.get(i + 1).startsWith("--")) {
                        throw new UsageException("option --" + name + " needs a value (" + s.placeholder() + ")");
                    }
                    value = args.get(++i);
                }
            } else if (value != null) {
                throw new UsageException("option --" + name + " takes no value");
            } else {
                value = "true";
            }
            out.add(Map.entry(name, value));
        }
        return new Parsed(out, pos);
    }

    /** The help text: usage line, description and the flag table. */
    public String help(String usage, String description) {
        StringBuilder sb = new StringBuilder();
        sb.append("usage: ").append(usage).append("\n\n").append(description).append("\n\noptions:\n");
        int w = 0;
        for (Spec s : specs.values()) {
            w = Math.max(w, label(s).length());
        }
        for (Spec s : specs.values()) {
            sb.append(String.format(Locale.ROOT, "  %-" + w + "s  %s%n", label(s), s.help()));
        }
        return sb.toString();
    }

    private static String label(Spec s) {
        return "--" + s.name() + (s.takesValue() ? " " + s.placeholder() : "");
    }

    /** A usage error: printed with a hint to {@code --help}, exit code 2. */
    public static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public UsageException(String message) {
            super(message);
        }
    }
}
