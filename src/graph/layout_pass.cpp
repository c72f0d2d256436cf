// Channel-blocked activations between convs: which values the kernels pass in oneDNN's nChw16c
// layout (see assign_blocked_layouts in passes.h). Split from passes.cpp.
#include <algorithm>
#include <string>
#include <vector>

#include "engine/blocked_layout.h"
#include "graph/pass_support.h"
#include "graph/passes.h"

namespace eff {

using namespace pass_support;  // the vocabulary every pass shares (graph/pass_support.h)

// ---- channel-blocked activations between convs ------------------------------------------------

namespace {

// The input channels of an int8 DeftLayer conv whose weights are input `w` and whose attributes
// carry `prefix` ("pair." for a pair's second layer); 0 if it is not one.
int64_t int8_conv_channels(const Graph& g, const Node& n, size_t w, const std::string& prefix) {
  if (n.attr_string(prefix + "kind", "") != "conv" || n.attr_string(prefix + "format", "") != "int8" ||
      n.inputs.size() <= w || !g.is_constant(n.inputs[w]) || g.constant(n.inputs[w]).rank() != 2) {
    return 0;
  }
  const std::vector<int64_t> k = n.attr_ints(prefix + "kernel_shape");
  if (k.size() != 2 || k[0] <= 0 || k[1] <= 0) return 0;
  return n.attr_int(prefix + "depth", 0) / (k[0] * k[1]);
}

// An int8 DeftLayer conv (deft/int8_layer.h; a fused pool or not), or a pair of two (deft_model.cpp's
// pair_siblings: the second's output is output 1): it quantizes its input from, and writes its
// output(s) to, either layout; a fused residual's shortcut (input 3) it reads in its output's
// layout. Returns its channel counts (the first layer's output).
bool blockable_int8_conv(const Graph& g, const Node& n, int64_t& in_channels, int64_t& out_channels) {
  const bool pair = n.has_attr("pair.name");
  if (n.op != "DeftLayer" || n.input(0) == kNoValue ||
      (pair ? n.inputs.size() != 5 || n.outputs.size() != 2
            : (n.inputs.size() != 3 && n.inputs.size() != 4) || n.outputs.size() != 1)) {
    return false;
  }
  in_channels = int8_conv_channels(g, n, 1, "");
  if (in_channels <= 0 || (pair && int8_conv_channels(g, n, 3, "pair.") != in_channels)) return false;
  out_channels = g.constant(n.input(1)).dim(0);
  return true;
}

// An int8 pair's second output channels (0 for anything else).
int64_t pair_out_channels(const Graph& g, const Node& n) {
  int64_t ci = 0, co = 0;
  if (!n.has_attr("pair.name") || !blockable_int8_conv(g, n, ci, co)) return 0;
  return g.constant(n.input(3)).dim(0);
}

// A 2-D Conv with constant float weights (or an int8 DeftLayer conv): the kind whose kernel can read
// and write the blocked layout. Returns its input and output channel counts.
bool blockable_conv(const Graph& g, const Node& n, int64_t& in_channels, int64_t& out_channels) {
  if (blockable_int8_conv(g, n, in_channels, out_channels)) return true;
  if (!is_op(n, "Conv") || n.outputs.size() != 1 || n.input(0) == kNoValue) return false;
  const ValueId w = n.input(1);
  if (!g.is_constant(w) || g.constant(w).dtype() != DType::kFloat32 || g.constant(w).rank() != 4) return false;
  out_channels = g.constant(w).dim(0);
  in_channels = g.constant(w).dim(1) * n.attr_int("group", 1);
  return true;
}

// A Relu of its own (not fused into a conv: a residual block's Relu after its Add). It maps zero to
// zero and each element on its own, so over whole blocks of channels it is layout-blind.
bool standalone_relu(const Node& n) {
  return is_op(n, "Relu") && n.num_inputs() == 1 && n.outputs.size() == 1 && n.outputs[0] != kNoValue &&
         n.input(0) != kNoValue;
}

// A 2-D MaxPool of float activations without the Indices output: oneDNN pools the blocked layout
// directly (ResNet's stem pool, a U-Net's encoder pools), so the convs around it need no reorders.
bool blockable_max_pool(const Graph& g, const Node& n) {
  if (!is_op(n, "MaxPool") || n.num_inputs() != 1 || n.input(0) == kNoValue || n.outputs.empty() ||
      n.outputs[0] == kNoValue || (n.outputs.size() > 1 && n.outputs[1] != kNoValue)) {
    return false;
  }
  if (!n.has_attr("kernel_shape") || n.attr_ints("kernel_shape").size() != 2) return false;
  if (n.has_attr(kMaxPoolFoldAttr)) return false;  // ONNX Runtime's fold order, on plain planes
  const Value& x = g.value(n.input(0));
  return x.has_type && x.dtype == DType::kFloat32 && x.has_shape && x.shape.size() == 4;
}

// A 2-D ConvTranspose whose kernel equals its stride (a U-Net's or DBNet's 2x upsampling), with
// constant float weights: its patch kernel reads and writes the blocked layout
// (ops/conv_transpose_direct.h). Returns its input and output channel counts.
bool blockable_patch_deconv(const Graph& g, const Node& n, int64_t& in_channels, int64_t& out_channels) {
  if (!is_op(n, "ConvTranspose") || n.outputs.size() != 1 || n.outputs[0] == kNoValue || n.input(0) == kNoValue) {
    return false;
  }
  const ValueId w = n.input(1);
  if (!g.is_constant(w) || g.constant(w).dtype() != DType::kFloat32 || g.constant(w).rank() != 4) return false;
  if (n.attr_int("group", 1) != 1 || n.has_attr("output_shape") || n.has_attr("output_padding") ||
      n.attr_string("auto_pad", "NOTSET") != "NOTSET") {
    return false;
  }
  const Tensor& wt = g.constant(w);
  const std::vector<int64_t> kernel = n.attr_ints("kernel_shape", {wt.dim(2), wt.dim(3)});
  const std::vector<int64_t> strides = n.attr_ints("strides", {1, 1});
  const std::vector<int64_t> dilations = n.attr_ints("dilations", {1, 1});
  const std::vector<int64_t> pads = n.attr_ints("pads", {0, 0, 0, 0});
  if (kernel.size() != 2 || strides != kernel || kernel[0] != wt.dim(2) || kernel[1] != wt.dim(3) ||
      dilations != std::vector<int64_t>{1, 1} ||
      std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; })) {
    return false;
  }
  in_channels = wt.dim(0);
  out_channels = wt.dim(1);
  return true;
}

bool same_static_shape(const Graph& g, ValueId a, ValueId b) {
  const Value& va = g.value(a);
  const Value& vb = g.value(b);
  if (!va.has_shape || !vb.has_shape || va.shape != vb.shape || va.shape.size() != 4) return false;
  return std::all_of(va.shape.begin() + 1, va.shape.end(), [](int64_t d) { return d > 0; });
}

}  // namespace

void assign_blocked_layouts(Graph& g) {
  const Uses uses(g);
  const size_t nv = g.values.size();
  std::vector<char> blocked(nv, 0);
  auto is_blocked = [&](ValueId x) { return x != kNoValue && blocked[x]; };
  std::vector<int64_t> channels(nv, 0);
  auto whole_blocks = [&](ValueId v) { return channels[v] > 0 && channels[v] % kBlockedChannels == 0; };
  // The input of a Mul that scales blocked activations by a plain per-channel gate
  // ([N, C, 1, 1], a squeeze-and-excitation block), or -1.
  auto gate_operand = [&](const Node& n) -> int {
    if (!is_op(n, "Mul") || n.num_inputs() != 2 || n.outputs.size() != 1 || n.outputs[0] == kNoValue) return -1;
    for (int k = 0; k < 2; ++k) {
      const ValueId x = n.inputs[k], s = n.inputs[1 - k];
      if (!is_blocked(x) || s == kNoValue || is_blocked(s) || g.is_constant(s)) continue;
      const Value& sv = g.value(s);
      if (sv.has_shape && sv.shape.size() == 4 && sv.shape[1] == channels[x] && sv.shape[2] == 1 && sv.shape[3] == 1) {
        return k;
      }
    }
    return -1;
  };
  // A channel Concat of plain float 4-D values of known channel counts: their total, or 0.
  auto concat_channels = [&](const Node& n) -> int64_t {
    if (!is_op(n, "Concat") || n.outputs.size() != 1 || n.outputs[0] == kNoValue || n.inputs.empty()) return 0;
    const int64_t axis = n.attr_int("axis", 1);
    if (axis != 1 && axis != -3) return 0;
    int64_t total = 0;
    for (ValueId v : n.inputs) {
      if (v == kNoValue || g.is_constant(v)) return 0;  // its inputs are read plain (see below)
      const Value& val = g.value(v);
      if (!val.has_type || val.dtype != DType::kFloat32 || !val.has_shape || val.shape.size() != 4 ||
          val.shape[1] <= 0) {
        return 0;
      }
      total += val.shape[1];
    }
    return total;
  };
  // Whether a blocked Concat can copy `v` as whole blocks: each place it takes starts on a block
  // boundary, and a partial last block (zeros past its channels) only at the end of the output.
  auto concat_reads_blocked = [&](const Node& n, ValueId v) {
    int64_t offset = 0;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int64_t c = g.value(n.inputs[k]).shape[1];
      if (n.inputs[k] == v &&
          (offset % kBlockedChannels != 0 || (c % kBlockedChannels != 0 && k + 1 != n.inputs.size()))) {
        return false;
      }
      offset += c;
    }
    return true;
  };
  // Candidates: outputs of convs, and sums of two candidates with whole blocks of channels.
  for (const Node& n : g.nodes) {
    if (const int64_t c = concat_channels(n); c > 0) {
      blocked[n.outputs[0]] = 1;
      channels[n.outputs[0]] = c;
    }
    if (const int k = gate_operand(n); k >= 0) {
      blocked[n.outputs[0]] = 1;
      channels[n.outputs[0]] = channels[n.inputs[k]];
    }
    int64_t ci = 0, co = 0;
    if (blockable_conv(g, n, ci, co) && co > 0 && n.outputs[0] != kNoValue) {
      blocked[n.outputs[0]] = 1;
      channels[n.outputs[0]] = co;
      if (const int64_t second = pair_out_channels(g, n); second > 0 && n.outputs[1] != kNoValue) {
        blocked[n.outputs[1]] = 1;
        channels[n.outputs[1]] = second;
      }
    }
    if (blockable_resize(g, n) && is_blocked(n.input(0))) {
      blocked[n.outputs[0]] = 1;
      channels[n.outputs[0]] = channels[n.inputs[0]];
    }
    // Partial blocks too (EfficientNet's 24- and 40-channel residuals): the padded channels are
    // zero in both operands, so a sum over the whole storage keeps them zero (ops/blocked_ops.cpp).
    if (is_op(n, "Add") && n.num_inputs() == 2 && n.outputs.size() == 1 && n.outputs[0] != kNoValue &&
        is_blocked(n.inputs[0]) && is_blocked(n.inputs[1]) && channels[n.inputs[0]] > 0 &&
        channels[n.inputs[0]] == channels[n.inputs[1]] && same_static_shape(g, n.inputs[0], n.inputs[1])) {
      blocked[n.outputs[0]] = 1;
      channels[n.outputs[0]] = channels[n.inputs[0]];
    }
    if (standalone_relu(n) && is_blocked(n.inputs[0]) && whole_blocks(n.inputs[0])) {
      blocked[n.outputs[0]] = 1;
      channels[n.outputs[0]] = channels[n.inputs[0]];
    }
    if (blockable_max_pool(g, n) && is_blocked(n.inputs[0])) {
      blocked[n.outputs[0]] = 1;
      channels[n.outputs[0]] = channels[n.inputs[0]];
    }
    if (blockable_patch_deconv(g, n, ci, co) && is_blocked(n.inputs[0]) && ci == channels[n.inputs[0]]) {
      blocked[n.outputs[0]] = 1;
      channels[n.outputs[0]] = co;
    }
  }
  // Drop every value some consumer could not read blocked, until nothing changes: a conv reads it
  // as its activations, an Add reads it when its other operand and its result are blocked too.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t v = 0; v < nv; ++v) {
      if (!blocked[v]) continue;
      bool ok = !uses.graph_output[v] && !uses.consumers[v].empty();
      for (int c : uses.consumers[v]) {
        if (!ok) break;
        const Node& n = g.nodes[c];
        int64_t ci = 0, co = 0;
        if (blockable_int8_conv(g, n, ci, co) && n.inputs.size() == 4 && n.inputs[3] == static_cast<ValueId>(v)) {
          // The shortcut of a fused residual: read in the output's layout.
          ok = n.inputs[0] != static_cast<ValueId>(v) && co == channels[v] && is_blocked(n.outputs[0]);
        } else if (blockable_conv(g, n, ci, co)) {
          ok = n.inputs[0] == static_cast<ValueId>(v) &&
               std::count(n.inputs.begin(), n.inputs.end(), static_cast<ValueId>(v)) == 1 && ci == channels[v];
        } else if (is_op(n, "Add") && n.num_inputs() == 2 && n.outputs.size() == 1 && n.outputs[0] != kNoValue) {
          ok = is_blocked(n.inputs[0]) && is_blocked(n.inputs[1]) && is_blocked(n.outputs[0]);
        } else if (blockable_resize(g, n)) {
          ok = n.inputs[0] == static_cast<ValueId>(v) && is_blocked(n.outputs[0]);
        } else if (standalone_relu(n)) {
          ok = is_blocked(n.outputs[0]) && whole_blocks(static_cast<ValueId>(v));
        } else if (blockable_max_pool(g, n)) {
          ok = is_blocked(n.outputs[0]);
        } else if (blockable_patch_deconv(g, n, ci, co)) {
          ok = n.inputs[0] == static_cast<ValueId>(v) &&
               std::count(n.inputs.begin(), n.inputs.end(), static_cast<ValueId>(v)) == 1 && ci == channels[v] &&
               is_blocked(n.outputs[0]);
        } else if (concat_channels(n) > 0) {
          ok = is_blocked(n.outputs[0]) && concat_reads_blocked(n, static_cast<ValueId>(v));
        } else if (is_op(n, "GlobalAveragePool")) {
          ok = n.inputs.size() == 1 && n.outputs.size() == 1;
        } else if (const int k = gate_operand(n); k >= 0) {
          ok = n.inputs[k] == static_cast<ValueId>(v) && n.inputs[1 - k] != static_cast<ValueId>(v) &&
               is_blocked(n.outputs[0]);
        } else {
          ok = false;
        }
      }
      if (!ok) {
        blocked[v] = 0;
        changed = true;
      }
    }
    for (const Node& n : g.nodes) {  // a gated Mul's result is blocked only if its operand is
      if (is_op(n, "Mul") && n.outputs.size() == 1 && is_blocked(n.outputs[0]) && gate_operand(n) < 0) {
        blocked[n.outputs[0]] = 0;
        changed = true;
      }
    }
    for (const Node& n : g.nodes) {  // a Resize's result is blocked only if its input is
      if (blockable_resize(g, n) && is_blocked(n.outputs[0]) && !is_blocked(n.input(0))) {
        blocked[n.outputs[0]] = 0;
        changed = true;
      }
    }
    for (const Node& n : g.nodes) {  // a pool's or a patch deconv's result is blocked only if its input is
      int64_t ci = 0, co = 0;
      if ((blockable_max_pool(g, n) || blockable_patch_deconv(g, n, ci, co)) && is_blocked(n.outputs[0]) &&
          !is_blocked(n.inputs[0])) {
        blocked[n.outputs[0]] = 0;
        changed = true;
      }
    }
    for (const Node& n : g.nodes) {  // a Relu's result is blocked only if its input is
      if (standalone_relu(n) && is_blocked(n.outputs[0]) && !is_blocked(n.inputs[0])) {
        blocked[n.outputs[0]] = 0;
        changed = true;
      }
    }
    for (const Node& n : g.nodes) {  // a pair's outputs are both blocked or neither
      if (pair_out_channels(g, n) > 0 && n.outputs[0] != kNoValue && n.outputs[1] != kNoValue &&
          blocked[n.outputs[0]] != blocked[n.outputs[1]]) {
        blocked[n.outputs[0]] = blocked[n.outputs[1]] = 0;
        changed = true;
      }
    }
    for (const Node& n : g.nodes) {  // an int8 residual conv's result is blocked only if its shortcut is
      int64_t ci = 0, co = 0;
      if (blockable_int8_conv(g, n, ci, co) && n.inputs.size() == 4 && is_blocked(n.outputs[0]) &&
          !is_blocked(n.inputs[3])) {
        blocked[n.outputs[0]] = 0;
        changed = true;
      }
    }
    for (const Node& n : g.nodes) {  // an Add's result is blocked only if both operands are
      if (is_op(n, "Add") && n.outputs.size() == 1 && n.outputs[0] != kNoValue && blocked[n.outputs[0]] &&
          !(is_blocked(n.input(0)) && is_blocked(n.input(1)))) {
        blocked[n.outputs[0]] = 0;
        changed = true;
      }
    }
  }
  // A pointwise conv on plain input read only by Concats (a U-Net's conv after its upsampling)
  // writes plain: it then runs as one GEMM over the NCHW planes (ops/conv.cpp), where a blocked
  // output would make oneDNN reorder its whole input first; the Concats read plain inputs too.
  for (const Node& n : g.nodes) {
    int64_t ci = 0, co = 0;
    if (!is_op(n, "Conv") || !blockable_conv(g, n, ci, co) || is_blocked(n.inputs[0]) || !is_blocked(n.outputs[0]) ||
        n.attr_int("group", 1) != 1) {
      continue;
    }
    const Tensor& w = g.constant(n.input(1));
    const std::vector<int64_t> strides = n.attr_ints("strides", {1, 1}), pads = n.attr_ints("pads", {0, 0, 0, 0});
    const bool pointwise = w.dim(2) == 1 && w.dim(3) == 1 &&
                           std::all_of(strides.begin(), strides.end(), [](int64_t v) { return v == 1; }) &&
                           std::all_of(pads.begin(), pads.end(), [](int64_t v) { return v == 0; });
    const auto& readers = uses.consumers[n.outputs[0]];
    if (pointwise && std::all_of(readers.begin(), readers.end(), [&](int c) { return is_op(g.nodes[c], "Concat"); })) {
      blocked[n.outputs[0]] = 0;
    }
  }
  Attribute yes;
  yes.kind = Attribute::Kind::kInt;
  yes.i = 1;
  for (Node& n : g.nodes) {
    int64_t ci = 0, co = 0;
    if (is_op(n, "GlobalAveragePool") && is_blocked(n.input(0))) n.attrs[kBlockedInputAttr] = yes;
    if (concat_channels(n) > 0 && is_blocked(n.outputs[0])) {
      n.attrs[kBlockedOutputAttr] = yes;
      Attribute which;
      which.kind = Attribute::Kind::kInts;
      for (ValueId x : n.inputs) which.ints.push_back(is_blocked(x) ? 1 : 0);
      if (std::count(which.ints.begin(), which.ints.end(), 1) > 0) n.attrs[kBlockedInputsAttr] = which;
    }
    if ((blockable_max_pool(g, n) || blockable_patch_deconv(g, n, ci, co)) && is_blocked(n.input(0)) &&
        is_blocked(n.outputs[0])) {
      n.attrs[kBlockedInputAttr] = yes;
      n.attrs[kBlockedOutputAttr] = yes;
    }
    if (const int k = gate_operand(n); k >= 0 && is_blocked(n.outputs[0])) {
      Attribute which = yes;
      which.i = k;
      n.attrs[kBlockedInputAttr] = yes;
      n.attrs[kBlockedOutputAttr] = yes;
      n.attrs[kBlockedOperandAttr] = which;
    }
    // An Add of blocked values with padded channels sums the storage; with whole blocks the plain
    // kernel's flat loop already covers every value.
    if (is_op(n, "Add") && n.outputs.size() == 1 && n.outputs[0] != kNoValue && is_blocked(n.outputs[0]) &&
        !whole_blocks(n.outputs[0])) {
      n.attrs[kBlockedInputAttr] = yes;
      n.attrs[kBlockedOutputAttr] = yes;
    }
    if (blockable_resize(g, n) && is_blocked(n.input(0)) && is_blocked(n.outputs[0])) {
      n.attrs[kBlockedInputAttr] = yes;
      n.attrs[kBlockedOutputAttr] = yes;
    }
    if (!blockable_conv(g, n, ci, co)) continue;
    if (is_blocked(n.inputs[0])) n.attrs[kBlockedInputAttr] = yes;
    if (n.outputs[0] != kNoValue && blocked[n.outputs[0]]) n.attrs[kBlockedOutputAttr] = yes;
  }
}

}  // namespace eff
