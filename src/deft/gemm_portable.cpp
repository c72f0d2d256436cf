// The portable backend of the kernel family (plain C++ the compiler vectorises as it can), the
// packing, the scalar reference and the driver that dispatches to the fastest backend.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "deft/conv_amx.h"
#include "deft/gemm.h"
#include "deft/gemm_body.h"
#include "deft/gemm_vec_portable.h"

namespace eff::deft {

namespace {

using body::Portable;

float epilogue(float acc, const Epilogue& e, int64_t i) {
  if (e.bias) acc += e.bias[i];
  if (e.relu) acc = acc > 0.f ? acc : 0.f;
  return acc;
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

}  // namespace

void gemm_block_portable(const GemmTask& t, int64_t panel, int64_t j0, int64_t j1) {
  body::run_block(t, Portable{}, panel, j0, j1);
}

void gemm_rows_portable(const GemmTask& t, int64_t p0, int64_t p1, int64_t j0, int64_t j1) {
  body::run_rows(t, Portable{}, p0, p1, j0, j1);
}

Isa best_isa() {
  static const Isa isa = cpu_has_avx512_bf16() ? Isa::kAvx512 : Isa::kPortable;
  return isa;
}

std::string isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAuto:
      return isa_name(best_isa());
    case Isa::kPortable:
      return "portable";
    case Isa::kAvx512:
      return "avx512-bf16";
    case Isa::kAmx:
      return "amx-bf16";
  }
  return "?";
}

Isa isa_for(Format f, Isa isa) {
  if ((isa == Isa::kAuto || isa == Isa::kAmx) && f == Format::kBf16Dot && amx_available()) return Isa::kAmx;
  if (isa == Isa::kAuto || isa == Isa::kAmx) return best_isa();
  return isa == Isa::kAvx512 && best_isa() != Isa::kAvx512 ? Isa::kPortable : isa;
}

PackedWeights pack_weights(Format f, const float* w, int64_t m, int64_t k, int64_t ldw, const Fp8Spec* fp8) {
  if (m <= 0 || k <= 0) throw ShapeError("deft: packing an empty weight matrix");
  if (f == Format::kInt8) throw ShapeError("deft: int8 is not a packed-GEMM format (deft/int8_layer.h)");
  PackedWeights p;
  p.format = f;
  p.rows = m;
  p.depth = k;
  p.steps = f == Format::kBf16Dot ? (k + 1) / 2 : k;
  p.step_bytes = f == Format::kFp8 ? 32 : (f == Format::kDeft16 || f == Format::kDeft16Q) ? 64 : 128;
  if (f == Format::kFp8) {
    if (fp8) {
      p.fp8 = *fp8;
    } else {
      std::vector<float> all;
      all.reserve(static_cast<size_t>(m * k));
      for (int64_t i = 0; i < m; ++i) all.insert(all.end(), w + i * ldw, w + i * ldw + k);
      p.fp8 = choose_fp8_spec(all);
    }
  }
  p.data.assign(static_cast<size_t>(p.panels() * p.steps * p.step_bytes), 0);
  auto at = [&](int64_t i, int64_t kk) { return i < m && kk < k ? w[i * ldw + kk] : 0.f; };
  for (int64_t pn = 0; pn < p.panels(); ++pn) {
    for (int64_t s = 0; s < p.steps; ++s) {
      uint8_t* dst = p.data.data() + (pn * p.steps + s) * p.step_bytes;
      const int64_t i0 = pn * kPanelLanes;
      for (int64_t l = 0; l < kPanelLanes; ++l) {
        const int64_t i = i0 + l;
        switch (f) {
          case Format::kFp32: {
            const float x = at(i, s);
            std::memcpy(dst + 4 * l, &x, 4);
            break;
          }
          case Format::kDeft16:
          case Format::kDeft16Q: {
            // Rows past M are never stored, but in Deft-16Q a high lane's whole word is its value:
            // a padding 0 above a real low half would be a denormal, and FMAs on denormals take
            // a microcode assist each (lenet5's fc1, M = 120: 4x slower). 1.0 there keeps the
            // discarded lanes normal.
            const uint16_t h = f == Format::kDeft16Q && i >= m && l >= 16 ? to_deft16(1.f) : to_deft16(at(i, s));
            std::memcpy(dst + 4 * (l % 16) + 2 * (l / 16), &h, 2);  // little endian: lane l+16 high
            break;
          }
          case Format::kFp8:
            dst[l] = fp8_encode(at(i, s), p.fp8);
            break;
          case Format::kBf16Dot: {
            const uint32_t word = uint32_t(to_bf16(at(i, 2 * s))) | uint32_t(to_bf16(at(i, 2 * s + 1))) << 16;
            std::memcpy(dst + 4 * l, &word, 4);
            break;
          }
          case Format::kInt8:  // refused above
            break;
        }
      }
    }
  }
  return p;
}

float PackedWeights::decoded(int64_t i, int64_t k) const {
  const int64_t pn = i / kPanelLanes, l = i % kPanelLanes;
  const int64_t s = format == Format::kBf16Dot ? k / 2 : k;
  const uint8_t* step = data.data() + (pn * steps + s) * step_bytes;
  uint32_t word;
  switch (format) {
    case Format::kFp32: {
      float x;
      std::memcpy(&x, step + 4 * l, 4);
      return x;
    }
    case Format::kDeft16:
    case Format::kDeft16Q:
      std::memcpy(&word, step + 4 * (l % 16), 4);
      if (l < 16) return deft16q_low(word);
      return format == Format::kDeft16 ? from_deft16(static_cast<uint16_t>(word >> 16)) : deft16q_high(word);
    case Format::kFp8:
      return fp8_decode(step[l], fp8);
    case Format::kBf16Dot:
      std::memcpy(&word, step + 4 * l, 4);
      return bits_to_float(k % 2 ? word & 0xFFFF0000u : word << 16);
    case Format::kInt8:  // never packed
      break;
  }
  return 0;
}

void pack_bf16_pairs(const float* s, int64_t j, int64_t k, int64_t row_stride, int64_t step_stride, uint32_t* out) {
  const int64_t pairs = (k + 1) / 2;
  if (row_stride == 1 && step_stride != 1) {
    // A conv's im2col (a step's rows contiguous): blocks of 16 rows, so each step is read as one
    // contiguous run (the row-by-row loop read one float per cache line).
    constexpr int64_t kRows = 16;
    for (int64_t r0 = 0; r0 < j; r0 += kRows) {
      const int64_t rows = std::min(kRows, j - r0);
      for (int64_t p = 0; p < pairs; ++p) {
        const float* lo = s + r0 + 2 * p * step_stride;
        const float* hi = lo + step_stride;
        uint32_t* o = out + r0 * pairs + p;
        if (2 * p + 1 < k) {
          for (int64_t r = 0; r < rows; ++r) o[r * pairs] = uint32_t(to_bf16(lo[r])) | uint32_t(to_bf16(hi[r])) << 16;
        } else {
          for (int64_t r = 0; r < rows; ++r) o[r * pairs] = to_bf16(lo[r]);
        }
      }
    }
    return;
  }
  for (int64_t r = 0; r < j; ++r) {
    const float* row = s + r * row_stride;
    for (int64_t p = 0; p < pairs; ++p) {
      const uint32_t lo = to_bf16(row[2 * p * step_stride]);
      const uint32_t hi = 2 * p + 1 < k ? to_bf16(row[(2 * p + 1) * step_stride]) : 0;
      out[r * pairs + p] = lo | hi << 16;
    }
  }
}

void pack_bf16_pairs_by_step(const float* s, int64_t j, int64_t k, int64_t step_stride, uint32_t* out) {
  for (int64_t p = 0; p < (k + 1) / 2; ++p) {
    const float* lo = s + 2 * p * step_stride;
    const float* hi = lo + step_stride;
    uint32_t* o = out + p * j;
    if (2 * p + 1 < k) {
      for (int64_t r = 0; r < j; ++r) o[r] = uint32_t(to_bf16(lo[r])) | uint32_t(to_bf16(hi[r])) << 16;
    } else {
      for (int64_t r = 0; r < j; ++r) o[r] = to_bf16(lo[r]);
    }
  }
}

void gemm_reference(const PackedWeights& w, const float* s, int64_t j, int64_t lds, float* c, int64_t ldc,
                    const Epilogue& e) {
  std::vector<uint32_t> pairs;
  if (w.format == Format::kBf16Dot) {
    pairs.resize(static_cast<size_t>(j * w.steps));
    pack_bf16_pairs(s, j, w.depth, lds, 1, pairs.data());
  }
  for (int64_t r = 0; r < j; ++r) {
    for (int64_t i = 0; i < w.rows; ++i) {
      float acc = 0;
      if (w.format == Format::kBf16Dot) {
        for (int64_t p = 0; p < w.steps; ++p) {
          const uint32_t wpair =
              to_bf16(w.decoded(i, 2 * p)) | uint32_t(2 * p + 1 < w.depth ? to_bf16(w.decoded(i, 2 * p + 1)) : 0) << 16;
          acc = bf16_dot_step(acc, wpair, pairs[r * w.steps + p]);
        }
      } else {
        for (int64_t k = 0; k < w.depth; ++k) acc = std::fma(s[r * lds + k], w.decoded(i, k), acc);
      }
      c[r * ldc + i] = epilogue(acc, e, i);
    }
  }
}

void gemm(const PackedWeights& w, const float* s, int64_t j, int64_t lds, float* c, int64_t ldc, const Epilogue& e,
          Isa isa, int threads) {
  gemm_strided(w, s, j, lds, 1, c, ldc, e, isa, threads);
}

constexpr int64_t kRowsPerPanelGroup = 2;

namespace {
void gemm_impl(const PackedWeights& w, const float* s, int64_t j, int64_t row_stride, int64_t step_stride,
               const int32_t* columns, float* c, int64_t ldc, const Epilogue& e, Isa isa, int threads);
}  // namespace

void gemm_strided(const PackedWeights& w, const float* s, int64_t j, int64_t row_stride, int64_t step_stride, float* c,
                  int64_t ldc, const Epilogue& e, Isa isa, int threads) {
  gemm_impl(w, s, j, row_stride, step_stride, nullptr, c, ldc, e, isa, threads);
}

void gemm_columns(const PackedWeights& w, const float* s, int64_t j, int64_t lds, const int32_t* columns, float* c,
                  int64_t ldc, std::vector<float>& scratch, const Epilogue& e, Isa isa, int threads) {
  if (j <= kRowsPerPanelGroup && w.format != Format::kBf16Dot) {
    gemm_impl(w, s, j, lds, 1, columns, c, ldc, e, isa, threads);
    return;
  }
  scratch.resize(static_cast<size_t>(j * w.depth));
  for (int64_t r = 0; r < j; ++r)
    for (int64_t q = 0; q < w.depth; ++q) scratch[r * w.depth + q] = s[r * lds + columns[q]];
  gemm_impl(w, scratch.data(), j, w.depth, 1, nullptr, c, ldc, e, isa, threads);
}

namespace {

// The family's task driver: tasks of one panel by a block of `rows` activation rows (the last one
// shorter), row blocks outer, so consecutive tasks share activation rows while the panels stream
// past, and a panel's packed weights are reused across a block's rows while they sit in L2. Every
// output belongs to one task, so results do not depend on the thread count. `block(panel, j0, j1)`
// is the micro-kernel policy (vector tiles, vdpbf16ps tiles, AMX tiles); `begin()` and `end()` run
// on each thread of the team around its tasks (the AMX policy configures and releases the tiles).
template <class Block, class Begin, class End>
void run_panel_tasks(int64_t panels, int64_t j, int64_t rows, int nthreads, const Block& block, const Begin& begin,
                     const End& end) {
  const int64_t row_blocks = (j + rows - 1) / rows, tasks = panels * row_blocks;
  auto task = [&](int64_t t) {
    const int64_t rb = t / panels;
    block(t % panels, rb * rows, std::min(j, (rb + 1) * rows));
  };
  if (nthreads == 1 || tasks == 1) {  // no OpenMP region: libgomp allocates even a team of one
    begin();
    for (int64_t t = 0; t < tasks; ++t) task(t);
    end();
    return;
  }
#pragma omp parallel num_threads(nthreads)
  {
    begin();
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) task(t);
    end();
  }
}

void gemm_impl(const PackedWeights& w, const float* s, int64_t j, int64_t row_stride, int64_t step_stride,
               const int32_t* columns, float* c, int64_t ldc, const Epilogue& e, Isa isa, int threads) {
  if (j <= 0) return;
  const bool chosen = isa == Isa::kAuto;
  isa = isa_for(w.format, isa);
  // One or two rows fill 1-2 of a tile's 16 rows: vdpbf16ps over several panels at once is faster
  // there (lenet5's fc1 at batch 1: 3.7 -> ~1 us). Asked for kAmx explicitly, the tiles still run.
  if (isa == Isa::kAmx && chosen && j <= kRowsPerPanelGroup) isa = best_isa();
  // A team costs a barrier; on a loaded machine a small GEMM waits longer for it than it computes.
  const double flops = 2.0 * double(w.rows) * double(w.depth) * double(j);
  const int nthreads = flops < 8e6 ? 1 : threads > 0 ? threads : omp_get_max_threads();
  if (isa == Isa::kAmx) {
    const AmxGemmTask a = amx_gemm_operands(w, s, j, row_stride, step_stride, c, ldc, e);
    run_panel_tasks(
        w.panels(), j, a.row_tile, nthreads, [&](int64_t p, int64_t j0, int64_t j1) { amx_gemm_block(a, p, j0, j1); },
        [&] { amx_gemm_begin(a); }, amx_gemm_end);
    return;
  }
  GemmTask t{&w, s, nullptr, row_stride, step_stride, c, ldc, e, columns};
  thread_local std::vector<uint32_t> pairs;
  if (w.format == Format::kBf16Dot) {
    pairs.resize(static_cast<size_t>(j * w.steps));
    t.s = nullptr;
    t.pairs = pairs.data();
    if (row_stride == 1 && step_stride != 1) {
      // A conv's im2col: step-major pairs, packed along contiguous runs (row-major packing here
      // was a strided transpose: a fifth of resnet's bf16dot time without AMX).
      pack_bf16_pairs_by_step(s, j, w.depth, step_stride, pairs.data());
      t.row_stride = 1;
      t.step_stride = j;
    } else {
      pack_bf16_pairs(s, j, w.depth, row_stride, step_stride, pairs.data());
      t.row_stride = w.steps;
      t.step_stride = 1;
    }
  }
  // One or two rows (batch 1 FC layers): each row over several panels at once, tasks of groups
  // of panels (a row tile of one panel would leave its two FMA chains latency-bound).
  if (j <= kRowsPerPanelGroup) {
    auto rows = isa == Isa::kAvx512 ? gemm_rows_avx512 : gemm_rows_portable;
    const int64_t panels = w.panels(), groups = (panels + 3) / 4;
    if (nthreads == 1 || groups == 1) {  // no OpenMP region: libgomp allocates even a team of one
      rows(t, 0, panels, 0, j);
      return;
    }
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t g = 0; g < groups; ++g) rows(t, g * 4, std::min(panels, g * 4 + 4), 0, j);
    return;
  }
  // Blocks of 48 rows: 8 tiles of 6 rows per panel task.
  constexpr int64_t kRowsPerTask = 48;
  auto block = isa == Isa::kAvx512 ? gemm_block_avx512 : gemm_block_portable;
  run_panel_tasks(
      w.panels(), j, kRowsPerTask, nthreads, [&](int64_t p, int64_t j0, int64_t j1) { block(t, p, j0, j1); }, [] {},
      [] {});
}

}  // namespace

}  // namespace eff::deft
