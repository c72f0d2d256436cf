// DeftNN kernels (src/deft) against oneDNN on the same GEMM shapes, one thread each: our kernel
// family in every packed format, oneDNN's fp32 matmul and its bf16 matmul (bf16 activations and
// weights, fp32 output: the strongest peer Debian's oneDNN 2.6 offers on this CPU). Shapes are
// conv/FC layers as GEMMs, Out (J x M) = In (J x K) W^T: the shipped vgg model's layers and large
// VGG-16 ones (conv in im2col view, J = output pixels; FC at batch 1 and 32). Reported as GFLOP/s
// counters; tools/bench.js turns them into ratios against oneDNN fp32 of the same run.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <vector>

#include "deft/gemm.h"

namespace {

using namespace eff::deft;

struct Shape {
  const char* name;
  int64_t m, k, j;
};

constexpr Shape kShapes[] = {
    {"vgg-conv1", 32, 288, 784},        // shipped vgg (fashion-mnist): features.3
    {"vgg-conv5", 128, 1152, 49},       // features.17
    {"vgg-fc1-b1", 256, 1152, 1},       // classifier, batch 1
    {"vgg-fc1-b32", 256, 1152, 32},     // classifier, batch 32
    {"vgg16-conv5_2", 512, 4608, 196},  // VGG-16 at 224x224, 14x14 outputs
    {"vgg16-conv4_2", 512, 4608, 784},  // 28x28 outputs
    {"vgg16-fc7-b1", 4096, 4096, 1},   {"vgg16-fc7-b32", 4096, 4096, 32},
};

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

void BM_Deft(benchmark::State& state, Shape s, Format f) {
  const auto w = values(s.m * s.k, 1), in = values(s.j * s.k, 2);
  const PackedWeights p = pack_weights(f, w.data(), s.m, s.k, s.k);
  std::vector<float> out(s.j * s.m);
  for (auto _ : state) {
    gemm(p, in.data(), s.j, s.k, out.data(), s.m, {}, Isa::kAuto, 1);
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state, s);
  state.SetLabel(isa_name(Isa::kAuto));
}

void BM_OneDnn(benchmark::State& state, Shape s, bool bf16) {
  using namespace dnnl;
  omp_set_num_threads(1);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const auto dt = bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  const memory::desc src_md({s.j, s.k}, dt, memory::format_tag::ab);
  const memory::desc wei_any({s.k, s.m}, dt, memory::format_tag::any);
  const memory::desc dst_md({s.j, s.m}, memory::data_type::f32, memory::format_tag::ab);
  matmul::primitive_desc pd(matmul::desc(src_md, wei_any, dst_md), eng);
  const auto w = values(s.m * s.k, 1), in = values(s.j * s.k, 2);
  // fp32 user data, converted (and the weights laid out as oneDNN prefers) outside the timing.
  memory w_user({{s.k, s.m}, memory::data_type::f32, memory::format_tag::ba}, eng, const_cast<float*>(w.data()));
  memory in_user({{s.j, s.k}, memory::data_type::f32, memory::format_tag::ab}, eng, const_cast<float*>(in.data()));
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

[[maybe_unused]] const bool registered = [] {
  for (const Shape& s : kShapes) {
    benchmark::RegisterBenchmark(("DeftGemm/onednn-fp32/" + std::string(s.name)).c_str(), BM_OneDnn, s, false)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("DeftGemm/onednn-bf16/" + std::string(s.name)).c_str(), BM_OneDnn, s, true)
        ->Unit(benchmark::kMicrosecond);
    for (Format f : all_formats())
      benchmark::RegisterBenchmark(("DeftGemm/" + format_name(f) + "/" + s.name).c_str(), BM_Deft, s, f)
          ->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
