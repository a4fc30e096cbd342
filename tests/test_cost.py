"""Cost per generated token: a GPU-hour's price over the tokens it emits in that hour."""

import datetime
import math

import pytest

from mini_vllm import cost
from mini_vllm.catalog import LLAMA_3_8B
from mini_vllm.cost import (H100_PRICE_DATE, H100_PRICE_PER_HOUR_USD, H100_PRICE_SOURCE,
                            cost_per_million_tokens, roofline_cost_per_million_tokens,
                            tokens_per_hour)
from mini_vllm.hardware import get_gpu
from mini_vllm.roofline import decode_tokens_per_s_bound


def test_exact_values():
    assert tokens_per_hour(2.5) == 9000.0
    assert tokens_per_hour(1000) == 3_600_000
    # $3.60 an hour at 1,000 tok/s: 3.6 / 3,600,000 tokens = $1 per million
    assert cost_per_million_tokens(1000.0, price_per_gpu_hour=3.6) == 1.0
    assert cost_per_million_tokens(500.0, price_per_gpu_hour=3.6) == 2.0
    assert cost_per_million_tokens(1000.0, price_per_gpu_hour=3.6, num_gpus=4) == 4.0
    # a million tokens an hour costs exactly one GPU-hour
    assert cost_per_million_tokens(1e6 / 3600) == pytest.approx(H100_PRICE_PER_HOUR_USD, rel=1e-15)


def test_the_default_price_is_dated_and_sourced():
    assert cost_per_million_tokens(1000.0) == cost_per_million_tokens(
        1000.0, price_per_gpu_hour=H100_PRICE_PER_HOUR_USD)
    assert 0 < H100_PRICE_PER_HOUR_USD < 100
    datetime.date.fromisoformat(H100_PRICE_DATE)
    assert H100_PRICE_SOURCE.startswith("https://")
    assert H100_PRICE_SOURCE in cost.__doc__ and H100_PRICE_DATE in cost.__doc__


def test_roofline_cost_is_the_price_over_the_roofline_throughput():
    h100 = get_gpu("H100")
    for batch in (1, 16, 128):
        bound = decode_tokens_per_s_bound(LLAMA_3_8B, h100, batch, context_len=2048)
        assert roofline_cost_per_million_tokens(LLAMA_3_8B, h100, batch, context_len=2048) == (
            cost_per_million_tokens(bound))
    costs = [roofline_cost_per_million_tokens(LLAMA_3_8B, "H100", b, context_len=2048)
             for b in (1, 2, 4, 8, 16, 32, 64, 128)]
    assert costs == sorted(costs, reverse=True)  # batching shares the weight read: cheaper
    # a real system reaches less than the roofline, so it costs more per token
    assert cost_per_million_tokens(0.7 * decode_tokens_per_s_bound(LLAMA_3_8B, "H100", 128)) > (
        roofline_cost_per_million_tokens(LLAMA_3_8B, "H100", 128))


def test_another_gpu_needs_its_own_price():
    a100 = get_gpu("A100 SXM4 80GB")
    with pytest.raises(ValueError, match="price_per_gpu_hour.*A100"):
        roofline_cost_per_million_tokens(LLAMA_3_8B, a100, 8)
    bound = decode_tokens_per_s_bound(LLAMA_3_8B, a100, 8)
    assert roofline_cost_per_million_tokens(LLAMA_3_8B, a100, 8, price_per_gpu_hour=2.0) == (
        cost_per_million_tokens(bound, price_per_gpu_hour=2.0))


@pytest.mark.parametrize("call, match", [
    (lambda: tokens_per_hour(0), "tokens_per_s"),
    (lambda: cost_per_million_tokens(-5.0), "tokens_per_s"),
    (lambda: cost_per_million_tokens(math.nan), "tokens_per_s"),
    (lambda: cost_per_million_tokens(math.inf), "tokens_per_s"),
    (lambda: cost_per_million_tokens(True), "tokens_per_s"),
    (lambda: cost_per_million_tokens(1000.0, price_per_gpu_hour=0), "price_per_gpu_hour"),
    (lambda: cost_per_million_tokens(1000.0, price_per_gpu_hour=-1.0), "price_per_gpu_hour"),
    (lambda: cost_per_million_tokens(1000.0, price_per_gpu_hour="3.99"), "price_per_gpu_hour"),
    (lambda: cost_per_million_tokens(1000.0, num_gpus=0), "num_gpus"),
    (lambda: cost_per_million_tokens(1000.0, num_gpus=1.5), "num_gpus"),
    (lambda: roofline_cost_per_million_tokens(LLAMA_3_8B, "H100", 0), "batch_size"),
])
def test_bad_input_raises_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
