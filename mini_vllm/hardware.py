"""Accelerators as named, sourced GPUSpec entries, the H100 measurements, and this machine's CPU.

Spec sheets headline the 2:4-sparse tensor rate; roofline maths needs the dense one, so the two
are kept apart and ``peak_flops`` returns dense unless asked. A GPU's memory has three figures
that differ: the marketed one ("80GB", decimal and rounded), nvidia-smi's total (81,920 MiB on
an A100 80GB but 81,559 MiB on an H100 80GB, 23,034 MiB on a "24 GB" L4), and the smaller total
CUDA reports (cudaDeviceProp.totalGlobalMem, torch.cuda.mem_get_info()[1]: 79.26 GiB on that
A100, 79.1-79.25 GiB on an H100, depending on the driver). vLLM budgets gpu_memory_utilization
x the CUDA total, so ``memory_bytes`` is that total wherever a source shows it, else the next
best figure; ``memory_kind`` says which ('cuda', 'nvidia-smi', 'rocm-smi' or 'nominal') and
``memory_source`` where it was read. Bandwidth is decimal, in bytes/s (1 TB/s = 1e12 B/s), as
vendors quote it.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .config import canonical_dtype
from .memory import _check_positive

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


def _rates(name: str, table) -> dict[str, float]:
    """A {dtype: FLOP/s} mapping with canonical dtype names and finite rates > 0."""
    if not isinstance(table, Mapping):
        raise ValueError(f"{name} must be a mapping of dtype names to FLOP/s; got {table!r}")
    rates = {}
    for dtype, rate in table.items():
        _check_positive(f"{name}[{dtype!r}]", rate)
        rates[canonical_dtype(dtype, f"a key of {name}")] = rate
    return rates


@dataclass(frozen=True)
class GPUSpec:
    """Peak figures of one accelerator; rates in FLOP/s and bytes/s, memory in bytes."""

    name: str
    memory_bytes: float  # the total software sees; see memory_kind
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
    memory_kind: str = ""  # 'cuda', 'nvidia-smi', 'rocm-smi', 'nominal', 'measured' or 'host'
    memory_source: str = ""
    nominal_memory_gb: float | None = None  # the marketed figure, decimal GB
    nvidia_smi_mib: int | None = None  # nvidia-smi's total, where a public output shows it

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "bandwidth_bytes_per_s"):
            _check_positive(name, getattr(self, name))
        for name in ("name", "vendor", "arch", "memory_type", "confidence", "notes",
                     "memory_kind", "memory_source"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string; got {getattr(self, name)!r}")
        if not self.name:
            raise ValueError("name must be a non-empty string")
        if not isinstance(self.sources, tuple) or not all(isinstance(x, str) for x in self.sources):
            raise ValueError(f"sources must be a tuple of strings; got {self.sources!r}")
        if not isinstance(self.estimated, bool):
            raise ValueError(f"estimated must be True or False; got {self.estimated!r}")
        for name in ("tdp_w", "nominal_memory_gb"):  # None, or a number > 0
            if getattr(self, name) is not None:
                _check_positive(name, getattr(self, name))
        mib = self.nvidia_smi_mib
        if mib is not None and (isinstance(mib, bool) or not isinstance(mib, int) or mib < 1):
            raise ValueError(f"nvidia_smi_mib must be None or an integer >= 1; got {mib!r}")
        for name in ("dense_flops", "sparse_flops"):
            object.__setattr__(self, name, MappingProxyType(_rates(name, getattr(self, name))))

    def peak_flops(self, dtype: str = "bfloat16", sparse: bool = False) -> float:
        """Peak tensor FLOP/s in `dtype`: dense (the roofline figure) unless sparse=True."""
        if not isinstance(sparse, bool):
            raise ValueError(f"sparse must be True or False; got {sparse!r}")
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
        name=g["name"], memory_bytes=g["memory_total_bytes"], memory_kind=g["memory_total_kind"],
        memory_source=g["memory_total_source"] or "", nominal_memory_gb=g["memory_gb"],
        nvidia_smi_mib=g.get("nvidia_smi_total_mib"),
        bandwidth_bytes_per_s=_tera(g["bandwidth_tb_s"]), dense_flops=dense, sparse_flops=sparse,
        estimated=estimated, vendor=g.get("vendor", ""), arch=g.get("arch", ""),
        memory_type=g.get("memory_type", ""), tdp_w=g.get("tdp_w"),
        confidence=g.get("confidence", ""), sources=tuple(g.get("sources", ())),
        notes=" ".join(filter(None, (g.get("notes"), g.get("memory_note")))))


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
        memory_kind="measured", memory_source=f"mini_vllm/data/h100_ctx{ctx}.csv (mem_gib)",
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
    _check_threads("num_threads", num_threads)
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


def _check_threads(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise ValueError(f"{name} must be an integer in 1..4096; got {value!r}")


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
    _check_positive("seconds", seconds)
    if seconds > 3600:
        raise ValueError(f"seconds must be at most 3600 (an hour); got {seconds!r}")
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False; got {progress!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be None or a numpy Generator; got {rng!r}")
    if threads is not None:
        _check_threads("threads", threads)
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
        name="this machine (CPU)", memory_bytes=_host_memory_bytes(), memory_kind="host",
        bandwidth_bytes_per_s=bandwidth, dense_flops={"float32": flops}, vendor="",
        arch=sys.platform, sources=("measured with numpy by mini_vllm.hardware.measure_host",),
        notes=f"best of repeated {n}x{n} float32 matmuls "
              f"({'all cores' if threads is None else f'{threads} BLAS thread(s)'}) and array sums; "
              f"numpy {np.__version__}")
