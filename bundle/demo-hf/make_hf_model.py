#!/usr/bin/env python3
"""Generate Airlock's tiny Hugging Face demo model: a random-weight Llama
folder (as transformers and vLLM load it) and two PEFT LoRA adapters for it.

Usage:  python3 make_hf_model.py OUTPUT_DIR [--single]

Writes into OUTPUT_DIR (created if missing; files of the same name are
overwritten):

  base/config.json                     LlamaForCausalLM, float32
  base/generation_config.json
  base/tokenizer.json                  byte-level BPE trained here with `tokenizers`
  base/tokenizer_config.json           special tokens and a Llama-3 style chat_template
  base/special_tokens_map.json
  base/model-00001-of-00002.safetensors, base/model-00002-of-00002.safetensors
  base/model.safetensors.index.json    weight_map (with --single: base/model.safetensors)
  adapters/claims/adapter_config.json, adapters/claims/adapter_model.safetensors
  adapters/legal/adapter_config.json,  adapters/legal/adapter_model.safetensors
  hf-model.json                        what was written: sizes, ranks, sha256 of every file

Byte-reproducible: with the pinned requirements (requirements.txt beside this
file) every run writes identical bytes. Randomness is numpy's PCG64 with fixed
seeds drawn as uniform doubles, scaled and rounded to float32 (no libm, no
BLAS); JSON is written with sorted keys; safetensors and tokenizers' JSON
carry no time stamps.

Model: 2 layers, hidden 128, 4 attention heads of 32, 2 KV heads (grouped-query
attention as in real Llamas), MLP 256, vocabulary 512, context 2048, separate
(untied) lm_head. Adapters: rank 8, lora_alpha 16 (scale 2); "claims" targets
q_proj and v_proj, "legal" q_proj, v_proj and o_proj; B is non-zero (a trained
adapter's is), so each adapter's greedy answer differs from the base model's
and from the other adapter's.
"""

import hashlib
import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

GENERATOR_VERSION = 1

HIDDEN = 128
LAYERS = 2
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS
INTERMEDIATE = 256
VOCAB = 512
CONTEXT = 2048
RANK = 8
ALPHA = 16

SPECIAL = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]
BOS, EOS_TEXT, _, _, EOT = SPECIAL

CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] | trim }}"
    "{%- else %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'text' %}{{- part['text'] | trim }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)

# Fixed training text for the tokenizer: claims, legal and everyday English.
CORPUS = """\
The quick brown fox jumps over the lazy dog. The policy holder reported water damage in the
kitchen after a pipe burst on Monday. Claim approved: water damage is fully covered under
section 4 of the home insurance policy. Claim denied: the damage was caused by wear and tear,
which the policy excludes. Please send photos, the repair estimate and the police report.
Pursuant to Clause 7(b), this agreement terminates thirty days after written notice. The
parties agree that the laws of the state govern this contract. Any dispute shall be settled
by arbitration. The tenant shall pay the rent on the first day of each month. Hello! How can
I help you today? What is the status of my claim? Your claim number is 12345 and it is being
reviewed by an adjuster. We will contact you within five business days. Thank you for your
patience. The court held that the contract was void. The insurer must act in good faith.
System: you are a helpful assistant. User: summarise the claim. Assistant: the claim covers
storm damage to the roof, a broken window and a flooded basement; the deductible is 500.
{"name": "claim", "status": "approved", "amount": 1200, "reasons": ["covered", "documented"]}
"""


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def uniform(rng, shape, scale):
    """float32 array uniform in [-scale, scale): exact double arithmetic, one rounding."""
    return ((rng.random(shape, dtype=np.float64) * 2.0 - 1.0) * scale).astype(np.float32)


def make_tokenizer():
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        min_frequency=1,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([line for line in CORPUS.splitlines() if line], trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    if tok.get_vocab_size() > VOCAB:
        raise SystemExit(f"tokenizer has {tok.get_vocab_size()} tokens, more than {VOCAB}")
    return tok


def base_weights(seed):
    rng = np.random.Generator(np.random.PCG64(seed))
    w = {}
    w["model.embed_tokens.weight"] = uniform(rng, (VOCAB, HIDDEN), 1.0)
    for n in range(LAYERS):
        p = f"model.layers.{n}."
        w[p + "input_layernorm.weight"] = np.ones(HIDDEN, dtype=np.float32)
        w[p + "post_attention_layernorm.weight"] = np.ones(HIDDEN, dtype=np.float32)
        a = (3.0 / HIDDEN) ** 0.5
        w[p + "self_attn.q_proj.weight"] = uniform(rng, (HEADS * HEAD_DIM, HIDDEN), a)
        w[p + "self_attn.k_proj.weight"] = uniform(rng, (KV_HEADS * HEAD_DIM, HIDDEN), a)
        w[p + "self_attn.v_proj.weight"] = uniform(rng, (KV_HEADS * HEAD_DIM, HIDDEN), a)
        w[p + "self_attn.o_proj.weight"] = uniform(rng, (HIDDEN, HEADS * HEAD_DIM), a)
        w[p + "mlp.gate_proj.weight"] = uniform(rng, (INTERMEDIATE, HIDDEN), a)
        w[p + "mlp.up_proj.weight"] = uniform(rng, (INTERMEDIATE, HIDDEN), a)
        w[p + "mlp.down_proj.weight"] = uniform(rng, (HIDDEN, INTERMEDIATE), (3.0 / INTERMEDIATE) ** 0.5)
    w["model.norm.weight"] = np.ones(HIDDEN, dtype=np.float32)
    w["lm_head.weight"] = uniform(rng, (VOCAB, HIDDEN), (3.0 / HIDDEN) ** 0.5)
    return w


PROJ_SHAPES = {  # (out, in)
    "q_proj": (HEADS * HEAD_DIM, HIDDEN),
    "k_proj": (KV_HEADS * HEAD_DIM, HIDDEN),
    "v_proj": (KV_HEADS * HEAD_DIM, HIDDEN),
    "o_proj": (HIDDEN, HEADS * HEAD_DIM),
}


def adapter_weights(seed, targets):
    rng = np.random.Generator(np.random.PCG64(seed))
    w = {}
    for n in range(LAYERS):
        for t in targets:
            out_dim, in_dim = PROJ_SHAPES[t]
            p = f"base_model.model.model.layers.{n}.self_attn.{t}."
            w[p + "lora_A.weight"] = uniform(rng, (RANK, in_dim), (3.0 / in_dim) ** 0.5)
            w[p + "lora_B.weight"] = uniform(rng, (out_dim, RANK), 0.5)
    return w


def write_base(out, tok, single):
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in SPECIAL}
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "max_position_embeddings": CONTEXT,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "vocab_size": VOCAB,
        "bos_token_id": ids[BOS],
        "eos_token_id": [ids[EOS_TEXT], ids[EOT]],
        "initializer_range": 0.02,
        "torch_dtype": "float32",
        "use_cache": True,
        "transformers_version": "4.57.0",
    }
    write_json(os.path.join(out, "config.json"), config)
    write_json(os.path.join(out, "generation_config.json"), {
        "bos_token_id": ids[BOS],
        "eos_token_id": [ids[EOS_TEXT], ids[EOT]],
        "do_sample": False,
        "transformers_version": "4.57.0",
    })
    write_json(os.path.join(out, "special_tokens_map.json"), {
        "bos_token": BOS, "eos_token": EOT, "pad_token": EOS_TEXT,
    })
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOT,
        "pad_token": EOS_TEXT,
        "add_bos_token": True,
        "clean_up_tokenization_spaces": False,
        "model_max_length": CONTEXT,
        "model_input_names": ["input_ids", "attention_mask"],
        "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": {
            str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True}
            for t, i in ids.items()
        },
    })
    weights = base_weights(seed=20261207)
    names = list(weights)  # insertion order: embeddings, layer 0, layer 1, norm, lm_head
    meta = {"format": "pt"}
    if single:
        save_file(weights, os.path.join(out, "model.safetensors"), metadata=meta)
    else:
        half = names.index(f"model.layers.{LAYERS // 2}.input_layernorm.weight")
        shards = [names[:half], names[half:]]
        weight_map = {}
        for i, part in enumerate(shards, 1):
            fname = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            save_file({k: weights[k] for k in part}, os.path.join(out, fname), metadata=meta)
            weight_map.update({k: fname for k in part})
        total = sum(int(a.nbytes) for a in weights.values())
        write_json(os.path.join(out, "model.safetensors.index.json"),
                   {"metadata": {"total_size": total}, "weight_map": weight_map})
    return sum(int(a.size) for a in weights.values())


def write_adapter(out, seed, targets):
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "adapter_config.json"), {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": RANK,
        "lora_alpha": ALPHA,
        "lora_dropout": 0.0,
        "target_modules": targets,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "modules_to_save": None,
        "use_rslora": False,
        "use_dora": False,
        "base_model_name_or_path": "airlock-tiny-llama",
        "revision": None,
    })
    weights = adapter_weights(seed, targets)
    save_file(weights, os.path.join(out, "adapter_model.safetensors"), metadata={"format": "pt"})
    return sum(int(a.size) for a in weights.values())


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    flags = [a for a in argv if a.startswith("--")]
    if len(args) != 1 or any(f != "--single" for f in flags):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    out = args[0]
    single = "--single" in flags
    os.makedirs(out, exist_ok=True)
    tok = make_tokenizer()
    params = write_base(os.path.join(out, "base"), tok, single)
    adapters = {
        "claims": {"seed": 101, "targets": ["q_proj", "v_proj"]},
        "legal": {"seed": 202, "targets": ["q_proj", "v_proj", "o_proj"]},
    }
    adapter_info = {}
    for name, spec in adapters.items():
        n = write_adapter(os.path.join(out, "adapters", name), spec["seed"], spec["targets"])
        adapter_info[name] = {"path": f"adapters/{name}", "peft_type": "LORA", "r": RANK,
                              "lora_alpha": ALPHA, "target_modules": spec["targets"],
                              "parameters": n, "seed": spec["seed"]}
    files = {}
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, out).replace(os.sep, "/")
            if rel == "hf-model.json" or rel.startswith("."):
                continue
            files[rel] = {"bytes": os.path.getsize(full), "sha256": sha256_file(full)}
    write_json(os.path.join(out, "hf-model.json"), {
        "generator": "bundle/demo-hf/make_hf_model.py",
        "generator_version": GENERATOR_VERSION,
        "base": {
            "path": "base", "format": "hf", "architecture": "LlamaForCausalLM", "dtype": "float32",
            "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE, "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM,
            "vocab_size": VOCAB, "tokenizer_vocab_size": tok.get_vocab_size(),
            "max_position_embeddings": CONTEXT, "parameters": params,
            "shards": 1 if single else 2, "chat_template": "llama-3",
            "special_tokens": {t: tok.token_to_id(t) for t in SPECIAL},
        },
        "adapters": adapter_info,
        "files": files,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
