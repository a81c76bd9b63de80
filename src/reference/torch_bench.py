"""The PyTorch side of `ablate bench --against pytorch`: one strategy measured in this process.

ablate writes a plan (model, trainable names, LoRA, shapes, AdamW settings, threads, device) and
runs this script as a child beside its own measurements (A B, then B A). It builds the same model
(the same GGUF or folder weights, or the same config with random weights), freezes what ablate
freezes, then runs what `ablate bench --one` runs: one untimed warm-up step and `steps` timed
steps on random ids, each forward + backward + clip_grad_norm_ + AdamW, as ablate's loop does.
Prints one JSON line in the shape of ablate's bench sample.

    python src/reference/torch_bench.py PLAN.json
"""

import json
import os
import pathlib
import re
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from torch_grid import RSS_METHOD, load_model, prepare_training, status_kib  # noqa: E402


def build(plan, torch):
    from transformers import AutoConfig, AutoModelForCausalLM

    if plan["model_kind"] != "random":
        return load_model(plan)
    p = pathlib.Path(plan["model_location"])
    if p.suffix == ".gguf":
        cfg = AutoConfig.from_pretrained(p.parent, gguf_file=p.name)
    else:
        cfg = AutoConfig.from_pretrained(p)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(cfg).float(), f"random weights in the shapes of {p}"


def blas(torch):
    """torch's CPU matrix backend as its build reports it (the bench's `gemm` column)."""
    config = torch.__config__.show()
    library = next((line.strip(" -") for line in config.splitlines()
                    if "Math Kernel Library" in line or "OpenBLAS" in line), None)
    if library is None:
        found = re.search(r"BLAS_INFO=(\w+)", config)
        library = f"BLAS_INFO={found.group(1)}" if found else "unknown BLAS"
    return f"torch {torch.__version__} CPU backend ({library}; {torch.backends.cpu.get_cpu_capability()})"


def main() -> int:
    plan = json.loads(pathlib.Path(sys.argv[1]).read_text())
    import torch
    import transformers

    versions = f"torch {torch.__version__} / transformers {transformers.__version__}"

    torch.set_num_threads(plan["threads"])
    device = plan["device"]
    s = plan["settings"]
    model, _ = build(plan, torch)
    model.to(device)
    model.eval()  # no dropout, as in ablate
    # transformers' default attention kernel (SDPA where available): PyTorch at its best.
    versions += f" / attention {getattr(model.config, '_attn_implementation', 'default')}"
    model, params, opt = prepare_training(model, plan)
    if plan["lora"]:
        import peft

        versions += f" / peft {peft.__version__}"
    total = sum(p.numel() for p in model.parameters())
    n_trainable = sum(p.numel() for p in params)
    g = torch.Generator().manual_seed(0)
    batch, seq, steps = plan["batch_size"], plan["seq_len"], plan["steps"]
    vocab = model.get_input_embeddings().weight.shape[0]
    blocks = [torch.randint(0, vocab, (batch, seq), generator=g) for _ in range(steps + 1)]

    cuda = device.startswith("cuda")
    pathlib.Path("/proc/self/clear_refs").write_text("5")
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    timed = []
    if plan.get("mode", "train") == "eval":  # forward-only: the loss under no_grad, as evaluation runs
        with torch.no_grad():
            for i, ids in enumerate(blocks):
                t0 = time.perf_counter()
                model(input_ids=ids.to(device), labels=ids.to(device)).loss.item()
                if cuda:
                    torch.cuda.synchronize(device)
                if i > 0:
                    timed.append(time.perf_counter() - t0)
    for i, ids in enumerate(blocks if plan.get("mode", "train") == "train" else []):
        t0 = time.perf_counter()
        ids = ids.to(device)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        clip = s["grad_clip"] if s["grad_clip"] > 0 else float("inf")
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        if cuda:
            torch.cuda.synchronize(device)
        if i > 0:  # the first step is the warm-up
            timed.append(time.perf_counter() - t0)
    rss = status_kib("VmHWM:")
    if cuda:
        peak = torch.cuda.max_memory_allocated(device)
        method = (f"torch.cuda.max_memory_allocated over the bench steps "
                  f"(max reserved {torch.cuda.max_memory_reserved(device)} bytes)")
    else:
        peak, method = rss, f"peak RSS: {RSS_METHOD} (torch keeps no CPU allocator statistics)"
    print(json.dumps(dict(
        strategy=plan["strategy"], params_total=total, params_trainable=n_trainable,
        trainable_pct=100.0 * n_trainable / total,
        tokens_per_s=len(timed) * batch * seq / sum(timed),
        peak_mem_bytes=peak, peak_mem_method=method, peak_rss_bytes=rss,
        framework="pytorch",
        framework_version=versions,
        threads=torch.get_num_threads(),
        gemm=blas(torch),
    )))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
