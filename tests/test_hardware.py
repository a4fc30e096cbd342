"""GPU catalog, the H100 measurements and measure_host."""

import pytest

from mini_vllm.hardware import (GPU_ALIASES, GPUSpec, get_gpu, h100_measured_spec, list_gpus,
                                load_h100_measurements, measure_host)


def test_thirteen_gpus_with_sources():
    assert len(list_gpus()) == 13
    for name in list_gpus():
        gpu = get_gpu(name)
        assert gpu.sources and gpu.memory_bytes > 0 and gpu.bandwidth_bytes_per_s > 0


def test_a100_80gb_figures():
    a100 = get_gpu("A100-80GB")
    assert a100.name == "A100 SXM4 80GB"
    # CUDA's total (79.26 GiB), not nvidia-smi's 81,920 MiB nor the marketed 80 GB
    assert a100.memory_bytes == 85_100_068_864 and a100.memory_kind == "cuda"
    assert a100.nominal_memory_gb == 80 and a100.bandwidth_bytes_per_s == 2.039e12
    assert a100.peak_flops("bfloat16") == 312e12 and a100.peak_flops("bf16", sparse=True) == 624e12
    with pytest.raises(ValueError, match="no dense fp8"):
        a100.peak_flops("fp8")


def test_dense_is_half_of_sparse_on_h100():
    h100 = get_gpu("h100")
    assert h100.peak_flops() == 989.4e12
    assert h100.peak_flops(sparse=True) == 1978.9e12
    assert h100.peak_flops("fp8") == 1978.9e12


def test_t4_has_no_bf16_but_says_fp16_exists():
    with pytest.raises(ValueError, match="T4 has no dense bfloat16.*float16"):
        get_gpu("T4").peak_flops("bfloat16")
    assert get_gpu("T4").peak_flops("fp16") == 65e12


def test_a10g_is_flagged_as_estimate():
    a10g = get_gpu("A10G")
    assert a10g.estimated and a10g.peak_flops("bf16") == 70e12
    assert not get_gpu("A100").estimated


def test_gpu_memory_is_what_software_sees_with_a_source():
    kinds = {get_gpu(n).memory_kind for n in list_gpus()}
    assert kinds <= {"cuda", "nvidia-smi", "rocm-smi", "nominal"}
    for name in list_gpus():
        g = get_gpu(name)
        if g.memory_kind == "nominal":  # no source: the marketed decimal figure, flagged
            assert g.memory_bytes == g.nominal_memory_gb * 1e9 and not g.memory_source
            assert "NOMINAL" in g.notes
        else:
            assert g.memory_source.startswith("https://")
        # what software sees is never more than the binary reading of the marketed figure
        assert g.memory_bytes <= g.nominal_memory_gb * 2**30
    assert get_gpu("H100 PCIe").memory_kind == "nominal"
    # "80GB" is 80 GiB for nvidia-smi on an A100, not on an H100 (81,559 MiB), nor a 24 GB L4
    assert get_gpu("A100 PCIe").memory_bytes == 81_920 * 2**20
    assert get_gpu("L4").memory_bytes == 23_570_219_008  # CUDA: 21.95 GiB of a "24 GB" card
    # CUDA's total on an H100 80GB matches the package's own measurement to 0.01 GiB
    from mini_vllm.hardware import h100_measured_spec
    measured = h100_measured_spec().memory_bytes
    assert abs(measured - get_gpu("H100 SXM5 80GB").memory_bytes) < 0.01 * 2**30


@pytest.mark.parametrize("alias", sorted(GPU_ALIASES))
def test_every_alias_resolves(alias):
    assert get_gpu(alias).name in list_gpus()


def test_unknown_gpu_lists_names():
    with pytest.raises(ValueError, match="unknown GPU 'V100'.*H100 SXM5 80GB"):
        get_gpu("V100")


def test_gpuspec_rejects_zero_bandwidth_and_memory():
    with pytest.raises(ValueError, match="bandwidth_bytes_per_s"):
        GPUSpec(name="x", memory_bytes=1e9, bandwidth_bytes_per_s=0)
    with pytest.raises(ValueError, match="memory_bytes"):
        GPUSpec(name="x", memory_bytes=-1, bandwidth_bytes_per_s=1e9)


def test_h100_measurements_are_tidy():
    recs = load_h100_measurements()
    assert {r["ctx"] for r in recs} == {512, 2048, 8192}
    assert all(r["source"].startswith("mini_vllm/data/h100_ctx") for r in recs)
    model = [r for r in recs if r["kind"] == "model"][0]
    assert model["params"] == 8_030_261_248 and model["weight_bytes"] == 2 * 8_030_261_248
    decode = [r for r in load_h100_measurements(2048) if r["kind"] == "decode"]
    assert [r["batch"] for r in decode] == [1, 2, 4, 8, 16, 32, 64, 128]
    assert decode[0]["kv_bytes"] == 268_435_456 and decode[0]["graph_ms"] == 8.627
    with pytest.raises(ValueError, match="ctx"):
        load_h100_measurements(1000)


def test_h100_measured_spec():
    spec = h100_measured_spec(2048)
    assert spec.bandwidth_bytes_per_s == 3054.6e9
    assert spec.peak_flops("bfloat16") == 788.2e12


def test_measure_host_tiny(capsys):
    host = measure_host(seconds=0.05, progress=True)
    assert host.name == "this machine (CPU)"
    assert host.peak_flops("float32") > 1e6 and host.bandwidth_bytes_per_s > 1e6
    assert "measuring" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no dense bfloat16"):
        host.peak_flops("bfloat16")
    with pytest.raises(ValueError, match="seconds"):
        measure_host(seconds=0)


def test_gpuspec_is_hashable_and_frozen():
    a100 = get_gpu("A100")
    assert hash(a100) == hash(get_gpu("A100 SXM4 80GB"))
    with pytest.raises(Exception):
        a100.memory_bytes = 1
    with pytest.raises(TypeError):
        a100.dense_flops["bfloat16"] = 1.0  # read-only


def test_blas_threads_validates_and_restores():
    from mini_vllm.hardware import _openblas_thread_functions, blas_threads
    with pytest.raises(ValueError, match="num_threads"):
        with blas_threads(0):
            pass
    setter, getter = _openblas_thread_functions()
    before = getter() if getter else None
    with blas_threads(1):
        if getter:
            assert getter() == 1
    if getter:
        assert getter() == before


def test_measure_host_names_its_thread_count():
    from mini_vllm.hardware import measure_host
    spec = measure_host(seconds=0.05, progress=False)
    assert "1 BLAS thread" in spec.notes
    assert measure_host(seconds=0.05, progress=False, threads=None).notes.count("all cores") == 1
