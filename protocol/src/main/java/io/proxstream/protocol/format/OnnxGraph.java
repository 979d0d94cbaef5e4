package io.proxstream.protocol.format;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Just enough of the ONNX protobuf encoding to expose a model's internal tensors: list the tensors
 * the graph's nodes produce, and add graph outputs for some of them (so that ONNX Runtime returns,
 * say, the residual stream after each transformer block). Works on the raw bytes at the protobuf
 * wire level (ModelProto field 7 = graph; GraphProto field 1 = node, 11 = input, 12 = output;
 * NodeProto field 2 = output names; ValueInfoProto field 1 = name, 2 = type); every other field is
 * copied through untouched, so nothing else of the model changes.
 */
public final class OnnxGraph {
    private static final int MODEL_GRAPH = 7;
    private static final int GRAPH_NODE = 1;
    private static final int GRAPH_OUTPUT = 12;
    private static final int NODE_OUTPUT = 2;
    private static final int VALUE_INFO_NAME = 1;
    /** TensorProto.DataType.FLOAT. */
    private static final int ELEM_FLOAT = 1;

    private OnnxGraph() {
    }

    /** One field of a message: number, wire type, and the value's byte range (payload only for length-delimited). */
    private record Field(int number, int wireType, int start, int end, int valueStart) {
    }

    /** Tensor names the nodes produce, in graph order. */
    public static List<String> nodeOutputs(byte[] model) throws FormatException {
        Field graph = graphField(model);
        List<String> out = new ArrayList<>();
        for (Field f : fields(model, graph.valueStart(), graph.end(), "graph")) {
            if (f.number() == GRAPH_NODE && f.wireType() == 2) {
                for (Field g : fields(model, f.valueStart(), f.end(), "node")) {
                    if (g.number() == NODE_OUTPUT && g.wireType() == 2) {
                        out.add(new String(model, g.valueStart(), g.end() - g.valueStart(), java.nio.charset.StandardCharsets.UTF_8));
                    }
                }
            }
        }
        return out;
    }

    /** Names of the graph's outputs. */
    public static List<String> graphOutputs(byte[] model) throws FormatException {
        Field graph = graphField(model);
        List<String> out = new ArrayList<>();
        for (Field f : fields(model, graph.valueStart(), graph.end(), "graph")) {
            if (f.number() == GRAPH_OUTPUT && f.wireType() == 2) {
                for (Field g : fields(model, f.valueStart(), f.end(), "value info")) {
                    if (g.number() == VALUE_INFO_NAME && g.wireType() == 2) {
                        out.add(new String(model, g.valueStart(), g.end() - g.valueStart(), java.nio.charset.StandardCharsets.UTF_8));
                    }
                }
            }
        }
        return out;
    }

    /**
     * The model with {@code names} added as float graph outputs (names already outputs are skipped).
     *
     * @throws FormatException if a name is not produced by any node, or the bytes are not a model
     */
    public static byte[] withOutputs(byte[] model, List<String> names) throws FormatException {
        Set<String> produced = new LinkedHashSet<>(nodeOutputs(model));
        List<String> existing = graphOutputs(model);
        ByteArrayOutputStream extra = new ByteArrayOutputStream();
        for (String name : names) {
            if (!produced.contains(name)) {
                throw new FormatException("onnx model", "no node produces a tensor named '" + name + "'");
            }
            if (existing.contains(name)) {
                continue;
            }
            byte[] nameBytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            // ValueInfoProto { name = 1; type = 2: TypeProto { tensor_type = 1: Tensor { elem_type = 1: FLOAT } } }
            ByteArrayOutputStream vi = new ByteArrayOutputStream();
            writeLengthDelimited(vi, VALUE_INFO_NAME, nameBytes);
            writeLengthDelimited(vi, 2, lengthDelimited(1, new byte[] {(byte) (1 << 3), ELEM_FLOAT}));
            writeLengthDelimited(extra, GRAPH_OUTPUT, vi.toByteArray());
        }
        Field graph = graphField(model);
        ByteArrayOutputStream g = new ByteArrayOutputStream();
        g.write(model, graph.valueStart(), graph.end() - graph.valueStart());
        g.writeBytes(extra.toByteArray());
        ByteArrayOutputStream out = new ByteArrayOutputStream(model.length + extra.size() + 16);
        out.write(model, 0, graph.start());
        writeLengthDelimited(out, MODEL_GRAPH, g.toByteArray());
        out.write(model, graph.end(), model.length - graph.end());
        return out.toByteArray();
    }

    private static Field graphField(byte[] model) throws FormatException {
        for (Field f : fields(model, 0, model.length, "model")) {
            if (f.number() == MODEL_GRAPH && f.wireType() == 2) {
                return f;
            }
        }
        throw new FormatException("onnx model", "no graph (field 7) in " + model.length + " bytes: not an ONNX model");
    }

    private static List<Field> fields(byte[] b, int from, int to, String what) throws FormatException {
        List<Field> out = new ArrayList<>();
        int[] pos = {from};
        while (pos[0] < to) {
            int start = pos[0];
            long tag = varint(b, pos, to, what);
            int number = (int) (tag >>> 3);
            int wire = (int) (tag & 7);
            int valueStart;
            switch (wire) {
                case 0 -> {
                    varint(b, pos, to, what);
                    valueStart = start;
                }
                case 1 -> {
                    valueStart = pos[0];
                    pos[0] += 8;
                }
                case 2 -> {
                    long len = varint(b, pos, to, what);
                    valueStart = pos[0];
                    if (len < 0 || pos[0] + len > to) {
                        throw new FormatException("onnx model", what + ": field " + number + " runs past its message (truncated?)");
                    }
                    pos[0] += (int) len;
                }
                case 5 -> {
                    valueStart = pos[0];
                    pos[0] += 4;
                }
                default -> throw new FormatException("onnx model", what + ": unsupported wire type " + wire + " at byte " + start);
            }
            if (number == 0 || pos[0] > to) {
                throw new FormatException("onnx model", what + ": malformed field at byte " + start);
            }
            out.add(new Field(number, wire, start, pos[0], valueStart));
        }
        return out;
    }

    private static long varint(byte[] b, int[] pos, int to, String what) throws FormatException {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos[0] >= to) {
                throw new FormatException("onnx model", what + ": truncated varint");
            }
            int c = b[pos[0]++] & 0xff;
            v |= (long) (c & 0x7f) << shift;
            if ((c & 0x80) == 0) {
                return v;
            }
        }
        throw new FormatException("onnx model", what + ": varint too long");
    }

    private static byte[] lengthDelimited(int number, byte[] payload) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        writeLengthDelimited(o, number, payload);
        return o.toByteArray();
    }

    private static void writeLengthDelimited(ByteArrayOutputStream o, int number, byte[] payload) {
        writeVarint(o, ((long) number << 3) | 2);
        writeVarint(o, payload.length);
        o.writeBytes(payload);
    }

    private static void writeVarint(ByteArrayOutputStream o, long v) {
        while ((v & ~0x7fL) != 0) {
            o.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        o.write((int) v);
    }
}
