// Per-layer value transforms applied before a conv/FC layer consumes its operands: the
// "what if the hardware saw these values" knob behind every accuracy-in-the-loop study.
//   - fixed point: `int_bits` and `frac_bits`, signed (two's complement, the sign counted in
//     int_bits) or unsigned (no sign bit: post-ReLU activations), round to nearest (ties away
//     from zero) and saturation (Stripes-family precision profiles);
//   - near-zero pruning: |a| < threshold -> 0 (Cnvlutin);
//   - uniform 8-bit quantization (per-sample range for activations, per-tensor for weights).
#pragma once

#include <optional>
#include <string>

#include "core/tensor.h"

namespace eff {

// The precision P of a layer (seed 001 Table 2) is total_bits(): for a signed format it counts the
// sign bit, for an unsigned one only magnitude bits. Codes are value / 2^-frac_bits in
// [min_code(), max_code()]: signed [-2^(P-1), 2^(P-1) - 1], unsigned [0, 2^P - 1].
struct FixedPointFormat {
  int int_bits = 16;  // signed: including the sign bit
  int frac_bits = 0;
  bool is_signed = true;
  int total_bits() const { return int_bits + frac_bits; }
  double step() const;
  double max_value() const;  // largest representable value
  double min_value() const;  // most negative representable value (0 when unsigned)
  int32_t max_code() const;
  int32_t min_code() const;
  bool operator==(const FixedPointFormat&) const = default;
};

// Throws ConfigError (prefixed with `where`) unless the format fits the simulator's 16-bit
// storage: signed 1 <= int_bits, 1 <= int_bits + frac_bits <= 16; unsigned 0 <= int_bits,
// 1 <= int_bits + frac_bits <= 15 (an unsigned 16-bit code does not fit a signed 16-bit word).
void validate_fixed_point(const FixedPointFormat& f, const std::string& where);

enum class OperandTransform { kNone, kFixedPoint, kUniform8 };

struct OperandSpec {
  OperandTransform kind = OperandTransform::kNone;
  FixedPointFormat fixed;  // when kind == kFixedPoint
  // False for profiles written before formats carried "signed": the format is then signed (int_bits
  // count a sign bit) and the simulator derives the sign from the data (docs/value-hooks.md).
  bool sign_stated = true;
  bool operator==(const OperandSpec&) const = default;
};

struct LayerTransform {
  OperandSpec activations;
  OperandSpec weights;
  float prune_threshold = 0;  // activations with |a| < threshold become 0; applied before quantization
  bool active() const {
    return activations.kind != OperandTransform::kNone || weights.kind != OperandTransform::kNone ||
           prune_threshold > 0;
  }
};

// Fixed-point round trip of one value (the value the hardware would compute with).
float quantize_fixed(float x, const FixedPointFormat& f);
// The same as an integer in units of 2^-frac_bits (what a bit-serial unit would see).
int32_t to_fixed_int(float x, const FixedPointFormat& f);

// In place on float32 data. `sample_size` splits activations into per-sample ranges for kUniform8
// (0 = whole tensor).
void apply_operand_transform(float* data, int64_t n, const OperandSpec& spec, int64_t sample_size = 0);
void apply_prune(float* data, int64_t n, float threshold);
// Out of place, in one pass: dst = quantize_fixed(|src| < threshold ? 0 : src). The executor's
// fast path for the common hook (fixed point, optionally with pruning). `dst` must not overlap.
void prune_and_quantize_fixed(const float* src, float* dst, int64_t n, float threshold, const FixedPointFormat& f);
// The same in place: for activations no later node reads (no copy to write and read back).
void prune_and_quantize_fixed_in_place(float* data, int64_t n, float threshold, const FixedPointFormat& f);

}  // namespace eff
