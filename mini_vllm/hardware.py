"""Accelerators as named, sourced GPUSpec entries, the H100 measurements, and this machine's CPU.

Spec sheets headline the 2:4-sparse tensor rate; roofline maths needs the dense one, so the two
are kept apart and ``peak_flops`` returns dense unless asked. Memory sizes of GPUs are binary
even when sold as "GB": an "80GB" A100 or H100 carries 80 GiB of HBM (nvidia-smi shows 81,920 MiB
on the A100 80GB; the measured H100 in data/ reports 79.2 GiB usable), and a "24 GB" RTX 4090
has 24 GiB. So ``memory_bytes`` = memory_gb x 2**30, the physical capacity; CUDA leaves a little
of it unusable, which is why the vLLM calculator keeps a reserve. Bandwidth is decimal, in
bytes/s (1 TB/s = 1e12 B/s), as vendors quote it.

References:
    data/gpus.json (vendor datasheets and the other sources listed per GPU)
    data/h100_ctx*.csv (measured on one H100 80GB HBM3; see data/README.md)
    Roofline model (Williams, Waterman, Patterson, 2009): https://doi.org/10.1145/1498765.1498785
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import functools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .config import canonical_dtype

DATA_DIR = Path(__file__).parent / "data"

# Short names (compared after lower-casing and dropping spaces, '-' and '_'); documented for users.
GPU_ALIASES: dict[str, str] = {
    "a100": "A100 SXM4 80GB", "a10080gb": "A100 SXM4 80GB", "a100sxm": "A100 SXM4 80GB",
    "a10040gb": "A100 SXM4 40GB", "a100pcie": "A100 PCIe 80GB",
    "h100": "H100 SXM5 80GB", "h100sxm": "H100 SXM5 80GB", "h100pcie": "H100 PCIe 80GB",
    "h200": "H200 SXM 141GB", "l4": "L4", "l40s": "L40S",
    "4090": "GeForce RTX 4090", "rtx4090": "GeForce RTX 4090",
    "a10g": "A10G (AWS G5)", "t4": "T4", "mi300x": "AMD Instinct MI300X",
    "b200": "B200 (HGX, 1000 W)",
}
_TFLOPS_FIELDS = {"bfloat16": "bf16", "float16": "fp16", "fp8": "fp8"}


@dataclass(frozen=True)
class GPUSpec:
    """Peak figures of one accelerator; rates in FLOP/s and bytes/s, memory in bytes."""

    name: str
    memory_bytes: float
    bandwidth_bytes_per_s: float
    dense_flops: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    sparse_flops: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    estimated: bool = False  # True when the FLOP/s figures are not from a datasheet (A10G)
    vendor: str = ""
    arch: str = ""
    memory_type: str = ""
    tdp_w: float | None = None
    confidence: str = ""
    sources: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "bandwidth_bytes_per_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be > 0; got {value!r}")
        object.__setattr__(self, "dense_flops", MappingProxyType(dict(self.dense_flops)))
        object.__setattr__(self, "sparse_flops", MappingProxyType(dict(self.sparse_flops)))

    def peak_flops(self, dtype: str = "bfloat16", sparse: bool = False) -> float:
        """Peak tensor FLOP/s in `dtype`: dense (the roofline figure) unless sparse=True."""
        key = canonical_dtype(dtype)
        table = self.sparse_flops if sparse else self.dense_flops
        if key not in table:
            kind = "sparse" if sparse else "dense"
            have = ", ".join(table) or "none"
            raise ValueError(f"{self.name} has no {kind} {key} rate; it has: {have}")
        return table[key]

    def __hash__(self) -> int:  # the FLOP tables are read-only mappings, which do not hash
        return hash((self.name, self.memory_bytes, self.bandwidth_bytes_per_s))

    @property
    def memory_gib(self) -> float:
        """Memory in GiB (2**30 bytes)."""
        return self.memory_bytes / 2**30


def _tera(x: float) -> float:
    """x * 1e12 without binary rounding noise (2.039 * 1e12 is 2039000000000.0002 in floats)."""
    return float(round(x * 1e12))


def _spec_from_json(g: dict) -> GPUSpec:
    dense, sparse = {}, {}
    for dtype, prefix in _TFLOPS_FIELDS.items():
        if g.get(f"{prefix}_dense_tflops") is not None:
            dense[dtype] = _tera(g[f"{prefix}_dense_tflops"])
        if g.get(f"{prefix}_sparse_tflops") is not None:
            sparse[dtype] = _tera(g[f"{prefix}_sparse_tflops"])
    estimated = g.get("bf16_dense_tflops_estimate") is not None and not dense
    if estimated:  # A10G: no datasheet; the commonly quoted ~70 TFLOPS, flagged as an estimate
        dense = {"bfloat16": _tera(g["bf16_dense_tflops_estimate"]),
                 "float16": _tera(g["bf16_dense_tflops_estimate"])}
    return GPUSpec(
        name=g["name"], memory_bytes=g["memory_gb"] * 2**30,  # binary: see the module docstring
        bandwidth_bytes_per_s=_tera(g["bandwidth_tb_s"]), dense_flops=dense, sparse_flops=sparse,
        estimated=estimated, vendor=g.get("vendor", ""), arch=g.get("arch", ""),
        memory_type=g.get("memory_type", ""), tdp_w=g.get("tdp_w"),
        confidence=g.get("confidence", ""), sources=tuple(g.get("sources", ())),
        notes=g.get("notes", ""))


@functools.lru_cache(maxsize=1)
def _gpus() -> MappingProxyType:
    data = json.loads((DATA_DIR / "gpus.json").read_text(encoding="utf-8"))
    return MappingProxyType({g["name"]: _spec_from_json(g) for g in data["gpus"]})


def list_gpus() -> list[str]:
    """Names of the 13 accelerators in the catalog."""
    return list(_gpus())


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in " -_")


def get_gpu(name: str) -> GPUSpec:
    """A GPUSpec by name, case-insensitive, or by a short alias ('H100', 'A100-80GB', 'T4', ...).

    Aliases (spaces, '-' and '_' ignored): A100 / A100-80GB / A100-SXM -> A100 SXM4 80GB,
    A100-40GB, A100-PCIe, H100 / H100-SXM -> H100 SXM5 80GB, H100-PCIe, H200, L4, L40S,
    4090 / RTX4090, A10G, T4, MI300X, B200.
    """
    if not isinstance(name, str):
        raise ValueError(f"GPU name must be a string; got {name!r}")
    key = _norm(name)
    for real, spec in _gpus().items():
        if key == _norm(real):
            return spec
    if key in GPU_ALIASES:
        return _gpus()[GPU_ALIASES[key]]
    raise ValueError(f"unknown GPU {name!r}; known: {', '.join(list_gpus())}; "
                     f"aliases: {', '.join(sorted(GPU_ALIASES))}")


# ---- the H100 measurements ------------------------------------------------------------------
H100_PROVENANCE = (
    "Measured on one NVIDIA H100 80GB HBM3 (132 SMs): a Llama-3-8B-shaped decoder with random "
    "bf16 weights (8,030,261,248 params) in PyTorch with SDPA attention; medians of 10-30 timed "
    "runs after warm-up; decode step times with CUDA-graph replay (graph_ms) and eager (eager_ms).")
H100_CONTEXTS = (512, 2048, 8192)
_INT_COLUMNS = ("batch", "ctx", "kv_bytes", "params", "prompt", "sms", "weight_bytes")


def _typed(row: dict) -> dict:
    out = {}
    for key, text in row.items():
        if text == "":
            continue
        if key in ("kind", "name"):
            out[key] = text
        else:
            out[key] = int(text) if key in _INT_COLUMNS else float(text)
    return out


def load_h100_measurements(ctx: int | None = None) -> list[dict]:
    """Tidy records of the H100 measurements (all contexts, or one of 512, 2048, 8192).

    Each record has 'kind' (device, peak_read_bw, peak_copy_bw_rw, peak_bf16_matmul, model,
    decode, prefill), its non-empty columns with units in the names' meaning (gbps = GB/s,
    tflops = TFLOP/s, *_ms = milliseconds, kv_bytes/weight_bytes = bytes), 'ctx' and 'source'.
    """
    contexts = H100_CONTEXTS if ctx is None else (ctx,)
    if ctx is not None and ctx not in H100_CONTEXTS:
        raise ValueError(f"ctx={ctx!r}; measured contexts: {H100_CONTEXTS}")
    records = []
    for c in contexts:
        path = DATA_DIR / f"h100_ctx{c}.csv"
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rec = _typed(row)
                rec.setdefault("ctx", c)
                rec["source"] = f"mini_vllm/data/{path.name}"
                records.append(rec)
    return records


def h100_measured_spec(ctx: int = 2048) -> GPUSpec:
    """The measured H100 as a GPUSpec: read bandwidth and bf16 matmul rate from the CSV."""
    recs = {r["kind"]: r for r in load_h100_measurements(ctx) if r["kind"] != "decode"}
    return GPUSpec(
        name="H100 80GB HBM3 (measured)", memory_bytes=recs["device"]["mem_gib"] * 2**30,
        bandwidth_bytes_per_s=recs["peak_read_bw"]["gbps"] * 1e9,
        dense_flops={"bfloat16": recs["peak_bf16_matmul"]["tflops"] * 1e12},
        vendor="NVIDIA", arch="Hopper", sources=(f"mini_vllm/data/h100_ctx{ctx}.csv",),
        notes=H100_PROVENANCE)


# ---- this machine ---------------------------------------------------------------------------
# ---- BLAS threads ---------------------------------------------------------------------------
_BLAS_THREADS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                 ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                 ("openblas_set_num_threads", "openblas_get_num_threads"))


def _openblas_thread_functions():
    """(setter, getter) of the OpenBLAS that numpy loaded, or (None, None)."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = [line.split()[-1] for line in maps
                     if "openblas" in line.lower() and line.rstrip().endswith(".so")]
        lib = ctypes.CDLL(paths[0]) if paths else None
    except OSError:  # no /proc (macOS, Windows) or the library cannot be opened
        return None, None
    for set_name, get_name in _BLAS_THREADS:
        if lib is not None and hasattr(lib, set_name) and hasattr(lib, get_name):
            return getattr(lib, set_name), getattr(lib, get_name)
    return None, None


@contextlib.contextmanager
def blas_threads(num_threads: int = 1):
    """Run numpy's OpenBLAS on ``num_threads`` threads inside the block, then restore it.

    Small matmuls split over threads mostly wait for each other, and on a busy 2-core machine a
    threaded matmul was measured 30x slower than on one thread; timings on one thread are stable.
    A no-op when numpy's BLAS is not OpenBLAS (the thread count is then whatever BLAS chooses).
    """
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be an integer >= 1; got {num_threads!r}")
    setter, getter = _openblas_thread_functions()
    if setter is None:
        yield
        return
    before = getter()
    setter(num_threads)
    try:
        yield
    finally:
        setter(before)


def _best_rate(work, amount: float, seconds: float) -> float:
    """Run work() repeatedly for about `seconds`; the best amount-per-second over the runs."""
    best, deadline = 0.0, time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        work()
        elapsed = time.perf_counter() - t0
        best = max(best, amount / max(elapsed, 1e-9))
        if time.perf_counter() >= deadline:
            return best


def _host_memory_bytes() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not POSIX: the number is only a label here
        return 16e9


def measure_host(seconds: float = 3.0, progress: bool = True, rng: np.random.Generator | None = None,
                 *, threads: int | None = 1) -> GPUSpec:
    """Measure this CPU's float32 matmul FLOP/s and memory read bandwidth with numpy.

    Half the time goes to n x n matmuls (2 n^3 FLOP each), half to summing a 256 MiB array
    (bytes read / time). The best run counts, as for a peak figure. Returns a GPUSpec named
    'this machine (CPU)' whose only rate is dense 'float32'. ``threads=1`` (the default) measures
    one core, which is stable on a shared machine and matches how the toy engine is timed in the
    book; ``threads=None`` lets BLAS use every core (the machine's peak, noisier under load).
    """
    if not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"seconds must be > 0; got {seconds!r}")
    rng = rng if rng is not None else np.random.default_rng(0)
    n = 1024 if seconds >= 1 else 256
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    if progress:
        print(f"measuring float32 matmul ({n}x{n}) for {seconds / 2:.1f} s ...", flush=True)
    if threads is None:
        flops = _best_rate(lambda: a @ b, 2.0 * n**3, seconds / 2)
    else:
        with blas_threads(threads):
            flops = _best_rate(lambda: a @ b, 2.0 * n**3, seconds / 2)
    big = np.ones((256 if seconds >= 1 else 16) * 2**20 // 4, dtype=np.float32)
    if progress:
        print(f"measuring memory bandwidth ({big.nbytes // 2**20} MiB read) for "
              f"{seconds / 2:.1f} s ...", flush=True)
    bandwidth = _best_rate(lambda: big.sum(), float(big.nbytes), seconds / 2)
    if progress:
        print(f"done: {flops / 1e9:,.1f} GFLOP/s, {bandwidth / 1e9:,.1f} GB/s", flush=True)
    return GPUSpec(
        name="this machine (CPU)", memory_bytes=_host_memory_bytes(),
        bandwidth_bytes_per_s=bandwidth, dense_flops={"float32": flops}, vendor="",
        arch=sys.platform, sources=("measured with numpy by mini_vllm.hardware.measure_host",),
        notes=f"best of repeated {n}x{n} float32 matmuls "
              f"({'all cores' if threads is None else f'{threads} BLAS thread(s)'}) and array sums; "
              f"numpy {np.__version__}")
