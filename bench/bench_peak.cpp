// This CPU's measured peak per instruction family, one thread, registers only (no memory
// operands in the loop): the ceiling the DeftNN kernels and oneDNN are compared with in the `deft`
// bench section. Each loop keeps enough independent accumulators to cover the instruction's
// latency on every port that executes it, so it measures throughput:
//   fp32-fma     vfmadd231ps zmm: 16 lanes x 2 = 32 FLOP
//   avx512-bf16  vdpbf16ps zmm:   16 lanes x 2 pairs x 2 = 64 FLOP
//   vnni-int8    vpdpbusd zmm:    16 lanes x 4 u8*s8 x 2 = 128 OP
//   amx-bf16     tdpbf16ps:       16 x 16 outputs x 32 bf16 x 2 = 16384 FLOP
//   amx-int8     tdpbssd:         16 x 16 outputs x 64 s8 x 2 = 32768 OP
// Reported as the counter GFLOP/s (GOP/s for int8). Families the CPU lacks are skipped.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "deft/conv_amx.h"

#if defined(__x86_64__) && defined(__GNUC__)
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#if defined(__clang__)
#pragma clang attribute push(                                                                                \
    __attribute__((                                                                                          \
        target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx512vnni,amx-tile,amx-bf16,amx-int8,fma"))), \
    apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx512vnni,amx-tile,amx-bf16,amx-int8,fma")
#endif
#include <immintrin.h>

namespace {

using eff::deft::TileConfig;

constexpr int64_t kInner = 1024;  // loop trips per benchmark iteration
constexpr int kAcc = 16;          // independent zmm accumulators

bool has_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
}
bool has_vnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni");
}

void set_ops(benchmark::State& state, double ops_per_iteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(ops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The zmm families: kAcc chains of one instruction on constant operands.
template <class Step>
void zmm_loop(benchmark::State& state, Step step, double ops_per_instruction) {
  __m512 acc[kAcc];
  for (int a = 0; a < kAcc; ++a) acc[a] = _mm512_set1_ps(1e-3f * float(a));
  for (auto _ : state) {
    for (int64_t i = 0; i < kInner; ++i)
      for (int a = 0; a < kAcc; ++a) acc[a] = step(acc[a]);
    for (int a = 0; a < kAcc; ++a) benchmark::DoNotOptimize(acc[a]);
  }
  set_ops(state, ops_per_instruction * kInner * kAcc);
}

void BM_PeakFma(benchmark::State& state) {
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-6f);
  zmm_loop(
      state, [&](__m512 a) { return _mm512_fmadd_ps(a, x, y); }, 32);
  state.SetLabel("vfmadd231ps zmm");
}

void BM_PeakBf16(benchmark::State& state) {
  if (!has_bf16()) return state.SkipWithError("no AVX512-BF16");
  const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F803F80), y = (__m512bh)_mm512_set1_epi32(0x33803380);
  zmm_loop(
      state, [&](__m512 a) { return _mm512_dpbf16_ps(a, x, y); }, 64);
  state.SetLabel("vdpbf16ps zmm");
}

// vpdpbusd in assembly: from the intrinsic in zmm_loop GCC 12 copies every accumulator through a
// spare register or the stack each trip (two moves per dot product), which halved the count here
// (547 GOP/s, while oneDNN's u8s8 convs ran at up to 1.9 times that).
void vnni_steps(int64_t n) {
  __asm__ volatile(
      "vpternlogd $0xff, %%zmm16, %%zmm16, %%zmm16\n\t"  // all ones: u8 255 and s8 -1
      "vmovdqa64 %%zmm16, %%zmm17\n\t"
      "1:\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm0\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm1\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm2\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm3\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm4\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm5\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm6\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm7\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm8\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm9\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm10\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm11\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm12\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm13\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm14\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm15\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "cc");
}

void BM_PeakVnni(benchmark::State& state) {
  if (!has_vnni()) return state.SkipWithError("no AVX512-VNNI");
  for (auto _ : state) vnni_steps(kInner);
  set_ops(state, 128.0 * kInner * kAcc);
  state.SetLabel("vpdpbusd zmm");
}

// Four independent C tiles (0-3) from two A (4-5) and two B (6-7) tiles loaded once, the 2 x 2
// blocking the kernels use, without the loads.
void amx_setup(const void* operands) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  __asm__ volatile("" : : "m"(cfg));  // GCC 12's _tile_loadconfig claims to read 8 of the 64 bytes
  _tile_loadconfig(&cfg);
  _tile_zero(0);  // tile numbers are immediates
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, operands, 64);
  _tile_loadd(5, operands, 64);
  _tile_loadd(6, operands, 64);
  _tile_loadd(7, operands, 64);
}

void amx_bf16_steps(int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
}

void amx_int8_steps(int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    _tile_dpbssd(0, 4, 6);
    _tile_dpbssd(1, 4, 7);
    _tile_dpbssd(2, 5, 6);
    _tile_dpbssd(3, 5, 7);
  }
}

void amx_finish(void* sink) {
  _tile_stored(0, sink, 64);
  _tile_release();
}

void BM_PeakAmx(benchmark::State& state, bool int8) {
  if (!eff::deft::amx_available() || (int8 && !has_vnni()))
    return state.SkipWithError("no AMX (or the kernel refused the tile state)");
  alignas(64) static uint8_t operands[1024] = {1};
  alignas(64) static float sink[256];
  amx_setup(operands);
  for (auto _ : state) {
    if (int8)
      amx_int8_steps(kInner / 4);
    else
      amx_bf16_steps(kInner / 4);
  }
  amx_finish(sink);
  benchmark::DoNotOptimize(sink);
  set_ops(state, (int8 ? 32768.0 : 16384.0) * kInner);
  state.SetLabel(int8 ? "tdpbssd" : "tdpbf16ps");
}

[[maybe_unused]] const bool registered = [] {
  benchmark::RegisterBenchmark("DeftPeak/fp32-fma", BM_PeakFma)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("DeftPeak/avx512-bf16", BM_PeakBf16)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("DeftPeak/vnni-int8", BM_PeakVnni)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("DeftPeak/amx-bf16", BM_PeakAmx, false)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("DeftPeak/amx-int8", BM_PeakAmx, true)->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
