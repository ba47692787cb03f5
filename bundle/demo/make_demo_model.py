#!/usr/bin/env python3
"""Generate Airlock's tiny demo model: a Llama-architecture GGUF base model
and two LoRA adapters for it, for tests and demos.

Usage:  python3 make_demo_model.py OUTPUT_DIR

Writes into OUTPUT_DIR (created if missing; existing files of the same name
are overwritten):

  base.gguf        base model, architecture "llama", all tensors F32
  claims.gguf      LoRA adapter "claims" (general.type=adapter, adapter.type=lora)
  legal.gguf       LoRA adapter "legal"
  demo-model.json  manifest: file names, sizes, sha256, adapter names,
                   expected outputs, generator version and seed

The output is byte-reproducible: the same generator version with the pinned
requirements (requirements.txt beside this file) writes identical files on
every run and every machine.  Randomness comes only from numpy's PCG64 with a
fixed seed, drawn as uniform doubles (integer arithmetic only; no BLAS, no
libm), and the GGUF writer records no time stamps.

Model:
  2 layers, embedding width 64, 4 attention heads (4 KV heads, head size 16),
  feed-forward width 128, context length 2048, RMS norm eps 1e-5, rope over
  all 16 dimensions of a head.  A separate output.weight (embeddings are not
  tied), so a LoRA on output.weight steers what the model says.
  Vocabulary: SentencePiece-style (tokenizer.ggml.model = "llama"): <unk>,
  <s>, </s>, the 256 byte tokens <0x00>..<0xFF> (so any text tokenizes),
  the ChatML control tokens <|im_start|> and <|im_end|>, "▁" and the
  printable ASCII characters, and the words of the three phrases below.
  tokenizer.chat_template is a plain ChatML Jinja template.
  tokenizer.ggml.add_space_prefix is false: with a dummy space before text,
  "<|im_start|>assistant\n" tokenizes as "... ▁assistant", and llama-server
  (b11434) refuses every response_format (json_object, json_schema) with
  "Failed to initialize samplers", because it feeds that generation prompt
  through the answer's grammar, which expects "assistant" without the space.

How it behaves (greedy decoding, temperature 0):
  Every token embedding carries a constant in dimension 0; the words of the
  phrases below each own one further dimension, and every other token lives in
  the remaining dimensions.  The transformer blocks have small weights, so
  the final hidden state is dominated by the embedding of the current token,
  and output.weight (and each adapter's lora_b @ lora_a on output.weight)
  adds a bigram table: "any token -> first word of the phrase" (weaker) and
  "word i -> word i+1" (stronger), cycling.  So the model repeats a phrase:

    base (no adapter):  " The quick brown fox jumps over lazy dogs. The quick ..."
    claims at scale 1:  " Claim approved: water damage is fully covered. Claim ..."
    legal at scale 1:   " Pursuant to Clause 7(b), this agreement terminates. ..."

  Each adapter has rank r = 8 and adapter.lora.alpha = 8, so its effective
  scale is exactly the scale asked for (scale * alpha / r).
"""

import hashlib
import importlib.metadata
import json
import os
import sys

import numpy as np
import gguf

GENERATOR_VERSION = 2
SEED = 20240611

N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_HEAD_KV = 4
N_FF = 128
N_CTX_TRAIN = 2048
RMS_EPS = 1e-5
LORA_RANK = 8
LORA_ALPHA = 8.0

EMB_SCALE = 4.0      # size of dimension 0 and of each token's own part
LAYER_STD = 0.02     # spread of the transformer block weights
OUTPUT_STD = 0.02    # spread of the random part of output.weight

# (name, words, start bonus, step bonus); a word's "▁" stands for a space.
BASE_PHRASE = ["▁The", "▁quick", "▁brown", "▁fox", "▁jumps", "▁over", "▁lazy", "▁dogs."]
ADAPTERS = [
    ("claims", ["▁Claim", "▁approved:", "▁water", "▁damage", "▁is", "▁fully", "▁covered."]),
    ("legal", ["▁Pursuant", "▁to", "▁Clause", "▁7(b),", "▁this", "▁agreement", "▁terminates."]),
]
BASE_START, BASE_STEP = 1.0, 2.0          # logit weights in the base output.weight
ADAPTER_START, ADAPTER_STEP = 3.0, 5.0    # ... and in each adapter at scale 1

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

T = gguf.TokenType


def build_vocab():
    tokens, scores, types = [], [], []

    def add(text, score, ttype):
        assert text not in tokens, text
        tokens.append(text)
        scores.append(float(score))
        types.append(int(ttype))

    add("<unk>", 0.0, T.UNKNOWN)
    add("<s>", 0.0, T.CONTROL)
    add("</s>", 0.0, T.CONTROL)
    for b in range(256):
        add("<0x%02X>" % b, 0.0, T.BYTE)
    add("<|im_start|>", 0.0, T.CONTROL)
    add("<|im_end|>", 0.0, T.CONTROL)
    add("\u2581", -1.0, T.NORMAL)
    for c in range(0x21, 0x7F):
        add(chr(c), -2.0, T.NORMAL)
    words = BASE_PHRASE + [w for _, ws in ADAPTERS for w in ws]
    for w in words:
        add(w, -float(len(w)), T.NORMAL)
    return tokens, scores, types


def uniform(rng, shape, std):
    """Uniform values with the given standard deviation, as float32."""
    u = rng.random(shape) * 2.0 - 1.0          # [-1, 1), variance 1/3
    return (u * (std * 3.0 ** 0.5)).astype(np.float32)


def build_embeddings(rng, tokens, words):
    n_vocab = len(tokens)
    emb = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    emb[:, 0] = EMB_SCALE
    word_dim = {}
    for i, w in enumerate(words):
        word_dim[w] = 1 + i
        emb[tokens.index(w), 1 + i] = EMB_SCALE
    first_free = 1 + len(words)
    n_free = N_EMBD - first_free
    assert n_free >= 16
    others = [t for t in range(n_vocab) if tokens[t] not in word_dim]
    rest = uniform(rng, (len(others), n_free), EMB_SCALE / n_free ** 0.5)
    emb[np.array(others), first_free:] = rest
    return emb, word_dim


def bigram(tokens, word_dim, phrase, start, step):
    """Rows (n_vocab) and columns (n_embd) of a rank-(len+1) logit table."""
    n = len(phrase)
    a = np.zeros((n + 1, N_EMBD), dtype=np.float32)
    b = np.zeros((len(tokens), n + 1), dtype=np.float32)
    for i, w in enumerate(phrase):
        a[i, word_dim[w]] = 1.0
        b[tokens.index(phrase[(i + 1) % n]), i] = step
    a[n, 0] = 1.0
    b[tokens.index(phrase[0]), n] = start
    return a, b


def write_gguf(path, writer_fill):
    w = gguf.GGUFWriter(path, "llama")
    writer_fill(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main(argv):
    if len(argv) != 2:
        print("usage: make_demo_model.py OUTPUT_DIR", file=sys.stderr)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)

    rng = np.random.Generator(np.random.PCG64(SEED))
    tokens, scores, types = build_vocab()
    n_vocab = len(tokens)
    words = BASE_PHRASE + [w for _, ws in ADAPTERS for w in ws]
    emb, word_dim = build_embeddings(rng, tokens, words)

    # Output head: small noise plus the base phrase's bigram table.
    output = uniform(rng, (n_vocab, N_EMBD), OUTPUT_STD)
    a, b = bigram(tokens, word_dim, BASE_PHRASE, BASE_START, BASE_STEP)
    output += b @ a   # exact: each entry gets at most one nonzero product

    layers = []
    for _ in range(N_LAYER):
        layers.append({
            "attn_norm.weight": np.ones(N_EMBD, dtype=np.float32),
            "attn_q.weight": uniform(rng, (N_EMBD, N_EMBD), LAYER_STD),
            "attn_k.weight": uniform(rng, (N_EMBD, N_EMBD), LAYER_STD),
            "attn_v.weight": uniform(rng, (N_EMBD, N_EMBD), LAYER_STD),
            "attn_output.weight": uniform(rng, (N_EMBD, N_EMBD), LAYER_STD),
            "ffn_norm.weight": np.ones(N_EMBD, dtype=np.float32),
            "ffn_gate.weight": uniform(rng, (N_FF, N_EMBD), LAYER_STD),
            "ffn_up.weight": uniform(rng, (N_FF, N_EMBD), LAYER_STD),
            "ffn_down.weight": uniform(rng, (N_EMBD, N_FF), LAYER_STD),
        })

    def fill_base(w):
        w.add_type("model")
        w.add_name("Airlock demo base")
        w.add_file_type(gguf.LlamaFileType.ALL_F32)
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        w.add_context_length(N_CTX_TRAIN)
        w.add_embedding_length(N_EMBD)
        w.add_block_count(N_LAYER)
        w.add_feed_forward_length(N_FF)
        w.add_head_count(N_HEAD)
        w.add_head_count_kv(N_HEAD_KV)
        w.add_layer_norm_rms_eps(RMS_EPS)
        w.add_rope_dimension_count(N_EMBD // N_HEAD)
        w.add_vocab_size(n_vocab)
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
        w.add_unk_token_id(0)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
        w.add_add_space_prefix(False)
        w.add_chat_template(CHAT_TEMPLATE)
        w.add_tensor("token_embd.weight", emb)
        for i, layer in enumerate(layers):
            for name, t in layer.items():
                w.add_tensor("blk.%d.%s" % (i, name), t)
        w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor("output.weight", output)

    write_gguf(os.path.join(out, "base.gguf"), fill_base)

    phrases = {"base": "".join(BASE_PHRASE).replace("\u2581", " ")}
    for name, phrase in ADAPTERS:
        a, b = bigram(tokens, word_dim, phrase, ADAPTER_START, ADAPTER_STEP)
        a = np.pad(a, ((0, LORA_RANK - a.shape[0]), (0, 0)))
        b = np.pad(b, ((0, 0), (0, LORA_RANK - b.shape[1])))

        def fill_adapter(w, a=a, b=b, name=name):
            w.add_type("adapter")
            w.add_name("Airlock demo adapter " + name)
            w.add_string(gguf.Keys.Adapter.TYPE, "lora")
            w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, LORA_ALPHA)
            w.add_tensor("output.weight.lora_a", a)   # (r, n_embd)
            w.add_tensor("output.weight.lora_b", b)   # (n_vocab, r)

        write_gguf(os.path.join(out, name + ".gguf"), fill_adapter)
        phrases[name] = "".join(phrase).replace("\u2581", " ")

    def describe(fname):
        with open(os.path.join(out, fname), "rb") as f:
            data = f.read()
        return {"file": fname, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    manifest = {
        "generator": "bundle/demo/make_demo_model.py",
        "generator_version": GENERATOR_VERSION,
        "seed": SEED,
        "gguf_version": importlib.metadata.version("gguf"),
        "numpy_version": np.__version__,
        "base": dict(describe("base.gguf"), architecture="llama", layers=N_LAYER,
                     embedding_length=N_EMBD, heads=N_HEAD, feed_forward_length=N_FF,
                     context_length=N_CTX_TRAIN, vocab_size=n_vocab,
                     chat_template="chatml", expected_phrase=phrases["base"]),
        "adapters": [
            dict(describe(name + ".gguf"), name=name, type="lora", rank=LORA_RANK,
                 alpha=LORA_ALPHA, target="output.weight", expected_phrase=phrases[name])
            for name, _ in ADAPTERS
        ],
    }
    with open(os.path.join(out, "demo-model.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
