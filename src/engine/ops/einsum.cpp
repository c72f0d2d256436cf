// Einsum as one general contraction: every label gets a size, each operand a stride per label
// (summed when a label repeats within an operand: a diagonal; 0 where the operand lacks the label
// or broadcasts it), and each output element sums the product of the operands over the labels
// that are not in the output. That covers matmul, batch matmul, transposes, traces, diagonals,
// reductions and "..." broadcasting, without the speed of a GEMM: exported transformer blocks
// spell their large products as MatMul, Einsum shows up in small glue.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <type_traits>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

using namespace ops;

// Labels 'a'..'z', 'A'..'Z' are their characters; kEllipsis stands for the "..." dimensions.
constexpr int kEllipsis = -1;

struct Term {
  std::vector<int> labels;  // with at most one kEllipsis
};

struct Equation {
  std::vector<Term> inputs;
  bool explicit_output = false;
  Term output;
};

Equation parse_equation(const std::string& text, const std::string& where) {
  std::string eq;
  for (char ch : text) {
    if (ch != ' ') eq += ch;
  }
  Equation e;
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  auto parse_term = [&](const std::string& s) {
    Term t;
    for (size_t i = 0; i < s.size(); ++i) {
      const char ch = s[i];
      if (ch == '.') {
        if (s.compare(i, 3, "...") != 0 || std::count(t.labels.begin(), t.labels.end(), kEllipsis) != 0) {
          fail<ModelError>("{}: equation '{}' has a malformed '...'", where, text);
        }
        t.labels.push_back(kEllipsis);
        i += 2;
      } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
        t.labels.push_back(ch);
      } else {
        fail<ModelError>("{}: equation '{}' has the unexpected character '{}'", where, text, ch);
      }
    }
    return t;
  };
  size_t begin = 0;
  while (true) {
    const size_t comma = lhs.find(',', begin);
    e.inputs.push_back(parse_term(lhs.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin)));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  if (arrow != std::string::npos) {
    e.explicit_output = true;
    e.output = parse_term(eq.substr(arrow + 2));
    for (size_t i = 0; i < e.output.labels.size(); ++i) {
      const int l = e.output.labels[i];
      if (std::count(e.output.labels.begin(), e.output.labels.end(), l) > 1) {
        fail<ModelError>("{}: equation '{}' repeats a label in its output", where, text);
      }
      const bool known = std::any_of(e.inputs.begin(), e.inputs.end(), [&](const Term& t) {
        return std::find(t.labels.begin(), t.labels.end(), l) != t.labels.end();
      });
      if (!known) fail<ModelError>("{}: equation '{}' has an output label that no input has", where, text);
    }
  } else {
    // Implicit output: "..." first, then the labels that occur once, in alphabetical order.
    std::map<int, int> count;
    bool ellipsis = false;
    for (const Term& t : e.inputs) {
      for (int l : t.labels) {
        if (l == kEllipsis)
          ellipsis = true;
        else
          ++count[l];
      }
    }
    if (ellipsis) e.output.labels.push_back(kEllipsis);
    for (const auto& [l, c] : count) {
      if (c == 1) e.output.labels.push_back(l);
    }
  }
  return e;
}

class EinsumKernel final : public Kernel {
 public:
  EinsumKernel(const Node& node, const Graph& graph)
      : text_(node.attr_string("equation", "")), eq_(parse_equation(text_, graph.where(node))) {
    if (static_cast<int>(eq_.inputs.size()) != node.num_inputs()) {
      fail<ModelError>("{}: equation '{}' has {} operands but the node has {} inputs", graph.where(node), text_,
                       eq_.inputs.size(), node.num_inputs());
    }
    for (int i = 0; i < node.num_inputs(); ++i) {
      require_input_type(node, graph, i, is_numeric, "a numeric type other than float16");
    }
  }

  void run(OpContext& ctx) override {
    const int n = ctx.num_inputs();
    const DType dtype = ctx.input(0).dtype();
    // Labels are numbered densely: letters by first appearance, "..." dims as their own labels.
    std::map<int, int> letter_id;
    int ellipsis_rank = 0;
    for (int k = 0; k < n; ++k) {
      const Tensor& t = ctx.input(k);
      if (t.dtype() != dtype || !is_numeric(dtype)) {
        fail<ShapeError>("{}: Einsum '{}' operand {} is {}, operand 0 is {}", ctx.where(), text_, k,
                         dtype_name(t.dtype()), dtype_name(dtype));
      }
      const Term& term = eq_.inputs[k];
      const bool has_ellipsis = std::count(term.labels.begin(), term.labels.end(), kEllipsis) > 0;
      const int named = static_cast<int>(term.labels.size()) - (has_ellipsis ? 1 : 0);
      if (has_ellipsis ? t.rank() < named : t.rank() != named) {
        fail<ShapeError>("{}: Einsum '{}' operand {} has shape {}, which does not match its subscripts", ctx.where(),
                         text_, k, shape_str(t.shape()));
      }
      if (has_ellipsis) ellipsis_rank = std::max(ellipsis_rank, t.rank() - named);
    }
    if (std::count(eq_.output.labels.begin(), eq_.output.labels.end(), kEllipsis) == 0 && ellipsis_rank > 0 &&
        eq_.explicit_output) {
      // numpy sums "..." dimensions missing from an explicit output; ONNX Runtime refuses it.
      fail<UnsupportedError>("{}: Einsum '{}': '...' must appear in the output when the inputs have it", ctx.where(),
                             text_);
    }
    int next_id = ellipsis_rank;  // ids 0 .. ellipsis_rank-1 are the "..." dimensions
    auto id_of = [&](int label) {
      auto [it, inserted] = letter_id.emplace(label, next_id);
      if (inserted) ++next_id;
      return it->second;
    };
    // Expanded per-operand label ids (one per tensor dimension).
    std::vector<std::vector<int>> dims_of(static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) {
      const Tensor& t = ctx.input(k);
      const int named =
          static_cast<int>(eq_.inputs[k].labels.size()) -
          static_cast<int>(std::count(eq_.inputs[k].labels.begin(), eq_.inputs[k].labels.end(), kEllipsis));
      const int own_ellipsis = t.rank() - named;
      for (int l : eq_.inputs[k].labels) {
        if (l == kEllipsis) {
          for (int e = ellipsis_rank - own_ellipsis; e < ellipsis_rank; ++e) dims_of[k].push_back(e);
        } else {
          dims_of[k].push_back(id_of(l));
        }
      }
    }
    std::vector<int> out_ids;
    for (int l : eq_.output.labels) {
      if (l == kEllipsis) {
        for (int e = 0; e < ellipsis_rank; ++e) out_ids.push_back(e);
      } else {
        out_ids.push_back(id_of(l));
      }
    }
    const int num_labels = next_id;
    // Sizes: equal, or 1 broadcasting against the rest.
    std::vector<int64_t> size(static_cast<size_t>(num_labels), 1);
    for (int k = 0; k < n; ++k) {
      const Tensor& t = ctx.input(k);
      for (int d = 0; d < t.rank(); ++d) {
        int64_t& s = size[dims_of[k][d]];
        const int64_t v = t.dim(d);
        if (v == s || v == 1) continue;
        if (s != 1) {
          fail<ShapeError>("{}: Einsum '{}': dimension {} of operand {} ({}) does not match size {} of its label",
                           ctx.where(), text_, d, k, shape_str(t.shape()), s);
        }
        s = v;
      }
    }
    // Repeated labels within one operand must agree exactly (diagonals do not broadcast).
    std::vector<std::vector<int64_t>> stride(static_cast<size_t>(n), std::vector<int64_t>(num_labels, 0));
    for (int k = 0; k < n; ++k) {
      const Tensor& t = ctx.input(k);
      const std::vector<int64_t> own = strides_of(t.shape());
      for (int d = 0; d < t.rank(); ++d) {
        if (t.dim(d) != 1) stride[k][dims_of[k][d]] += own[d];
      }
      for (int d = 0; d < t.rank(); ++d) {
        for (int d2 = d + 1; d2 < t.rank(); ++d2) {
          if (dims_of[k][d] == dims_of[k][d2] && t.dim(d) != t.dim(d2)) {
            fail<ShapeError>("{}: Einsum '{}': repeated label of operand {} spans dimensions of sizes {} and {}",
                             ctx.where(), text_, k, t.dim(d), t.dim(d2));
          }
        }
      }
    }
    std::vector<int> sum_ids;
    for (int id = 0; id < num_labels; ++id) {
      if (std::find(out_ids.begin(), out_ids.end(), id) == out_ids.end()) sum_ids.push_back(id);
    }
    Shape out_shape;
    for (int id : out_ids) out_shape.push_back(size[id]);
    Tensor& out = broadcast_output(ctx, 0, dtype, out_shape);
    Shape sum_shape;
    for (int id : sum_ids) sum_shape.push_back(size[id]);
    const int64_t sum_count = shape_numel(sum_shape);
    visit_numeric(dtype, [&](auto tag) {
      using T = decltype(tag);
      using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
      std::vector<const T*> data(static_cast<size_t>(n));
      for (int k = 0; k < n; ++k) data[k] = ctx.input(k).template data<T>();
      T* o = out.data<T>();
      const int64_t total = out.numel();
      const int num_sum = static_cast<int>(sum_ids.size());
      // A product of two operands over one label (matmul-like) gets a plain strided dot product.
      const bool dot = n == 2 && num_sum == 1;
      const int64_t dot_s0 = dot ? stride[0][sum_ids[0]] : 0, dot_s1 = dot ? stride[1][sum_ids[0]] : 0;
#pragma omp parallel if (total * sum_count >= kParallelElements)
      {
        std::vector<int64_t> base(static_cast<size_t>(n)), off(static_cast<size_t>(n));
        std::vector<int64_t> idx(static_cast<size_t>(num_sum));
#pragma omp for schedule(static)
        for (int64_t i = 0; i < total; ++i) {
          std::fill(base.begin(), base.end(), 0);
          int64_t rest = i;
          for (int d = static_cast<int>(out_ids.size()) - 1; d >= 0; --d) {
            const int64_t at = rest % out_shape[d];
            rest /= out_shape[d];
            for (int k = 0; k < n; ++k) base[k] += at * stride[k][out_ids[d]];
          }
          Acc acc = 0;
          if (dot) {
            const T* x0 = data[0] + base[0];
            const T* x1 = data[1] + base[1];
            for (int64_t s = 0; s < sum_count; ++s) {
              acc += static_cast<Acc>(x0[s * dot_s0]) * static_cast<Acc>(x1[s * dot_s1]);
            }
            o[i] = static_cast<T>(acc);
            continue;
          }
          std::copy(base.begin(), base.end(), off.begin());
          std::fill(idx.begin(), idx.end(), 0);
          for (int64_t s = 0; s < sum_count; ++s) {
            Acc prod = 1;
            for (int k = 0; k < n; ++k) prod *= static_cast<Acc>(data[k][off[k]]);
            acc += prod;
            for (int d = num_sum - 1; d >= 0; --d) {  // odometer step
              for (int k = 0; k < n; ++k) off[k] += stride[k][sum_ids[d]];
              if (++idx[d] < sum_shape[d]) break;
              for (int k = 0; k < n; ++k) off[k] -= stride[k][sum_ids[d]] * sum_shape[d];
              idx[d] = 0;
            }
          }
          o[i] = static_cast<T>(acc);
        }
      }
    });
  }

  std::string impl() const override {
    return "loop";
  }

 private:
  std::string text_;
  Equation eq_;
};

}  // namespace

std::unique_ptr<Kernel> make_einsum(const Node& node, const Graph& graph) {
  if (node.num_inputs() < 1) fail<ModelError>("{}: expects at least 1 input", graph.where(node));
  return std::make_unique<EinsumKernel>(node, graph);
}

}  // namespace eff
