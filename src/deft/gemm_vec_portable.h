// The portable backend V of the kernel family's templates (deft/gemm_body.h,
// deft/conv_small_body.h): 16 lanes as plain arrays the compiler vectorises as it can, with the
// same per-lane operations as the AVX-512 backend (deft/gemm_vec_avx512.h), so both give the same bits.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "deft/formats.h"
#include "deft/gemm_body.h"

namespace eff::deft::body {

// In an anonymous namespace, as the AVX-512 backend: each kernel file's own copy, which GCC inlines
// as it did when the struct was local to gemm_portable.cpp (bf16dot was 5% slower without).
namespace {

struct Portable {
  struct F {
    float v[16];
  };
  struct U {
    uint32_t v[16];
  };
  using Mask = uint32_t;
  static Mask prefix(int64_t n) { return n >= 16 ? 0xFFFFu : n <= 0 ? 0u : (1u << n) - 1; }
  F zero() const { return F{}; }
  F bcast(float x) const {
    F r;
    for (float& e : r.v) e = x;
    return r;
  }
  U bcast32(uint32_t x) const {
    U r;
    for (uint32_t& e : r.v) e = x;
    return r;
  }
  U load_u(const uint8_t* p) const {
    U r;
    std::memcpy(r.v, p, sizeof(r.v));
    return r;
  }
  F load(const float* p) const {
    F r;
    std::memcpy(r.v, p, sizeof(r.v));
    return r;
  }
  F load(const float* p, Mask m) const {  // 0 in the other lanes, which are not read
    F r{};
    for (int l = 0; l < 16; ++l)
      if (m >> l & 1) r.v[l] = p[l];
    return r;
  }
  void store(float* p, const F& x, Mask m) const {
    for (int l = 0; l < 16; ++l)
      if (m >> l & 1) p[l] = x.v[l];
  }
  void prefetch(const uint8_t*) const {}
  F add(const F& a, const F& b) const {
    F r;
    for (int l = 0; l < 16; ++l) r.v[l] = a.v[l] + b.v[l];
    return r;
  }
  F fma(const F& a, const F& b, const F& acc) const {
    F r;
    for (int l = 0; l < 16; ++l) r.v[l] = std::fma(a.v[l], b.v[l], acc.v[l]);
    return r;
  }
  F dot(const F& acc, const U& a, const U& b) const {
    F r;
    for (int l = 0; l < 16; ++l) r.v[l] = bf16_dot_step(acc.v[l], a.v[l], b.v[l]);
    return r;
  }
  F max(const F& a, const F& b) const {  // a > b ? a : b, as the vector max (NaN: b)
    F r;
    for (int l = 0; l < 16; ++l) r.v[l] = a.v[l] > b.v[l] ? a.v[l] : b.v[l];
    return r;
  }
  F max_lane_pairs(const F& x) const {  // lane t < 8: max(lane 2t, lane 2t + 1)
    F r{};
    for (int t = 0; t < 8; ++t) r.v[t] = x.v[2 * t] > x.v[2 * t + 1] ? x.v[2 * t] : x.v[2 * t + 1];
    return r;
  }
  template <Format FMT>
  void decode(const uint8_t* p, F& w0, F& w1, const DecodeCtx& ctx) const {
    if constexpr (FMT == Format::kFp32) {
      std::memcpy(w0.v, p, 64);
      std::memcpy(w1.v, p + 64, 64);
    } else if constexpr (FMT == Format::kDeft16 || FMT == Format::kDeft16Q) {
      uint32_t words[16];
      std::memcpy(words, p, 64);
      for (int l = 0; l < 16; ++l) {
        w0.v[l] = bits_to_float(words[l] << 16);
        w1.v[l] = bits_to_float(FMT == Format::kDeft16 ? words[l] & 0xFFFF0000u : words[l]);
      }
    } else if constexpr (FMT == Format::kFp8) {
      for (int l = 0; l < 32; ++l) {
        const uint32_t x = p[l];
        const uint32_t bits =
            ((x << 24) & 0x80000000u) | (((x << 25) >> (9 - ctx.fp8_exp_bits)) + ctx.fp8_exponent_offset);
        (l < 16 ? w0.v[l] : w1.v[l - 16]) = (x & ctx.fp8_exponent_mask) ? bits_to_float(bits) : 0.f;
      }
    }
  }
};

// The epilogue of a panel row as plain loops over its real lanes: the same operations as the
// generic body::store_panel_row (bias, then ReLU), which GCC 12 compiles worse for these structs
// (Deft-16Q at batch 1 was 17% slower through it).
inline __attribute__((always_inline)) void store_panel_row(const Portable&, float* dst, const Portable::F& a0,
                                                           const Portable::F& a1, int64_t lanes, const float* bias,
                                                           bool relu) {
  for (int64_t l = 0; l < lanes && l < 32; ++l) {
    float x = l < 16 ? a0.v[l] : a1.v[l - 16];
    if (bias) x += bias[l];
    if (relu) x = x > 0.f ? x : 0.f;
    dst[l] = x;
  }
}

}  // namespace

}  // namespace eff::deft::body
