// Bad input stays one clear error: every op added for third-party exports is run on random
// operands (dtypes, ranks, sizes including 0, wrong operand counts) and random attribute values,
// and must either produce outputs or throw an eff::Error. A crash, a hang or any other exception
// fails the test.
#include <gtest/gtest.h>

#include <random>

#include "op_test_util.h"

namespace eff {
namespace {

using namespace op_test;

Tensor random_operand(std::mt19937& rng) {
  static const DType kTypes[] = {DType::kFloat32, DType::kInt64, DType::kBool, DType::kFloat64, DType::kInt32};
  const DType dtype = kTypes[rng() % 5];
  const int rank = static_cast<int>(rng() % 5);
  Shape shape;
  for (int d = 0; d < rank; ++d) shape.push_back(static_cast<int64_t>(rng() % 4));
  Tensor t(dtype, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int v = static_cast<int>(rng() % 7) - 3;  // small values: indices, sizes and repeats in range or just out
    switch (dtype) {
      case DType::kFloat32:
        t.data<float>()[i] = static_cast<float>(v) * 0.75f;
        break;
      case DType::kFloat64:
        t.data<double>()[i] = v * 0.75;
        break;
      case DType::kInt64:
        t.data<int64_t>()[i] = v;
        break;
      case DType::kInt32:
        t.data<int32_t>()[i] = v;
        break;
      default:
        static_cast<uint8_t*>(t.raw())[i] = static_cast<uint8_t>(v > 0);
        break;
    }
  }
  return t;
}

std::map<std::string, Attribute> random_attrs(std::mt19937& rng) {
  static const char* kEquations[] = {"ij,jk->ik", "i,i", "...ij->...ji", "ii", "ij->", "i..j", "ab,bc,cd->ad", "->"};
  static const char* kModes[] = {"DCR", "CRD", "bilinear", "nearest", "bicubic", "bogus"};
  std::map<std::string, Attribute> a;
  const int64_t small = static_cast<int64_t>(rng() % 7) - 3;
  if (rng() % 2) a["axis"] = int_attr(small);
  if (rng() % 3 == 0) a["keepdims"] = int_attr(static_cast<int64_t>(rng() % 2));
  if (rng() % 3 == 0) a["blocksize"] = int_attr(static_cast<int64_t>(rng() % 4));
  if (rng() % 3 == 0) a["equation"] = string_attr(kEquations[rng() % 8]);
  if (rng() % 4 == 0) a["mode"] = string_attr(kModes[rng() % 6]);
  if (rng() % 4 == 0) a["fmod"] = int_attr(static_cast<int64_t>(rng() % 2));
  if (rng() % 4 == 0) a["batch_dims"] = int_attr(small);
  if (rng() % 2) a["hidden_size"] = int_attr(static_cast<int64_t>(rng() % 4));
  if (rng() % 4 == 0) a["direction"] = string_attr(rng() % 2 ? "bidirectional" : "reverse");
  if (rng() % 4 == 0) a["reduction"] = string_attr(rng() % 2 ? "add" : "max");
  return a;
}

TEST(OpsRobustness, RandomOperandsFailCleanly) {
  struct Arity {
    const char* op;
    int inputs, outputs;
  };
  const Arity kOps[] = {{"Pow", 2, 1},
                        {"Sqrt", 1, 1},
                        {"Exp", 1, 1},
                        {"Log", 1, 1},
                        {"Erf", 1, 1},
                        {"Neg", 1, 1},
                        {"Abs", 1, 1},
                        {"Reciprocal", 1, 1},
                        {"Floor", 1, 1},
                        {"Sign", 1, 1},
                        {"Selu", 1, 1},
                        {"Not", 1, 1},
                        {"Round", 1, 1},
                        {"Sin", 1, 1},
                        {"IsInf", 1, 1},
                        {"Equal", 2, 1},
                        {"Less", 2, 1},
                        {"And", 2, 1},
                        {"Xor", 2, 1},
                        {"Where", 3, 1},
                        {"Min", 2, 1},
                        {"Max", 3, 1},
                        {"Sum", 2, 1},
                        {"Mean", 3, 1},
                        {"Expand", 2, 1},
                        {"Tile", 2, 1},
                        {"Range", 3, 1},
                        {"ConstantOfShape", 1, 1},
                        {"ArgMax", 1, 1},
                        {"ArgMin", 1, 1},
                        {"LayerNormalization", 3, 3},
                        {"InstanceNormalization", 3, 1},
                        {"DepthToSpace", 1, 1},
                        {"SpaceToDepth", 1, 1},
                        {"Einsum", 2, 1},
                        {"Size", 1, 1},
                        {"ReduceL2", 2, 1},
                        {"ReduceProd", 1, 1},
                        {"ReduceLogSumExp", 1, 1},
                        {"Trilu", 2, 1},
                        {"CumSum", 2, 1},
                        {"GatherElements", 2, 1},
                        {"Hardmax", 1, 1},
                        {"Mod", 2, 1},
                        {"CastLike", 2, 1},
                        {"TopK", 2, 2},
                        {"NonZero", 1, 1},
                        {"GatherND", 2, 1},
                        {"ScatterND", 3, 1},
                        {"ScatterElements", 3, 1},
                        {"OneHot", 3, 1},
                        {"EyeLike", 1, 1},
                        {"NonMaxSuppression", 5, 1},
                        {"GridSample", 2, 1},
                        {"RNN", 3, 2},
                        {"GRU", 4, 2},
                        {"LSTM", 3, 3},
                        {"Scatter", 3, 1},
                        {"Softplus", 1, 1},
                        {"Mish", 1, 1}};
  std::mt19937 rng(20261206);
  int ran = 0, refused = 0;
  for (const Arity& entry : kOps) {
    const char* op = entry.op;
    for (int trial = 0; trial < 200; ++trial) {
      // Mostly the op's own operand count, and often one dtype for all operands, so that most
      // runs get past the arity and type checks into the kernel.
      const int count = rng() % 5 ? entry.inputs : static_cast<int>(rng() % 4);
      const bool one_type = rng() % 2;
      std::vector<std::optional<Tensor>> inputs;
      for (int i = 0; i < count; ++i) {
        Tensor t = random_operand(rng);
        if (one_type && t.dtype() != DType::kFloat32 && i != 1) t = t.cast(DType::kFloat32);
        inputs.push_back(std::move(t));
      }
      OpSpec spec{op, inputs, random_attrs(rng), entry.outputs, 11 + static_cast<int64_t>(rng() % 8)};
      try {
        run_op(spec);
        ++ran;
      } catch (const Error&) {
        ++refused;
      } catch (const std::exception& e) {
        ADD_FAILURE() << op << " threw a non-eff exception: " << e.what();
      }
    }
  }
  // Both outcomes occur: the random operands are neither all valid nor all invalid.
  EXPECT_GT(ran, 2000);
  EXPECT_GT(refused, 2000);
}

}  // namespace
}  // namespace eff
