// DeftNN kernels (src/deft) against oneDNN on the same GEMM shapes, one thread each: our kernel
// family in every packed format, oneDNN's fp32 matmul, its bf16 matmul (bf16 activations and
// weights, fp32 output) and its int8 matmul (u8 activations, s8 weights, per-channel output scales,
// fp32 output; oneDNN picks AMX-INT8 or VNNI itself): the strongest peers Debian's oneDNN 2.6 offers
// on this CPU. Shapes are conv/FC layers as GEMMs, Out (J x M) = In (J x K) W^T: the shipped vgg
// model's layers and large VGG-16 ones (conv in im2col view, J = output pixels; FC at batch 1 and
// 32). bf16dot runs on the AMX tiles where the CPU has them; bf16dot-avx512 is the same format on
// vdpbf16ps. Reported as GFLOP/s counters (GOP/s for int8); tools/bench.js turns them into ratios
// against oneDNN fp32 of the same run and fractions of the peaks bench_peak.cpp measures.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <vector>

#include "deft/conv_amx.h"
#include "deft/conv_small.h"
#include "deft/deft_layer.h"
#include "deft/gemm.h"
#include "deft/int8_direct_conv.h"
#include "deft/int8_layer.h"
#include "deft/int8_small_conv.h"
#include "engine/dnnl_env.h"

namespace {

using namespace eff::deft;

struct Shape {
  const char* name;
  int64_t m, k, j;
  bool every_format = true;  // false: only bf16dot and the peers (fc6's 400 MB of fp32 weights)
};

constexpr Shape kShapes[] = {
    {"vgg-conv1", 32, 288, 784},        // shipped vgg (fashion-mnist): features.3
    {"vgg-conv5", 128, 1152, 49},       // features.17
    {"vgg-fc1-b1", 256, 1152, 1},       // classifier, batch 1
    {"vgg-fc1-b32", 256, 1152, 32},     // classifier, batch 32
    {"vgg16-conv5_2", 512, 4608, 196},  // VGG-16 at 224x224, 14x14 outputs
    {"vgg16-conv4_2", 512, 4608, 784},  // 28x28 outputs
    {"vgg16-fc7-b1", 4096, 4096, 1},
    {"vgg16-fc7-b32", 4096, 4096, 32},
    {"vgg16-fc6-b1", 4096, 25088, 1, false},
    {"vgg16-fc6-b32", 4096, 25088, 32, false},
    {"vgg16-fc8-b1", 1000, 4096, 1, false},
    {"vgg16-fc8-b32", 1000, 4096, 32, false},
};

enum class Peer { kFp32, kBf16, kInt8 };

std::vector<uint8_t> bytes(size_t n, uint32_t seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<uint8_t> v(n);
  for (uint8_t& x : v) x = static_cast<uint8_t>(d(rng));
  return v;
}

std::vector<float> values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.1f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void set_flops(benchmark::State& state, const Shape& s) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(s.m * s.k * s.j) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Deft(benchmark::State& state, Shape s, Format f, Isa isa) {
  const auto w = values(s.m * s.k, 1), in = values(s.j * s.k, 2);
  const PackedWeights p = pack_weights(f, w.data(), s.m, s.k, s.k);
  std::vector<float> out(s.j * s.m);
  for (auto _ : state) {
    gemm(p, in.data(), s.j, s.k, out.data(), s.m, {}, isa, 1);
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state, s);
  state.SetLabel(isa_name(isa_for(f, isa)));
}

void BM_OneDnn(benchmark::State& state, Shape s, Peer peer) {
  using namespace dnnl;
  omp_set_num_threads(1);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  using dt = memory::data_type;
  const dt src_dt = peer == Peer::kInt8 ? dt::u8 : peer == Peer::kBf16 ? dt::bf16 : dt::f32;
  const dt wei_dt = peer == Peer::kInt8 ? dt::s8 : src_dt;
  const memory::desc src_md({s.j, s.k}, src_dt, memory::format_tag::ab);
  const memory::desc wei_any({s.k, s.m}, wei_dt, memory::format_tag::any);
  const memory::desc dst_md({s.j, s.m}, dt::f32, memory::format_tag::ab);
  primitive_attr attr;  // int8: per-output-channel scales, as a quantized FC dequantizes
  if (peer == Peer::kInt8) attr.set_output_scales(1 << 1, std::vector<float>(static_cast<size_t>(s.m), 1e-3f));
  matmul::primitive_desc pd(matmul::desc(src_md, wei_any, dst_md), attr, eng);
  // User data (fp32, or u8 / s8 for int8), converted and laid out as oneDNN prefers outside the timing.
  auto w = values(s.m * s.k, 1), in = values(s.j * s.k, 2);
  auto w8 = bytes(peer == Peer::kInt8 ? s.m * s.k : 0, 1, -127, 127),
       in8 = bytes(peer == Peer::kInt8 ? s.j * s.k : 0, 2, 0, 255);
  const bool q = peer == Peer::kInt8;
  memory w_user({{s.k, s.m}, q ? dt::s8 : dt::f32, memory::format_tag::ba}, eng,
                q ? (void*)w8.data() : (void*)w.data());
  memory in_user({{s.j, s.k}, q ? dt::u8 : dt::f32, memory::format_tag::ab}, eng,
                 q ? (void*)in8.data() : (void*)in.data());
  memory w_mem(pd.weights_desc(), eng), in_mem(src_md, eng), out_mem(dst_md, eng);
  reorder(w_user, w_mem).execute(strm, w_user, w_mem);
  reorder(in_user, in_mem).execute(strm, in_user, in_mem);
  matmul prim(pd);
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, in_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, out_mem}});
    strm.wait();
  }
  set_flops(state, s);
  state.SetLabel(pd.impl_info_str());
}

// Conv layers as convs (3x3, stride 1, pad 1, one image): the AMX-BF16 direct conv and the
// im2col + vdpbf16ps path (the same bf16dot operands; what runs without AMX) against oneDNN's fp32 and
// bf16 convs with the layouts oneDNN prefers (reordered outside the timing; ours starts from NCHW fp32).
struct ConvCase {
  const char* name;
  int64_t m, c, hw;
  int64_t k = 3, pad = 1;  // kernel size, padding
};

constexpr ConvCase kConvs[] = {
    {"vgg-features.0", 32, 1, 28},    {"vgg-features.3", 32, 32, 28},     {"vgg-features.10", 64, 64, 14},
    {"vgg-features.17", 128, 128, 7}, {"wide-features.0", 64, 1, 28},     {"wide-features.3", 64, 64, 28},
    {"wide-features.7", 128, 64, 14}, {"wide-features.10", 128, 128, 14}, {"wide-features.17", 256, 256, 7},
    {"lenet5-conv1", 6, 1, 28, 5, 2}, {"lenet5-conv2", 16, 6, 14, 5, 0},
};

void set_conv_flops(benchmark::State& state, const ConvCase& c) {
  const int64_t out = c.hw + 2 * c.pad - c.k + 1;
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(c.m * c.c * c.k * c.k * out * out) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

ConvShape conv_shape(const ConvCase& c) {
  ConvShape s;
  s.c = c.c, s.h = s.w = c.hw, s.kh = s.kw = c.k, s.pad_top = s.pad_left = c.pad;
  s.oh = s.ow = c.hw + 2 * c.pad - c.k + 1;
  return s;
}

enum class ConvPath { kAmx, kIm2col, kSmall };

void BM_DeftConv(benchmark::State& state, ConvCase c, ConvPath path) {
  const bool amx = path == ConvPath::kAmx;
  if (amx && !amx_available()) {
    state.SkipWithError("no AMX-BF16 here");
    return;
  }
  const ConvShape s = conv_shape(c);
  if (amx && !amx_conv_fits(s)) {
    state.SkipWithError("the AMX conv does not fit this shape");
    return;
  }
  const auto w = values(c.m * s.depth(), 1), x = values(c.c * c.hw * c.hw, 2);
  std::vector<int32_t> all(static_cast<size_t>(s.depth()));
  for (size_t q = 0; q < all.size(); ++q) all[q] = static_cast<int32_t>(q);
  std::vector<float> y(c.m * s.pixels());
  if (amx) {
    const AmxConvWeights p = amx_pack_conv(w.data(), c.m, all, c.c, c.k, c.k);
    AmxConvScratch scratch;
    for (auto _ : state) {
      amx_conv(p, x.data(), 1, s, c.pad, c.pad, {}, y.data(), scratch, 1);
      benchmark::DoNotOptimize(y.data());
    }
  } else if (path == ConvPath::kSmall) {
    // The small-channel direct conv (deft/conv_small.h) on the same bf16dot operands.
    const SmallConvWeights p =
        small_pack_conv(pack_weights(Format::kBf16Dot, w.data(), c.m, s.depth(), s.depth()), all, c.k, c.k);
    SmallConvScratch planes;
    for (auto _ : state) {
      small_conv(p, x.data(), 1, s, c.pad, c.pad, {}, y.data(), planes, best_isa(), 1);
      benchmark::DoNotOptimize(y.data());
    }
  } else {
    const PackedWeights p = pack_weights(Format::kBf16Dot, w.data(), c.m, s.depth(), s.depth());
    std::vector<float> cols(s.depth() * s.pixels()), tile(y.size());
    for (auto _ : state) {
      im2col(x.data(), s, all, cols.data());
      // vdpbf16ps: the path without AMX (kAuto would run this GEMM on the tiles too)
      gemm_strided(p, cols.data(), s.pixels(), 1, s.pixels(), tile.data(), c.m, {}, Isa::kAvx512, 1);
      benchmark::DoNotOptimize(tile.data());
    }
  }
  set_conv_flops(state, c);
  state.SetLabel(amx                        ? "amx-bf16"
                 : path == ConvPath::kSmall ? "direct-fp32-fma"
                                            : isa_name(isa_for(Format::kBf16Dot, Isa::kAvx512)));
}

void BM_OneDnnConv(benchmark::State& state, ConvCase c, Peer peer) {
  using namespace dnnl;
  omp_set_num_threads(1);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  using dt = memory::data_type;
  const bool q = peer == Peer::kInt8;
  const dt src_dt = q ? dt::u8 : peer == Peer::kBf16 ? dt::bf16 : dt::f32, wei_dt = q ? dt::s8 : src_dt;
  const int64_t out = c.hw + 2 * c.pad - c.k + 1;
  const memory::dims src{1, c.c, c.hw, c.hw}, wei{c.m, c.c, c.k, c.k}, dst{1, c.m, out, out};
  const memory::desc src_any(src, src_dt, memory::format_tag::any), wei_any(wei, wei_dt, memory::format_tag::any);
  const memory::desc dst_any(dst, dt::f32, memory::format_tag::any);
  primitive_attr attr;
  if (q) attr.set_output_scales(1 << 1, std::vector<float>(static_cast<size_t>(c.m), 1e-3f));
  convolution_forward::primitive_desc pd(
      convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct, src_any, wei_any, dst_any,
                                {1, 1}, {c.pad, c.pad}, {c.pad, c.pad}),
      attr, eng);
  auto w = values(c.m * c.c * c.k * c.k, 1), x = values(c.c * c.hw * c.hw, 2);
  auto w8 = bytes(q ? c.m * c.c * c.k * c.k : 0, 1, -127, 127), x8 = bytes(q ? c.c * c.hw * c.hw : 0, 2, 0, 255);
  memory w_user({wei, q ? dt::s8 : dt::f32, memory::format_tag::oihw}, eng, q ? (void*)w8.data() : (void*)w.data());
  memory x_user({src, q ? dt::u8 : dt::f32, memory::format_tag::nchw}, eng, q ? (void*)x8.data() : (void*)x.data());
  memory w_mem(pd.weights_desc(), eng), x_mem(pd.src_desc(), eng), y_mem(pd.dst_desc(), eng);
  reorder(w_user, w_mem).execute(strm, w_user, w_mem);
  reorder(x_user, x_mem).execute(strm, x_user, x_mem);
  convolution_forward prim(pd);
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, y_mem}});
    strm.wait();
  }
  set_conv_flops(state, c);
  state.SetLabel(pd.impl_info_str());
}

// The DeftNN int8 FC (deft/int8_layer.h): fp32 rows in, fp32 out, quantization and epilogue timed.
void BM_Int8Gemm(benchmark::State& state, Shape s) {
  omp_set_num_threads(1);
  const auto w = values(s.m * s.k, 1), in = values(s.j * s.k, 2);
  // Zero point 0, as for an FC after a ReLU (a zero point other than 0 makes oneDNN's matmul correct
  // the sums with the weights' column sums each run: 2.2x slower at VGG-16 fc7 batch 1 here).
  const Int8Layer l = make_int8_layer(w.data(), s.m, s.k, nullptr, choose_int8_input(0.f, 0.4f), false);
  eff::DnnlEnv env;
  Int8FcKernel fc;
  std::vector<float> out(s.j * s.m);
  for (auto _ : state) {
    fc.run(env, l, in.data(), s.j, out.data(), 1);
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state, s);
  state.SetLabel(fc.impl());
}

// The DeftNN int8 conv from channel-blocked fp32 to channel-blocked fp32 (as between the engine's convs).
void BM_Int8Conv(benchmark::State& state, ConvCase c) {
  omp_set_num_threads(1);
  const ConvShape s = conv_shape(c);
  const auto w = values(c.m * s.depth(), 1), x = values(((c.c + 15) / 16) * 16 * c.hw * c.hw, 2);
  const Int8Layer l = make_int8_layer(w.data(), c.m, s.depth(), nullptr, choose_int8_input(0.f, 0.4f), true);
  eff::DnnlEnv env;
  Int8ConvKernel conv;
  std::vector<float> y(((c.m + 15) / 16) * 16 * s.pixels());
  for (auto _ : state) {
    conv.run(env, l, x.data(), ActLayout::kBlocked, 1, s, y.data(), ActLayout::kBlocked, 1);
    benchmark::DoNotOptimize(y.data());
  }
  set_conv_flops(state, c);
  state.SetLabel(conv.impl());
}

// The DeftNN int8 direct conv for few input channels (deft/int8_small_conv.h): NCHW fp32 in
// (quantized to u8 planes), out as the shipped models' next layer reads it: channel-blocked where
// an int8 conv follows (vgg, fmnist_wide), NCHW for lenet5 (its pool and conv2 read plain).
void BM_Int8SmallConv(benchmark::State& state, ConvCase c) {
  omp_set_num_threads(1);
  const ConvShape s = conv_shape(c);
  const auto w = values(c.m * s.depth(), 1), x = values(c.c * c.hw * c.hw, 2);
  const Int8Layer l = make_int8_layer(w.data(), c.m, s.depth(), nullptr, choose_int8_input(0.f, 0.4f), true);
  const Int8SmallConvWeights packed = int8_small_pack(l, c.c, c.k, c.k);
  std::vector<uint8_t> planes;
  const ActLayout out = c.m % 16 == 0 ? ActLayout::kBlocked : ActLayout::kPlain;
  std::vector<float> y(((c.m + 15) / 16) * 16 * s.pixels());
  for (auto _ : state) {
    int8_small_conv(l, packed, x.data(), ActLayout::kPlain, 1, s, c.pad, c.pad, y.data(), out, 1, false, planes);
    benchmark::DoNotOptimize(y.data());
  }
  set_conv_flops(state, c);
  state.SetLabel(int8_small_conv_has_vnni() ? "direct-vnni" : "direct-scalar");
}

// The DeftNN int8 conv over channel groups (deft/int8_direct_conv.h) that int8 layers with more
// than 8 input channels run on a CPU with VNNI: channel-blocked fp32 in and out, as between the
// shipped models' convs, the quantization timed.
void BM_Int8DirectConv(benchmark::State& state, ConvCase c) {
  omp_set_num_threads(1);
  const ConvShape s = conv_shape(c);
  if (!int8_direct_conv_fits(s)) return state.SkipWithError("no AVX512-VNNI");
  const auto w = values(c.m * s.depth(), 1), x = values(((c.c + 15) / 16) * 16 * c.hw * c.hw, 2);
  const Int8Layer l = make_int8_layer(w.data(), c.m, s.depth(), nullptr, choose_int8_input(0.f, 0.4f), true);
  const Int8DirectConvWeights packed = int8_direct_pack(l, c.c, c.k, c.k);
  std::vector<uint8_t> scratch;
  std::vector<float> y(((c.m + 15) / 16) * 16 * s.pixels());
  for (auto _ : state) {
    int8_direct_conv(l, packed, x.data(), ActLayout::kBlocked, 1, s, c.pad, c.pad, y.data(), ActLayout::kBlocked, 1,
                     nullptr, false, scratch);
    benchmark::DoNotOptimize(y.data());
  }
  set_conv_flops(state, c);
  state.SetLabel("direct-vnni-channels");
}

[[maybe_unused]] const bool registered = [] {
  for (const ConvCase& c : kConvs) {
    const std::string tail = std::string("/") + c.name;
    benchmark::RegisterBenchmark(("DeftConv/onednn-fp32" + tail).c_str(), BM_OneDnnConv, c, Peer::kFp32)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("DeftConv/onednn-bf16" + tail).c_str(), BM_OneDnnConv, c, Peer::kBf16)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("DeftConv/onednn-int8" + tail).c_str(), BM_OneDnnConv, c, Peer::kInt8)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("DeftConv/int8" + tail).c_str(), BM_Int8Conv, c)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("DeftConv/amx-bf16" + tail).c_str(), BM_DeftConv, c, ConvPath::kAmx)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("DeftConv/im2col-bf16dot" + tail).c_str(), BM_DeftConv, c, ConvPath::kIm2col)
        ->Unit(benchmark::kMicrosecond);
    if (c.c <= kSmallConvChannels) {
      benchmark::RegisterBenchmark(("DeftConv/direct-bf16dot" + tail).c_str(), BM_DeftConv, c, ConvPath::kSmall)
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(("DeftConv/direct-int8" + tail).c_str(), BM_Int8SmallConv, c)
          ->Unit(benchmark::kMicrosecond);
    } else {
      benchmark::RegisterBenchmark(("DeftConv/direct-int8" + tail).c_str(), BM_Int8DirectConv, c)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  for (const Shape& s : kShapes) {
    const std::string tail = std::string("/") + s.name;
    benchmark::RegisterBenchmark(("DeftGemm/onednn-fp32" + tail).c_str(), BM_OneDnn, s, Peer::kFp32)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("DeftGemm/onednn-bf16" + tail).c_str(), BM_OneDnn, s, Peer::kBf16)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("DeftGemm/onednn-int8" + tail).c_str(), BM_OneDnn, s, Peer::kInt8)
        ->Unit(benchmark::kMicrosecond);
    if (s.every_format)
      benchmark::RegisterBenchmark(("DeftGemm/int8" + tail).c_str(), BM_Int8Gemm, s)->Unit(benchmark::kMicrosecond);
    for (Format f : gemm_formats())
      if (s.every_format || f == Format::kBf16Dot)
        benchmark::RegisterBenchmark(("DeftGemm/" + format_name(f) + tail).c_str(), BM_Deft, s, f, Isa::kAuto)
            ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("DeftGemm/bf16dot-avx512" + tail).c_str(), BM_Deft, s, Format::kBf16Dot, Isa::kAvx512)
        ->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
