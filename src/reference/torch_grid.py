"""The reference backend: a grid's runs through PyTorch + transformers + PEFT.

`ablate run GRID --framework pytorch` exports one plan per run (weights location, trainable
parameter names, the exact token blocks per step, eval blocks, settings) and calls this script,
which writes rows in the same Parquet schema with framework = "pytorch". Each run is a child
process, so its peak RSS is its own.

    pip install -r src/reference/requirements.txt
    python src/reference/torch_grid.py --plans results/paper/.plans --results results/paper

ABLATE_TORCH_DEVICE=cuda runs on the GPU and records torch.cuda.max_memory_allocated as peak memory.
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import time

RSS_METHOD = "VmHWM from /proc/self/status, reset via /proc/self/clear_refs"


def write_table(rows, columns, path: pathlib.Path, required=None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"str": pa.large_string(), "int": pa.int64(), "float": pa.float64()}
    # A column the schema requires gets its type's default where a failed run left it unset, as
    # ablate's own failed rows do.
    default = {"str": "", "int": 0, "float": 0.0}
    need = set(required or [])
    arrays = [
        pa.array([default[t] if c in need and r.get(c) is None else r.get(c) for r in rows], type=types[t])
        for c, t in columns
    ]
    table = pa.table(arrays, names=[c for c, _ in columns])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".parquet.tmp-{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def status_kib(field: str):
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return None


def load_model(plan: dict):
    import torch
    from transformers import AutoModelForCausalLM

    kind, loc = plan["model_kind"], plan["model_location"]
    if kind == "gguf":
        p = pathlib.Path(loc)
        model = AutoModelForCausalLM.from_pretrained(p.parent, gguf_file=p.name, dtype=torch.float32)
        source = f"GGUF {loc} dequantized by transformers"
    else:
        model = AutoModelForCausalLM.from_pretrained(loc, dtype=torch.float32)
        source = f"{'Hugging Face folder' if kind == 'hf' else 'hub'} {loc} (transformers)"
    return model, source


def load_tokenizer(plan: dict):
    from transformers import AutoTokenizer

    kind, loc = plan["model_kind"], plan["model_location"]
    if kind == "gguf":
        p = pathlib.Path(loc)
        return AutoTokenizer.from_pretrained(p.parent, gguf_file=p.name)
    return AutoTokenizer.from_pretrained(loc)


DEVICE = os.environ.get("ABLATE_TORCH_DEVICE", "cpu")


def prepare_training(model, plan):
    """Freeze what ablate freezes, add PEFT's LoRA where the plan says, and build AdamW with
    ablate's groups (no weight decay on 1-D tensors). Returns (model, trainable params, optimizer;
    None when nothing trains)."""
    import torch

    s = plan["settings"]
    trainable = set(plan["trainable"])
    for name, p in model.named_parameters():
        p.requires_grad = name in trainable
    if plan["lora"]:
        import peft  # only LoRA needs it (a GPU machine may lack it)

        lo = plan["lora"]
        cfg = peft.LoraConfig(r=lo["rank"], lora_alpha=lo["alpha"], lora_dropout=lo["dropout"],
                              target_modules=lo["targets"], bias="none")
        model = peft.get_peft_model(model, cfg)
        model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    plain = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s["weight_decay"]}, {"params": plain, "weight_decay": 0.0}],
        lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"],
    ) if params else None
    return model, params, opt


def perplexity(model, blocks, batch):
    import torch

    nll, count, t0 = 0.0, 0, time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(blocks), batch):
            ids = torch.tensor(blocks[i:i + batch], dtype=torch.long, device=DEVICE)
            k = ids.shape[0] * (ids.shape[1] - 1)
            nll += model(input_ids=ids, labels=ids).loss.item() * k
            count += k
    seconds = time.perf_counter() - t0
    return math.exp(nll / count), sum(len(b) for b in blocks) / seconds, seconds


def greedy(model, tokenizer, prompt_ids, n):
    import torch

    if not prompt_ids or n == 0:
        return None
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=DEVICE)
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False)
    return tokenizer.decode(out[0, len(prompt_ids):], skip_special_tokens=True)


def run_plan(plan_path: pathlib.Path, results: pathlib.Path, threads: int) -> None:
    import peft
    import torch
    import transformers

    plan = json.loads(plan_path.read_text())
    s = plan["settings"]
    started = datetime.datetime.now(datetime.timezone.utc).isoformat()
    t_wall = time.perf_counter()
    torch.set_num_threads(threads)
    torch.manual_seed(plan["seed"])
    # The Parquet columns come with the plan, from ablate's results::schema: one schema.
    columns = plan["schema"]
    row = {c: None for c, _ in columns["runs"]}
    row.update(
        run_id=plan["run_id"], grid=plan["grid"], model=plan["model"], dataset=plan["dataset"],
        strategy=plan["strategy"], strategy_spec=plan["strategy_spec"], seed=plan["seed"], framework="pytorch",
        framework_version=f"torch {torch.__version__} / transformers {transformers.__version__} / peft {peft.__version__}",
        device=DEVICE, threads=threads, git_rev=os.environ.get("ABLATE_GIT_REV", "unknown"), started_at=started,
        steps=s["steps"], batch_size=s["batch_size"], grad_accum=s["grad_accum"], seq_len=plan["seq_len"],
        lr=s["lr"], warmup_steps=s["warmup_steps"], weight_decay=s["weight_decay"], optimizer="torch.optim.AdamW",
        peak_mem_method="n/a: torch keeps no CPU allocator statistics", peak_rss_method=RSS_METHOD,
        sample_prompt=s["sample_prompt"], status="failed",
    )
    # Further settings, where this schema has their columns.
    # (validation_blocks is left out of the plan's settings when 0, as out of the run id.)
    for c, default in (("validation_blocks", 0), ("sample_tokens", None)):
        if c in row:
            row[c] = s.get(c, default)
    if "lr_sweep" in row:
        row["lr_sweep"] = plan.get("lr_sweep")
    steps_rows, eval_rows = [], []
    try:
        model, row["model_source"] = load_model(plan)
        model.to(DEVICE)
        model.eval()  # no dropout, as in ablate
        model, params, opt = prepare_training(model, plan)
        row["params_total"] = sum(p.numel() for p in model.parameters())
        row["params_trainable"] = sum(p.numel() for p in params)
        row["trainable_ratio"] = row["params_trainable"] / row["params_total"]
        tokenizer = load_tokenizer(plan)

        t_eval = time.perf_counter()
        before, eval_tps = {}, None
        for corpus, role, blocks in plan["eval"]:
            ppl, tps, _ = perplexity(model, blocks, s["eval_batch"])
            before[corpus] = (role, ppl)
            eval_tps = eval_tps or tps
        row["sample_before"] = greedy(model, tokenizer, plan["sample_prompt_ids"], s["sample_tokens"])
        eval_seconds = time.perf_counter() - t_eval

        pathlib.Path("/proc/self/clear_refs").write_text("5")
        if DEVICE.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        elapsed, step_tokens, diverged = 0.0, s["batch_size"] * plan["seq_len"] * s["grad_accum"], None
        for step, micro in enumerate(plan["batches"]):
            t0 = time.perf_counter()
            lr = plan["lrs"][step]  # the schedule lives in Rust only
            for g in opt.param_groups:
                g["lr"] = lr
            loss_sum = 0.0
            for mb in micro:
                ids = torch.tensor(mb, dtype=torch.long, device=DEVICE)
                loss = model(input_ids=ids, labels=ids).loss
                if not math.isfinite(loss.item()):
                    diverged = f"diverged at step {step}: loss is {loss.item()}"
                    break
                loss_sum += loss.item()
                (loss / len(micro)).backward()
            if diverged:
                break
            clip = s["grad_clip"] if s["grad_clip"] > 0 else float("inf")
            norm = torch.nn.utils.clip_grad_norm_(params, clip).item()
            if not math.isfinite(norm):
                diverged = f"diverged at step {step}: gradient norm is {norm}"
                break
            opt.step()
            opt.zero_grad(set_to_none=True)
            if DEVICE.startswith("cuda"):
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            elapsed += dt
            steps_rows.append(dict(run_id=plan["run_id"], step=step, loss=loss_sum / len(micro), lr=lr,
                                   grad_norm=norm, tokens=(step + 1) * step_tokens, elapsed_s=elapsed, _dt=dt))
        row["peak_rss_bytes"] = status_kib("VmHWM:")
        if DEVICE.startswith("cuda"):
            row["peak_mem_bytes"] = torch.cuda.max_memory_allocated()
            row["peak_mem_method"] = (f"torch.cuda.max_memory_allocated during training "
                                      f"(max reserved {torch.cuda.max_memory_reserved()} bytes)")
        measured = [r["_dt"] for r in steps_rows[s["measure_skip_steps"]:]]
        row["tokens_seen"] = len(steps_rows) * step_tokens
        row["train_seconds"] = elapsed
        row["tokens_per_s"] = len(measured) * step_tokens / sum(measured) if measured else 0.0
        if measured:
            q = sorted(measured)
            row["step_ms_p50"] = statistics.median(q) * 1e3
            pos = 0.95 * (len(q) - 1)
            lo, hi = math.floor(pos), math.ceil(pos)
            row["step_ms_p95"] = (q[lo] + (q[hi] - q[lo]) * (pos - lo)) * 1e3
        row["final_loss"] = steps_rows[-1]["loss"] if steps_rows else None
        t_eval = time.perf_counter()
        after = {}
        if not diverged:
            for corpus, role, blocks in plan["eval"]:
                after[corpus] = perplexity(model, blocks, s["eval_batch"])[0]
            row["sample_after"] = greedy(model, tokenizer, plan["sample_prompt_ids"], s["sample_tokens"])
        row["eval_seconds"] = eval_seconds + time.perf_counter() - t_eval
        row["eval_tokens_per_s"] = eval_tps
        for corpus, (role, ppl) in before.items():
            eval_rows.append(dict(run_id=plan["run_id"], corpus=corpus, role=role, ppl_before=ppl,
                                  ppl_after=after.get(corpus)))

        def mean_of(role, which):
            v = [e[which] for e in eval_rows if e["role"] == role and e[which] is not None]
            return sum(v) / len(v) if v else None

        for suffix, role in (("", "own"), ("_cross", "cross"), ("_general", "general")):
            row[f"ppl_before{suffix}"] = mean_of(role, "ppl_before")
            row[f"ppl_after{suffix}"] = mean_of(role, "ppl_after")
        weights = results / "weights" / f"{plan['run_id']}.safetensors"
        weights.parent.mkdir(parents=True, exist_ok=True)
        from safetensors.torch import save_file
        save_file({n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}, str(weights))
        row["saved_bytes"] = weights.stat().st_size
        row["status"], row["error"] = ("failed", diverged) if diverged else ("ok", None)
    except Exception as e:  # recorded, the grid goes on
        row["status"], row["error"] = "failed", f"{type(e).__name__}: {e}"
    row["wall_seconds"] = time.perf_counter() - t_wall
    for r in steps_rows:
        r.pop("_dt", None)
    required = plan.get("required", {})
    write_table(steps_rows, columns["steps"], results / "steps" / f"{plan['run_id']}.parquet", required.get("steps"))
    write_table(eval_rows, columns["evals"], results / "evals" / f"{plan['run_id']}.parquet", required.get("evals"))
    write_table([row], columns["runs"], results / "runs" / f"{plan['run_id']}.parquet", required.get("runs"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plans", type=pathlib.Path, required=True)
    ap.add_argument("--results", type=pathlib.Path, required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--one", type=pathlib.Path, help="run this plan in this process")
    a = ap.parse_args()
    if a.one:
        run_plan(a.one, a.results, a.threads)
        return 0
    failed = 0
    plans = sorted(a.plans.glob("*.json"))
    for i, plan in enumerate(plans):
        t0 = time.perf_counter()
        cmd = [sys.executable, __file__, "--plans", str(a.plans), "--results", str(a.results),
               "--threads", str(a.threads), "--one", str(plan)]
        code = subprocess.call(cmd)
        run = a.results / "runs" / f"{plan.stem}.parquet"
        if code != 0 or not run.exists():
            failed += 1
            print(f"{plan.stem}: process failed ({code})", flush=True)
            continue
        import pyarrow.parquet as pq
        status = pq.read_table(run, columns=["status"]).column(0)[0].as_py()
        failed += status != "ok"
        print(f"[{i + 1}/{len(plans)}] {plan.stem}: {status} ({time.perf_counter() - t0:.0f} s)", flush=True)
        plan.unlink()
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
