/* The calculators of mini_vllm.memory and mini_vllm.roofline, line for line, for the page.
 *
 * Inputs are the rows mini_vllm.site_data writes (model_row, gpu_row, dtype_bytes); every
 * function names the Python function it mirrors, and tests/test_site_explorers.py checks each
 * against it under node (bytes, tokens/s, intensity, concurrency to 1e-9 relative). Same
 * defaults as the package: gpu_memory_utilization 0.9, no reserve, block_size 16, the KV cache
 * in the model's own dtype unless a kv_dtype is given.
 */
(function (root, factory) {
  const calc = factory();
  if (typeof module === "object" && module.exports) module.exports = calc;
  else root.MVCalc = calc;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";
  const GPU_MEMORY_UTILIZATION = 0.9;  // vLLM's default
  const BLOCK_SIZE = 16;  // vLLM's default block of tokens

  class CalcError extends Error {  // the ValueError of the Python calculators: shown to the reader
    get userFacing() { return true; }
  }

  const GiB = 2 ** 30;
  const bytesPer = (catalog, model, dtype) => catalog.dtype_bytes[dtype || model.dtype];
  const fixed2 = (x) => x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  /** memory.num_params of the model with num_kv_heads KV heads (its own when undefined). */
  function numParams(model, numKvHeads) {
    return model.num_params_by_kv_heads[String(numKvHeads ?? model.num_kv_heads)];
  }
  /** memory.weight_bytes */
  function weightBytes(catalog, model, weightDtype, numKvHeads) {
    return numParams(model, numKvHeads) * bytesPer(catalog, model, weightDtype);
  }
  /** memory.kv_bytes_per_token: layers x (2 x kv_heads x head_dim, or MLA's latent) x bytes */
  function kvBytesPerToken(catalog, model, kvDtype, numKvHeads) {
    const perLayer = model.kv_values_per_token_per_layer_by_kv_heads[String(numKvHeads ?? model.num_kv_heads)];
    return model.num_layers * perLayer * bytesPer(catalog, model, kvDtype);
  }
  /** memory.kv_bytes_per_sequence */
  const kvBytesPerSequence = (catalog, model, numTokens, kvDtype, numKvHeads) =>
    numTokens * kvBytesPerToken(catalog, model, kvDtype, numKvHeads);
  /** memory.kv_bytes_total */
  const kvBytesTotal = (catalog, model, numTokens, batchSize, kvDtype, numKvHeads) =>
    batchSize * kvBytesPerSequence(catalog, model, numTokens, kvDtype, numKvHeads);

  /** memory.free_kv_bytes: memory x 0.9 x num_gpus - weights, floored; throws if negative. */
  function freeKvBytes(catalog, model, gpu, { numGpus = 1, weightDtype, numKvHeads } = {}) {
    const budget = gpu.memory_bytes * GPU_MEMORY_UTILIZATION * numGpus;
    const weights = weightBytes(catalog, model, weightDtype, numKvHeads);
    const free = budget - weights - 0;
    if (free < 0) {
      throw new CalcError(`the weights of ${model.name} (${fixed2(weights / GiB)} GiB) do not fit in ` +
        `${numGpus} GPU(s) x ${fixed2(gpu.memory_bytes / GiB)} GiB x gpu_memory_utilization 0.9 = ` +
        `${fixed2(budget / GiB)} GiB; use more GPUs or a smaller weight dtype`);
    }
    return Math.floor(free);
  }
  /** memory.max_sequences_naive */
  function maxSequencesNaive(catalog, model, gpu, numTokens, { kvDtype, numGpus = 1, numKvHeads } = {}) {
    return Math.floor(freeKvBytes(catalog, model, gpu, { numGpus, numKvHeads }) /
      kvBytesPerSequence(catalog, model, numTokens, kvDtype, numKvHeads));
  }
  /** memory.vllm_page_size_bytes: one block in one layer on one GPU. */
  function vllmPageSizeBytes(catalog, model, kvDtype, tensorParallelSize = 1, numKvHeads) {
    const each = bytesPer(catalog, model, kvDtype);
    const perLayer = model.kv_values_per_token_per_layer_by_kv_heads[String(numKvHeads ?? model.num_kv_heads)];
    if (model.is_mla) return BLOCK_SIZE * perLayer * each;
    const kvHeads = Math.max(1, Math.floor((numKvHeads ?? model.num_kv_heads) / tensorParallelSize));
    return BLOCK_SIZE * 2 * kvHeads * model.head_dim * each;
  }
  /** memory.vllm_kv_cache_report (from a GPU): vLLM v1's tokens and maximum concurrency. */
  function vllmReport(catalog, model, gpu, maxModelLen, {
    kvDtype, tensorParallelSize = 1, numKvHeads, allowLong = false } = {}) {
    if (maxModelLen > model.max_position_embeddings && !allowLong) {
      throw new CalcError(`max_model_len=${maxModelLen.toLocaleString("en-US")} is longer than ` +
        `${model.name}'s context window (max_position_embeddings=` +
        `${model.max_position_embeddings.toLocaleString("en-US")}); vLLM refuses it unless ` +
        "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 (here: allow_long_max_model_len=True)");
    }
    const page = vllmPageSizeBytes(catalog, model, kvDtype, tensorParallelSize, numKvHeads);
    let available = freeKvBytes(catalog, model, gpu, { numGpus: tensorParallelSize, numKvHeads });
    available = Math.floor(available / tensorParallelSize);
    if (!(available > 0)) throw new CalcError("available_kv_bytes must be a finite number > 0; got 0");
    const numBlocks = Math.floor(Math.floor(available / page) / model.num_layers);
    const blocksPerRequest = Math.ceil(maxModelLen / BLOCK_SIZE);
    if (blocksPerRequest > numBlocks) {
      throw new CalcError(`one request of max_model_len=${maxModelLen.toLocaleString("en-US")} tokens needs ` +
        `${fixed2(blocksPerRequest * page * model.num_layers / GiB)} GiB of KV cache, more than the ` +
        `${fixed2(available / GiB)} GiB available; lower max_model_len (at most ` +
        `${(numBlocks * BLOCK_SIZE).toLocaleString("en-US")} tokens) or raise the memory`);
    }
    return {
      available_kv_bytes: available, page_size_bytes: page, num_gpu_blocks: numBlocks,
      kv_cache_tokens: numBlocks * BLOCK_SIZE, max_model_len: maxModelLen,
      blocks_per_request: blocksPerRequest, max_concurrency: numBlocks / blocksPerRequest,
    };
  }
  /** widgets._memory_note's numbers: the weights and the batch's caches against the memory. */
  function memoryUse(catalog, model, gpu, weightDtype, batchSize, numTokens) {
    const weights = weightBytes(catalog, model, weightDtype);
    const kv = kvBytesTotal(catalog, model, numTokens, batchSize);
    return { weights, kv, fits: weights + kv <= gpu.memory_bytes };
  }
  /** plots.whole_sequences: vLLM's fractional concurrency rounded down. */
  const wholeSequences = (concurrency) => Math.floor(concurrency + 1e-9);

  // ---- roofline.py ------------------------------------------------------------------------
  /** gpu.peak_flops(dtype), dense */
  function peakFlops(gpu, dtype) {
    const rate = gpu.dense_flops[dtype];
    if (rate === undefined) {
      throw new CalcError(`${gpu.name} has no dense ${dtype} rate; it has: ${Object.keys(gpu.dense_flops).join(", ") || "none"}`);
    }
    return rate;
  }
  /** widgets._math_dtype: fp8 weights use fp8 math where the GPU has it (W8A8), other weights
   * are multiplied in bf16, or in fp16 on a GPU without bf16 (the T4). */
  function mathDtype(gpu, weightDtype) {
    const has = (dtype) => Object.prototype.hasOwnProperty.call(gpu.dense_flops, dtype);
    return has(weightDtype) ? weightDtype : has("bfloat16") ? "bfloat16" : "float16";
  }
  /** roofline.ridge_point */
  const ridgePoint = (gpu, dtype) => peakFlops(gpu, dtype) / gpu.bandwidth_bytes_per_s;
  /** roofline.attainable_flops */
  const attainableFlops = (gpu, intensity, dtype) => Math.min(peakFlops(gpu, dtype), intensity * gpu.bandwidth_bytes_per_s);

  function expertsRead(model, numTokens) {  // roofline._experts_read
    if (!model.is_moe) return 0;
    const e = model.num_experts, k = model.num_experts_per_tok;
    return e * (1 - (1 - k / e) ** numTokens);
  }
  function matrixParamsRead(model, numTokens) {  // roofline._matrix_params_read
    const total = model.num_params - model.lookup_params;
    if (!model.is_moe) return total;
    const unread = model.num_experts - expertsRead(model, numTokens);
    return total - model.moe_layers * unread * model.expert_params;
  }
  function lookupBytes(model, numTokens, each) {  // roofline._lookup_bytes
    let rows = model.tie_word_embeddings ? 0 : Math.min(numTokens, model.vocab_size);
    if (model.learned_positions) rows += Math.min(numTokens, model.max_position_embeddings);
    return rows * model.hidden_size * each;
  }
  function stepBytes(catalog, model, numTokens, kvBytes, weightDtype) {  // roofline._step_bytes
    const each = bytesPer(catalog, model, weightDtype);
    return matrixParamsRead(model, numTokens) * each + lookupBytes(model, numTokens, each) + kvBytes;
  }
  /** roofline.decode_flops */
  const decodeFlops = (model, batchSize) => batchSize * model.flops_per_token;
  /** roofline.decode_bytes */
  function decodeBytes(catalog, model, batchSize, { contextLen = 0, weightDtype, kvDtype } = {}) {
    const kv = batchSize * kvBytesPerSequence(catalog, model, contextLen, kvDtype);
    return stepBytes(catalog, model, batchSize, kv, weightDtype);
  }
  /** roofline.decode_intensity */
  const decodeIntensity = (catalog, model, batchSize, opts = {}) =>
    decodeFlops(model, batchSize) / decodeBytes(catalog, model, batchSize, opts);
  /** roofline.decode_step_breakdown: memory_s, compute_s, bound_s */
  function decodeStep(catalog, model, gpu, batchSize, { dtype, ...opts } = {}) {
    const computeDtype = dtype || opts.weightDtype || model.dtype;
    const peak = peakFlops(gpu, computeDtype), bandwidth = gpu.bandwidth_bytes_per_s;
    const memory_s = decodeBytes(catalog, model, batchSize, opts) / bandwidth;
    const compute_s = decodeFlops(model, batchSize) / peak;
    return { memory_s, compute_s, bound_s: Math.max(memory_s, compute_s) };
  }
  /** roofline.decode_tokens_per_s_bound */
  const decodeTokensPerS = (catalog, model, gpu, batchSize, opts = {}) =>
    batchSize / decodeStep(catalog, model, gpu, batchSize, opts).bound_s;
  /** roofline.utilization */
  function utilization(catalog, model, gpu, batchSize, { dtype, ...opts } = {}) {
    const intensity = decodeIntensity(catalog, model, batchSize, opts);
    return Math.min(1, intensity / ridgePoint(gpu, dtype || opts.weightDtype || model.dtype));
  }
  /** roofline.critical_batch_size: the batch where decode reaches the ridge (Infinity if never). */
  function criticalBatch(catalog, model, gpu, { contextLen = 0, weightDtype, kvDtype, dtype } = {}) {
    const ridge = ridgePoint(gpu, dtype || weightDtype || model.dtype);
    const kv = kvBytesPerSequence(catalog, model, contextLen, kvDtype);
    const twoN = model.flops_per_token;
    const short = (b) => ridge * stepBytes(catalog, model, b, b * kv, weightDtype) - b * twoN;
    if (ridge * kv >= twoN) return Infinity;
    const each = bytesPer(catalog, model, weightDtype);
    const margin = twoN - ridge * (kv + lookupBytes(model, 1, each));
    const rowsCappedAt = Math.min(model.vocab_size, model.max_position_embeddings);
    if (!model.is_moe && margin > 0) {
      const b = ridge * matrixParamsRead(model, 1) * each / margin;
      if (b <= rowsCappedAt) return b;
    }
    let low = 0, high = 1;
    while (short(high) > 0) { low = high; high = 2 * high; }
    for (let i = 0; i < 200; i++) {
      const mid = (low + high) / 2;
      if (short(mid) > 0) low = mid; else high = mid;
    }
    return high;
  }
  /** roofline.prefill_flops / prefill_bytes / prefill_intensity / prefill_time_bound */
  const prefillFlops = (model, promptLen) => promptLen * model.flops_per_token;
  const prefillBytes = (catalog, model, promptLen, { weightDtype, kvDtype } = {}) =>
    stepBytes(catalog, model, promptLen, kvBytesPerSequence(catalog, model, promptLen, kvDtype), weightDtype);
  const prefillIntensity = (catalog, model, promptLen, opts = {}) =>
    prefillFlops(model, promptLen) / prefillBytes(catalog, model, promptLen, opts);
  function prefillTimeBound(catalog, model, gpu, promptLen, { dtype, ...opts } = {}) {
    const peak = peakFlops(gpu, dtype || opts.weightDtype || model.dtype);
    return Math.max(prefillFlops(model, promptLen) / peak,
      prefillBytes(catalog, model, promptLen, opts) / gpu.bandwidth_bytes_per_s);
  }
  /** roofline.littles_law_concurrency / littles_law_throughput */
  const littlesLawConcurrency = (throughput, latencyS) => throughput * latencyS;
  const littlesLawThroughput = (concurrency, latencyS) => concurrency / latencyS;

  return {
    CalcError, mathDtype, GPU_MEMORY_UTILIZATION, BLOCK_SIZE, GiB, bytesPer, numParams, weightBytes,
    kvBytesPerToken, kvBytesPerSequence, kvBytesTotal, freeKvBytes, maxSequencesNaive,
    vllmPageSizeBytes, vllmReport, memoryUse, wholeSequences, peakFlops, ridgePoint, attainableFlops,
    expertsRead, decodeFlops, decodeBytes, decodeIntensity, decodeStep, decodeTokensPerS,
    utilization, criticalBatch, prefillFlops, prefillBytes, prefillIntensity, prefillTimeBound,
    littlesLawConcurrency, littlesLawThroughput,
  };
});
