// The DeftNN kernel family: C[j][i] = sum_k S[j][k] * W[i][k] (+ bias[i], ReLU) with W packed
// in one of the formats of deft/formats.h and unpacked in registers right before the multiply.
// W is the weight matrix (M x K: FC [out][in], conv [filters][C*Kh*Kw]); S holds J rows of K
// activations (FC: the batch rows; conv: one im2row patch per output pixel). Lanes run over
// weight rows i in panels of 32, so packed weights stream once per panel; each output is one
// fixed sequence of fused multiply-adds over k, identical on every ISA and thread count, which
// is what makes gemm() equal gemm_reference() bit for bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deft/formats.h"

namespace eff::deft {

constexpr int64_t kPanelLanes = 32;

// x rounded up to a multiple of `to` (x >= 0, to > 0): panels, tiles, padded rows and planes.
constexpr int64_t round_up(int64_t x, int64_t to) {
  return (x + to - 1) / to * to;
}

struct PackedWeights {
  Format format = Format::kFp32;
  Fp8Spec fp8;
  int64_t rows = 0;   // M
  int64_t depth = 0;  // K
  int64_t steps = 0;  // k steps per panel: K, or ceil(K/2) for kBf16Dot (pairs)
  int64_t step_bytes = 0;
  std::vector<uint8_t> data;  // panel-major: [panel][step][step_bytes]

  int64_t panels() const { return (rows + kPanelLanes - 1) / kPanelLanes; }
  const uint8_t* panel(int64_t p) const { return data.data() + p * steps * step_bytes; }
  // The weight as the kernel multiplies it (for kBf16Dot: the bf16 value).
  float decoded(int64_t i, int64_t k) const;
  int64_t bytes() const { return static_cast<int64_t>(data.size()); }
};

// Packs the row-major M x K matrix `w` (row stride ldw). For kFp8 the exponent width and bias
// are chosen on the matrix itself unless `fp8` is given.
PackedWeights pack_weights(Format f, const float* w, int64_t m, int64_t k, int64_t ldw, const Fp8Spec* fp8 = nullptr);

struct Epilogue {
  const float* bias = nullptr;  // M values, or none
  bool relu = false;            // max(x, 0); NaN becomes 0 as with the CPU's max instruction
  // A residual block's shortcut, laid out as the output, added after the bias and before the ReLU
  // (a fused Add + Relu). The direct convs read it (amx_conv, small_conv without a pool); the GEMMs
  // must be given none (their output is not laid out as the conv's: DeftLayer adds it after them).
  const float* residual = nullptr;
};

// kAmx: bf16dot on the AMX tile unit (deft/gemm_amx.cpp); other formats run kAvx512 under it.
enum class Isa { kAuto, kPortable, kAvx512, kAmx };
Isa best_isa();  // kAvx512 when the CPU has AVX-512 F/BW/VL and BF16
// What gemm() runs for format f when asked for `isa`: kAuto is kAmx for kBf16Dot where
// amx_available() (deft/conv_amx.h), else best_isa(); an ISA the CPU lacks falls back the same way.
Isa isa_for(Format f, Isa isa = Isa::kAuto);
std::string isa_name(Isa isa);

// C (J x M, row stride ldc) from S (J x K, row stride lds). threads <= 0: OpenMP's default.
void gemm(const PackedWeights& w, const float* s, int64_t j, int64_t lds, float* c, int64_t ldc, const Epilogue& e = {},
          Isa isa = Isa::kAuto, int threads = 1);
// The same with S[r][k] at s[r * row_stride + k * step_stride]: step_stride 1 is gemm(); row_stride 1
// reads S stored K x J (a conv's im2col, whose rows are copies of input rows), same results.
void gemm_strided(const PackedWeights& w, const float* s, int64_t j, int64_t row_stride, int64_t step_stride, float* c,
                  int64_t ldc, const Epilogue& e = {}, Isa isa = Isa::kAuto, int threads = 1);

// C from the columns `columns[0..w.depth)` of S (J x lds): an FC layer's kept synapses after SVE.
// The same bits as gemm() on the gathered rows; one or two rows (not kBf16Dot) read through the list,
// more are gathered into `scratch` first.
void gemm_columns(const PackedWeights& w, const float* s, int64_t j, int64_t lds, const int32_t* columns, float* c,
                  int64_t ldc, std::vector<float>& scratch, const Epilogue& e = {}, Isa isa = Isa::kAuto,
                  int threads = 1);

// The scalar definition the kernels must equal bit for bit: per output, acc = 0, then for each k in
// order acc = fma(S[j][k], decoded W[i][k], acc) (kBf16Dot: for each pair p, bf16_dot_step with
// S rounded to bf16), then the epilogue.
void gemm_reference(const PackedWeights& w, const float* s, int64_t j, int64_t lds, float* c, int64_t ldc,
                    const Epilogue& e = {});

// Activation rows as bf16 pairs (the kBf16Dot kernel's other operand): out[j][p] holds S[j][2p] in
// its low half and S[j][2p+1] (0 past K) in its high half, each rounded to nearest even. S[r][k] is
// at s[r * row_stride + k * step_stride].
void pack_bf16_pairs(const float* s, int64_t j, int64_t k, int64_t row_stride, int64_t step_stride, uint32_t* out);
// The same pairs step-major, out[p][r] = out[p * j + r], from S stored step-major (a conv's im2col,
// S[r][k] at s[r + k * step_stride]): reads and writes both run along r.
void pack_bf16_pairs_by_step(const float* s, int64_t j, int64_t k, int64_t step_stride, uint32_t* out);

// Kernels per ISA (deft/gemm_portable.cpp, deft/gemm_avx512.cpp). Panels [p0, p1), rows [j0, j1).
struct GemmTask {
  const PackedWeights* w;
  const float* s;         // fp32 rows, or null for kBf16Dot
  const uint32_t* pairs;  // bf16 pair rows for kBf16Dot
  int64_t row_stride;     // of s or pairs, in elements
  int64_t step_stride;    // between k steps of s or pairs
  float* c;
  int64_t ldc;
  Epilogue e;
  const int32_t* columns = nullptr;  // row tiles only: step k reads S[r][columns[k]] (gemm_columns)
};
void gemm_block_portable(const GemmTask& t, int64_t panel, int64_t j0, int64_t j1);
void gemm_block_avx512(const GemmTask& t, int64_t panel, int64_t j0, int64_t j1);
// Rows [j0, j1) one at a time over panels [p0, p1), several panels at once (small batches).
void gemm_rows_portable(const GemmTask& t, int64_t p0, int64_t p1, int64_t j0, int64_t j1);
void gemm_rows_avx512(const GemmTask& t, int64_t p0, int64_t p1, int64_t j0, int64_t j1);
// The AMX micro-kernel (deft/gemm_amx.cpp; kBf16Dot only, after amx_available()): gemm() lays out
// its operands with amx_gemm_operands(), then runs its panel tasks with the same driver as the
// vector blocks', each thread configuring the tiles before its first task (amx_gemm_begin) and
// releasing them after its last (amx_gemm_end).
struct AmxGemmTask {
  const PackedWeights* w;
  const uint32_t* a;  // activation pairs, [j rounded up to row_tile][a_stride], zeros in the padding
  int64_t a_stride;   // pairs per row, a multiple of 16
  int64_t j;          // valid rows
  int64_t row_tile;   // rows per task: 32 (2 x 2 tiles), or 16 when J <= 16
  float* c;
  int64_t ldc;
  Epilogue e;
};
AmxGemmTask amx_gemm_operands(const PackedWeights& w, const float* s, int64_t j, int64_t row_stride,
                              int64_t step_stride, float* c, int64_t ldc, const Epilogue& e);
void amx_gemm_begin(const AmxGemmTask& t);
void amx_gemm_block(const AmxGemmTask& t, int64_t panel, int64_t j0, int64_t j1);
void amx_gemm_end();

}  // namespace eff::deft
