package io.proxstream.actors.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.proxstream.protocol.config.ConfigLoader;
import io.proxstream.protocol.config.SaeConfig;
import io.proxstream.protocol.config.TrainerConfig;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * What the commands share on picocli: options that set a key of a config record (their defaults read
 * from the record's {@code defaults()}, so each default is written once, in the record), the
 * {@code --config FILE} and {@code --set KEY=VALUE} options, and closed value sets that completion offers
 * and parsing checks.
 */
final class Cli {
    private Cli() {
    }

    /**
     * Marks an option that sets config key {@code value} (dotted, e.g. {@code trainer.solveEvery}); its default is
     * the key's default. With {@code direct = false} the command maps the option's value onto keys itself.
     */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.FIELD)
    @interface ConfigKey {
        String value();

        boolean direct() default true;
    }

    /** The config key an option sets, or null. */
    static ConfigKey key(ArgSpec a) {
        return a.userObject() instanceof Field f ? f.getAnnotation(ConfigKey.class) : null;
    }

    /**
     * Defaults of the options with a {@link ConfigKey}, read from a config record's defaults: the help
     * shows them as {@code ${DEFAULT-VALUE}}. Other options keep their annotation's {@code defaultValue}.
     */
    static final class RecordDefaults implements CommandLine.IDefaultValueProvider {
        private final JsonNode tree;

        RecordDefaults(Object defaults) {
            this.tree = ConfigLoader.mapper().valueToTree(defaults);
        }

        @Override
        public String defaultValue(ArgSpec arg) {
            ConfigKey k = key(arg);
            if (k == null) {
                return null;
            }
            JsonNode n = tree;
            for (String part : k.value().split("\\.")) {
                n = n == null ? null : n.get(part);
            }
            if (n == null || n.isNull() || n.isContainerNode()) {
                throw new IllegalStateException("option " + arg + " names config key " + k.value() + ", which the defaults lack");
            }
            return n.asText();
        }
    }

    /** {@code --config FILE} and {@code --set KEY=VALUE}, shared by the commands that load a config record. */
    static final class ConfigOptions {
        @Option(names = "--config", paramLabel = "FILE", description = "the command's configuration as JSON (train: e.g. a run's"
                + " config.json; serve: a ServeConfig); options given override it (repeatable: later files win)")
        List<Path> files = new ArrayList<>();

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "set any key of the configuration, e.g. train:"
                + " --set trainer.beta2=0.99, serve: --set maxBatchBytes=1048576 (repeatable)")
        List<String> sets = new ArrayList<>();
    }

    /**
     * The config overrides given on the command line: the value of every option with a {@link ConfigKey}
     * that was given (as typed, so the config loader parses it once more with the record's own checks),
     * then the {@code --set} pairs.
     */
    static Map<String, String> overrides(CommandSpec spec, List<String> sets) {
        Map<String, String> out = new LinkedHashMap<>();
        CommandLine.ParseResult pr = spec.commandLine().getParseResult();
        for (OptionSpec o : pr.matchedOptions()) {
            ConfigKey k = key(o);
            if (k != null && k.direct()) {
                List<String> v = o.originalStringValues();
                out.put(k.value(), v.get(v.size() - 1));
            }
        }
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--set needs KEY=VALUE, got '" + s + "'");
            }
            out.put(s.substring(0, eq), s.substring(eq + 1));
        }
        return out;
    }

    /** A closed set of values: the completion candidates of an option, and its converter that names them on a mismatch. */
    abstract static class OneOf implements Iterable<String>, CommandLine.ITypeConverter<String> {
        private final List<String> values;

        OneOf(List<String> values) {
            this.values = values;
        }

        @Override
        public Iterator<String> iterator() {
            return values.iterator();
        }

        @Override
        public String convert(String value) {
            if (!values.contains(value)) {
                throw new CommandLine.TypeConversionException("expected one of " + String.join(", ", values) + " but was '" + value + "'");
            }
            return value;
        }
    }

    static final class Algorithms extends OneOf {
        Algorithms() {
            super(TrainerConfig.ALGORITHMS);
        }
    }

    static final class Orders extends OneOf {
        Orders() {
            super(TrainerConfig.ORDERS);
        }
    }

    static final class Sparsifiers extends OneOf {
        Sparsifiers() {
            super(SaeConfig.SPARSIFIERS);
        }
    }

    static final class Inits extends OneOf {
        Inits() {
            super(SaeConfig.INITS);
        }
    }

    /** A usage error found while a command runs: printed with a hint to {@code --help}, exit code 2. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }
}
