package io.proxstream.protocol.config;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * Builds a config record from its defaults, then JSON files, then {@code dotted.path=value}
 * overrides (command-line flags), in that order. Unknown keys, values of the wrong type and values
 * that fail the record's validation are reported with the key and the reason.
 */
public final class ConfigLoader {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private ConfigLoader() {
    }

    /** The shared mapper (indented output, strict input). */
    public static ObjectMapper mapper() {
        return JSON;
    }

    /**
     * Builds a config from its defaults and a JSON document of overrides (e.g. a request body);
     * {@code origin} names the document in errors.
     */
    public static <T> T loadJson(Class<T> type, T defaults, String json, String origin) {
        JsonNode doc;
        try {
            doc = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException(origin + " is not valid JSON: " + e.getMessage(), e);
        }
        if (doc == null || !doc.isObject()) {
            throw new IllegalArgumentException(origin + " is not a JSON object");
        }
        ObjectNode tree = JSON.valueToTree(defaults);
        merge(tree, (ObjectNode) doc, "", origin);
        return convert(type, tree);
    }

    public static <T> T load(Class<T> type, T defaults, Iterable<Path> files, Map<String, String> overrides) {
        ObjectNode tree = JSON.valueToTree(defaults);
        for (Path f : files) {
            JsonNode file;
            try {
                file = JSON.readTree(f.toFile());
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read config " + f + ": " + e.getMessage(), e);
            }
            if (file == null || !file.isObject()) {
                throw new IllegalArgumentException("config " + f + " is not a JSON object");
            }
            merge(tree, (ObjectNode) file, "", f.toString());
        }
        for (Map.Entry<String, String> o : overrides.entrySet()) {
            set(tree, o.getKey(), o.getValue());
        }
        return convert(type, tree);
    }

    private static <T> T convert(Class<T> type, ObjectNode tree) {
        try {
            return JSON.treeToValue(tree, type);
        } catch (ValueInstantiationException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException(c.getMessage(), c);
        } catch (UnrecognizedPropertyException e) {
            throw new IllegalArgumentException("unknown config key '" + path(e) + "'", e);
        } catch (InvalidFormatException e) {
            throw new IllegalArgumentException("invalid value '" + e.getValue() + "' for " + path(e)
                    + " (expected " + e.getTargetType().getSimpleName() + ")", e);
        } catch (MismatchedInputException e) {
            throw new IllegalArgumentException("invalid value for " + path(e) + ": " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("invalid config: " + e.getMessage(), e);
        }
    }

    private static String path(MismatchedInputException e) {
        StringBuilder sb = new StringBuilder();
        for (var ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                sb.append(sb.length() == 0 ? "" : ".").append(ref.getFieldName());
            }
        }
        return sb.toString();
    }

    private static void merge(ObjectNode into, ObjectNode from, String prefix, String origin) {
        for (Iterator<Map.Entry<String, JsonNode>> it = from.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = prefix + e.getKey();
            JsonNode existing = into.get(e.getKey());
            if (existing == null) {
                throw new IllegalArgumentException("unknown config key '" + key + "' in " + origin);
            }
            if (existing.isObject() && e.getValue().isObject()) {
                merge((ObjectNode) existing, (ObjectNode) e.getValue(), key + ".", origin);
            } else {
                into.set(e.getKey(), e.getValue());
            }
        }
    }

    private static void set(ObjectNode tree, String dotted, String value) {
        String[] parts = dotted.split("\\.");
        ObjectNode node = tree;
        for (int i = 0; i < parts.length - 1; i++) {
            JsonNode child = node.get(parts[i]);
            if (child == null || !child.isObject()) {
                throw new IllegalArgumentException("unknown config key '" + dotted + "'");
            }
            node = (ObjectNode) child;
        }
        String leaf = parts[parts.length - 1];
        JsonNode existing = node.get(leaf);
        if (existing == null || existing.isObject()) {
            throw new IllegalArgumentException("unknown config key '" + dotted + "'");
        }
        if (existing.isBoolean()) {
            if (!value.equals("true") && !value.equals("false")) {
                throw new IllegalArgumentException("invalid value '" + value + "' for " + dotted + " (expected true or false)");
            }
            node.put(leaf, Boolean.parseBoolean(value));
        } else if (existing.isIntegralNumber()) {
            try {
                node.put(leaf, Long.parseLong(value.replace("_", "")));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("invalid value '" + value + "' for " + dotted + " (expected an integer)");
            }
        } else if (existing.isNumber()) {
            try {
                node.put(leaf, Double.parseDouble(value));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("invalid value '" + value + "' for " + dotted + " (expected a number)");
            }
        } else {
            node.put(leaf, value);
        }
    }

    /** The record as indented JSON. */
    public static String toJson(Object config) {
        try {
            return JSON.writeValueAsString(config);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
