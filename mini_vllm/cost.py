"""What a generated token costs: the price of a GPU-hour over the tokens the GPU emits in an hour.

Cost per token = price per GPU-hour / tokens per GPU-hour. With the roofline's tokens/s, an upper
bound on throughput, it is a lower bound on the cost; measured tokens/s give a real cost. Prices
move (by provider, region, commitment and month), so every function takes the price as a parameter.

References:
    Lambda on-demand GPU cloud pricing, "8x NVIDIA H100 SXM", $3.99 per GPU per hour:
        https://lambda.ai/pricing (as transcribed from the page on 2026-09-25 in
        tgarg01/silybench-data derived/csv/gpu_prices.csv, and from https://lambda.ai/instances
        on 2026-09-20 in api-evangelist/lambda-labs plans/lambda-labs-plans-pricing.yml)
    For scale: AWS p5.48xlarge (8 x H100 SXM 80GB), us-east-1 on-demand, $55.04 per instance-hour,
        i.e. $6.88 per GPU-hour (datareceipts/data-receipts 109-gpu-pricing, read 2026-11-09)
"""

from __future__ import annotations

from .config import ModelConfig
from .hardware import get_gpu
from .memory import _check_count, _check_positive
from .roofline import decode_tokens_per_s_bound

# One H100 SXM 80GB for one hour, on demand, in US dollars: Lambda's price in an 8-GPU instance,
# https://lambda.ai/pricing, as listed on 2026-09-25 (see the module docstring). Prices move.
H100_PRICE_PER_HOUR_USD = 3.99
H100_PRICE_DATE = "2026-09-25"
H100_PRICE_SOURCE = "https://lambda.ai/pricing"
H100_PRICED_GPU = "H100 SXM5 80GB"  # the catalog's name for the GPU that price is for
SECONDS_PER_HOUR = 3600


def tokens_per_hour(tokens_per_s: float) -> float:
    """Tokens in one hour at tokens_per_s tokens per second."""
    return _check_positive("tokens_per_s", tokens_per_s) * SECONDS_PER_HOUR


def cost_per_million_tokens(tokens_per_s: float, *,
                            price_per_gpu_hour: float = H100_PRICE_PER_HOUR_USD,
                            num_gpus: int = 1) -> float:
    """Dollars per 1,000,000 tokens: num_gpus x price per GPU-hour / tokens per hour x 1e6.

    ``tokens_per_s`` is the throughput of all ``num_gpus`` GPUs together (e.g. one
    tensor-parallel group). The default price is one H100's (H100_PRICE_PER_HOUR_USD, dated).
    """
    _check_positive("price_per_gpu_hour", price_per_gpu_hour)
    _check_count("num_gpus", num_gpus)
    return num_gpus * price_per_gpu_hour / tokens_per_hour(tokens_per_s) * 1e6


def roofline_cost_per_million_tokens(cfg: ModelConfig, gpu, batch_size: int = 1, *,
                                     price_per_gpu_hour: float | None = None,
                                     **roofline_kwargs) -> float:
    """The lowest cost per 1e6 generated tokens the roofline allows at this batch (decode only).

    Throughput is roofline.decode_tokens_per_s_bound(cfg, gpu, batch_size, **roofline_kwargs)
    (pass context_len for the KV reads). The default price is an H100's, so give
    ``price_per_gpu_hour`` for any other GPU. Prefill of the prompts is not counted.
    """
    gpu = get_gpu(gpu) if isinstance(gpu, str) else gpu
    if price_per_gpu_hour is None:
        name = getattr(gpu, "name", repr(gpu))
        if name != H100_PRICED_GPU:  # the dated default is for this part only
            raise ValueError(f"price_per_gpu_hour: give the price of one {name} per hour; "
                             f"the default (${H100_PRICE_PER_HOUR_USD}) is an H100's")
        price_per_gpu_hour = H100_PRICE_PER_HOUR_USD
    tokens_per_s = decode_tokens_per_s_bound(cfg, gpu, batch_size, **roofline_kwargs)
    return cost_per_million_tokens(tokens_per_s, price_per_gpu_hour=price_per_gpu_hour)
