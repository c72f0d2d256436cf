// RNN, GRU and LSTM (forward, reverse, bidirectional; both layouts; optional biases, initial
// states, sequence lengths and LSTM peepholes; the default activations). CRNN-style text
// recognisers (PaddleOCR's older rec models) end in a small bidirectional LSTM, so this is plain
// code: each sequence of the batch runs its steps as matrix-vector products, sequences in parallel.
#include <algorithm>
#include <cmath>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

using namespace ops;

enum class Cell { kRnn, kGru, kLstm };

int gates_of(Cell cell) {
  return cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 3 : 4;
}

inline float sigmoid(float v) {
  return 1.f / (1.f + std::exp(-v));
}

class RecurrentKernel final : public Kernel {
 public:
  RecurrentKernel(const Node& node, const Graph& graph, Cell cell) : cell_(cell) {
    const std::string where = graph.where(node);
    const char* op = cell == Cell::kRnn ? "RNN" : cell == Cell::kGru ? "GRU" : "LSTM";
    if (node.num_inputs() < 3) fail<ModelError>("{}: expects at least 3 inputs, got {}", where, node.num_inputs());
    hidden_ = node.attr_int("hidden_size", 0);
    if (hidden_ <= 0) fail<ModelError>("{}: hidden_size must be positive, got {}", where, hidden_);
    const std::string direction = node.attr_string("direction", "forward");
    if (direction == "forward") {
      reverse_ = {false};
    } else if (direction == "reverse") {
      reverse_ = {true};
    } else if (direction == "bidirectional") {
      reverse_ = {false, true};
    } else {
      fail<ModelError>("{}: direction '{}' is not one of forward, reverse, bidirectional", where, direction);
    }
    layout_ = node.attr_int("layout", 0);
    if (layout_ != 0 && layout_ != 1) fail<ModelError>("{}: layout must be 0 or 1, got {}", where, layout_);
    if (node.has_attr("clip")) {
      clip_ = node.attr_float("clip", 0.f);
      if (!(clip_ > 0.f)) fail<ModelError>("{}: clip must be positive, got {}", where, clip_);
    }
    // Only the default activations: others (and their alpha/beta) would change every gate.
    const std::vector<std::string> defaults = cell == Cell::kRnn ? std::vector<std::string>{"Tanh"}
                                              : cell == Cell::kGru
                                                  ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                  : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    if (node.has_attr("activations")) {
      const std::vector<std::string> given = node.attrs.at("activations").strings;
      for (size_t i = 0; i < given.size(); ++i) {
        if (given[i] != defaults[i % defaults.size()]) {
          fail<UnsupportedError>("{}: {} activation '{}' is not supported (only the defaults)", where, op, given[i]);
        }
      }
    }
    if (cell == Cell::kLstm && node.attr_int("input_forget", 0) != 0) {
      fail<UnsupportedError>("{}: LSTM input_forget=1 is not supported", where);
    }
    linear_before_reset_ = cell == Cell::kGru && node.attr_int("linear_before_reset", 0) != 0;
    for (int i = 0; i < node.num_inputs(); ++i) {
      if (i != 4)
        require_input_type(
            node, graph, i, [](DType t) { return t == DType::kFloat32; }, "float32");
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = f32(ctx, 0);
    const Tensor& w = f32(ctx, 1);
    const Tensor& r = f32(ctx, 2);
    const int64_t dirs = static_cast<int64_t>(reverse_.size()), h = hidden_, g = gates_of(cell_);
    if (x.rank() != 3) fail<ShapeError>("{}: X must be 3-D, got {}", ctx.where(), shape_str(x.shape()));
    const int64_t seq = layout_ ? x.dim(1) : x.dim(0), batch = layout_ ? x.dim(0) : x.dim(1), in = x.dim(2);
    expect_shape(ctx, w, {dirs, g * h, in}, "W");
    expect_shape(ctx, r, {dirs, g * h, h}, "R");
    const float* bias = nullptr;
    if (ctx.has_input(3)) {
      expect_shape(ctx, f32(ctx, 3), {dirs, 2 * g * h}, "B");
      bias = ctx.input(3).data<float>();
    }
    std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
    if (ctx.has_input(4)) {
      const Tensor& sl = ctx.input(4);
      if (sl.numel() != batch || !is_numeric(sl.dtype())) {
        fail<ShapeError>("{}: sequence_lens must have {} entries, got {} {}", ctx.where(), batch,
                         dtype_name(sl.dtype()), shape_str(sl.shape()));
      }
      for (int64_t b = 0; b < batch; ++b) {
        lens[b] = sl.get_i64(b);
        if (lens[b] < 0 || lens[b] > seq) {
          fail<ShapeError>("{}: sequence length {} is outside [0, {}]", ctx.where(), lens[b], seq);
        }
      }
    }
    const Shape state_shape = layout_ ? Shape{batch, dirs, h} : Shape{dirs, batch, h};
    const float* h0 = nullptr;
    const float* c0 = nullptr;
    const float* peep = nullptr;
    if (ctx.has_input(5)) {
      expect_shape(ctx, f32(ctx, 5), state_shape, "initial_h");
      h0 = ctx.input(5).data<float>();
    }
    if (cell_ == Cell::kLstm && ctx.has_input(6)) {
      expect_shape(ctx, f32(ctx, 6), state_shape, "initial_c");
      c0 = ctx.input(6).data<float>();
    }
    if (cell_ == Cell::kLstm && ctx.has_input(7)) {
      expect_shape(ctx, f32(ctx, 7), {dirs, 3 * h}, "P");
      peep = ctx.input(7).data<float>();
    }
    const Shape y_shape = layout_ ? Shape{batch, seq, dirs, h} : Shape{seq, dirs, batch, h};
    float* y = ctx.num_outputs() > 0 ? ctx.output(0, DType::kFloat32, y_shape).data<float>() : nullptr;
    float* yh = ctx.num_outputs() > 1 ? ctx.output(1, DType::kFloat32, state_shape).data<float>() : nullptr;
    float* yc = cell_ == Cell::kLstm && ctx.num_outputs() > 2
                    ? ctx.output(2, DType::kFloat32, state_shape).data<float>()
                    : nullptr;
    if (y) std::fill(y, y + shape_numel(y_shape), 0.f);  // steps past a sequence's length stay 0
    // Element offsets in the layout-dependent tensors.
    auto x_at = [&](int64_t t, int64_t b) { return (layout_ ? b * seq + t : t * batch + b) * in; };
    auto y_at = [&](int64_t t, int64_t d, int64_t b) {
      return (layout_ ? (b * seq + t) * dirs + d : (t * dirs + d) * batch + b) * h;
    };
    auto state_at = [&](int64_t d, int64_t b) { return (layout_ ? b * dirs + d : d * batch + b) * h; };
    const float* xd = x.data<float>();
    const float* wd = w.data<float>();
    const float* rd = r.data<float>();
    for (int64_t d = 0; d < dirs; ++d) {
      const float* wdir = wd + d * g * h * in;
      const float* rdir = rd + d * g * h * h;
      const float* wb = bias ? bias + d * 2 * g * h : nullptr;
      const float* rb = bias ? wb + g * h : nullptr;
      const float* pd = peep ? peep + d * 3 * h : nullptr;
      const bool reverse = reverse_[d];
#pragma omp parallel for schedule(static) if (batch > 1 && seq * g * h * (in + h) >= kParallelElements)
      for (int64_t b = 0; b < batch; ++b) {
        std::vector<float> state(static_cast<size_t>(h), 0.f), cell(static_cast<size_t>(h), 0.f);
        std::vector<float> xw(static_cast<size_t>(g * h)), hr(static_cast<size_t>(g * h));
        Scratch scratch(h);
        if (h0) std::copy(h0 + state_at(d, b), h0 + state_at(d, b) + h, state.begin());
        if (c0) std::copy(c0 + state_at(d, b), c0 + state_at(d, b) + h, cell.begin());
        for (int64_t s = 0; s < lens[b]; ++s) {
          const int64_t t = reverse ? lens[b] - 1 - s : s;
          const float* xt = xd + x_at(t, b);
          matvec(wdir, xt, g * h, in, wb, xw.data());
          matvec(rdir, state.data(), g * h, h, rb, hr.data());
          step(xw.data(), hr.data(), rdir, rb, pd, state, cell, scratch);
          if (y) std::copy(state.begin(), state.end(), y + y_at(t, d, b));
        }
        if (yh) std::copy(state.begin(), state.end(), yh + state_at(d, b));
        if (yc) std::copy(cell.begin(), cell.end(), yc + state_at(d, b));
      }
    }
  }

  std::string impl() const override {
    return "loop";
  }

 private:
  static const Tensor& f32(const OpContext& ctx, int i) {
    const Tensor& t = ctx.input(i);
    if (t.dtype() != DType::kFloat32) {
      fail<ShapeError>("{}: input {} must be float32, got {}", ctx.where(), i, dtype_name(t.dtype()));
    }
    return t;
  }

  static void expect_shape(const OpContext& ctx, const Tensor& t, const Shape& want, const char* name) {
    if (t.shape() != want) {
      fail<ShapeError>("{}: {} has shape {}, expected {}", ctx.where(), name, shape_str(t.shape()), shape_str(want));
    }
  }

  // out[i] = sum_j m[i][j] v[j] (+ bias[i]).
  static void matvec(const float* m, const float* v, int64_t rows, int64_t cols, const float* bias, float* out) {
    for (int64_t i = 0; i < rows; ++i) {
      const float* row = m + i * cols;
      float acc = bias ? bias[i] : 0.f;
      for (int64_t j = 0; j < cols; ++j) acc += row[j] * v[j];
      out[i] = acc;
    }
  }

  // Per-sequence buffers of GRU steps, allocated once per sequence.
  struct Scratch {
    explicit Scratch(int64_t h)
        : z(static_cast<size_t>(h)),
          r(static_cast<size_t>(h)),
          cand(static_cast<size_t>(h)),
          rh(static_cast<size_t>(h)) {}
    std::vector<float> z, r, cand, rh;
  };

  float clip(float v) const {
    return clip_ > 0.f ? std::clamp(v, -clip_, clip_) : v;
  }

  // One time step from the input part xw = W x + Wb and the recurrent part hr = R h + Rb.
  void step(const float* xw, const float* hr, const float* rdir, const float* rb, const float* peep,
            std::vector<float>& state, std::vector<float>& cell, Scratch& scratch) const {
    const int64_t h = hidden_;
    switch (cell_) {
      case Cell::kRnn:
        for (int64_t i = 0; i < h; ++i) state[i] = std::tanh(clip(xw[i] + hr[i]));
        break;
      case Cell::kGru: {
        // Gates z, r, h.
        std::vector<float>& z = scratch.z;
        std::vector<float>& rgate = scratch.r;
        std::vector<float>& cand = scratch.cand;
        for (int64_t i = 0; i < h; ++i) {
          z[i] = sigmoid(clip(xw[i] + hr[i]));
          rgate[i] = sigmoid(clip(xw[h + i] + hr[h + i]));
        }
        if (linear_before_reset_) {
          for (int64_t i = 0; i < h; ++i) cand[i] = std::tanh(clip(xw[2 * h + i] + rgate[i] * hr[2 * h + i]));
        } else {
          // (r * h) R_h + Rb_h: the recurrent product is taken after the reset gate.
          std::vector<float>& rh = scratch.rh;
          for (int64_t i = 0; i < h; ++i) rh[i] = rgate[i] * state[i];
          for (int64_t i = 0; i < h; ++i) {
            const float* row = rdir + (2 * h + i) * h;
            float acc = rb ? rb[2 * h + i] : 0.f;
            for (int64_t j = 0; j < h; ++j) acc += row[j] * rh[j];
            cand[i] = std::tanh(clip(xw[2 * h + i] + acc));
          }
        }
        for (int64_t i = 0; i < h; ++i) state[i] = (1.f - z[i]) * cand[i] + z[i] * state[i];
        break;
      }
      case Cell::kLstm:
        // Gates i, o, f, c; peepholes i, o, f.
        for (int64_t i = 0; i < h; ++i) {
          const float c_prev = cell[i];
          const float ig = sigmoid(clip(xw[i] + hr[i] + (peep ? peep[i] * c_prev : 0.f)));
          const float fg = sigmoid(clip(xw[2 * h + i] + hr[2 * h + i] + (peep ? peep[2 * h + i] * c_prev : 0.f)));
          const float cg = std::tanh(clip(xw[3 * h + i] + hr[3 * h + i]));
          const float c = fg * c_prev + ig * cg;
          const float og = sigmoid(clip(xw[h + i] + hr[h + i] + (peep ? peep[h + i] * c : 0.f)));
          cell[i] = c;
          state[i] = og * std::tanh(c);
        }
        break;
    }
  }

  Cell cell_;
  int64_t hidden_ = 0;
  std::vector<bool> reverse_;
  int64_t layout_ = 0;
  float clip_ = 0.f;
  bool linear_before_reset_ = false;
};

}  // namespace

std::unique_ptr<Kernel> make_rnn(const Node& n, const Graph& g) {
  return std::make_unique<RecurrentKernel>(n, g, Cell::kRnn);
}
std::unique_ptr<Kernel> make_gru(const Node& n, const Graph& g) {
  return std::make_unique<RecurrentKernel>(n, g, Cell::kGru);
}
std::unique_ptr<Kernel> make_lstm(const Node& n, const Graph& g) {
  return std::make_unique<RecurrentKernel>(n, g, Cell::kLstm);
}

}  // namespace eff
