// ONNX backend node conformance: runs every test under data/node/test_*/ whose ops all have a
// kernel in our registry through the loader and the executor, and compares with the expected
// outputs the ONNX project generated (floats within rtol/atol, integers exactly, NaN == NaN).
//
// A test may be listed in expected_unsupported.txt ("test_name  reason"); it must then fail with
// eff::UnsupportedError. A listed test that passes is reported (and counts as a failure) so the
// list gets pruned. Tests of ops without a kernel are skipped, and every such op must be listed
// with its reason in unsupported_ops.txt ("OpType  reason"); a listed op that has a kernel fails. Exit status: 0 when
// nothing failed, 1 otherwise, 77 (skipped) when the test data is not installed.
//
// Usage: conformance_tests [-v] [substring ...]   (only tests whose name contains a substring)
// The data directory is /usr/share/libonnx-testdata/data/node unless EFF_ONNX_TESTDATA is set.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "engine/executor.h"
#include "engine/kernel.h"
#include "onnx/loader.h"
#include "onnx/tensor_proto.h"

namespace fs = std::filesystem;

namespace {

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-5;
constexpr int kSkipped = 77;

// Ops whose results are random: their tests cannot be compared with fixed outputs.
const std::set<std::string> kRandomOps = {"RandomNormal",      "RandomNormalLike", "RandomUniform",
                                          "RandomUniformLike", "Bernoulli",        "Multinomial"};

enum class Outcome { kPass, kFail, kKnownUnsupported };

struct Counts {
  int passed = 0;
  int failed = 0;
  int unsupported = 0;
};

std::map<std::string, std::string> read_expected_unsupported(const fs::path& file) {
  std::map<std::string, std::string> list;
  std::ifstream in(file);
  if (!in) return list;
  std::string line;
  while (std::getline(in, line)) {
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const size_t end = line.find_first_of(" \t", start);
    const std::string name = line.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string reason;
    if (end != std::string::npos) {
      const size_t r = line.find_first_not_of(" \t", end);
      if (r != std::string::npos) reason = line.substr(r);
    }
    list[name] = reason;
  }
  return list;
}

// The test's op types straight from model.onnx, before the loader sees it.
bool read_op_types(const fs::path& model, std::vector<std::string>& ops, std::vector<std::string>& domains) {
  std::ifstream in(model, std::ios::binary);
  onnx::ModelProto proto;
  if (!in || !proto.ParseFromIstream(&in)) return false;
  for (const auto& n : proto.graph().node()) {
    ops.push_back(n.op_type());
    domains.push_back(n.domain());
  }
  return true;
}

// "Resize" for a one-op test; "Constant+Resize"-style labels are reduced to the non-Constant ops.
std::string label_for(const std::vector<std::string>& ops) {
  std::set<std::string> distinct(ops.begin(), ops.end());
  if (distinct.size() > 1) distinct.erase("Constant");
  std::string label;
  for (const std::string& op : distinct) label += (label.empty() ? "" : "+") + op;
  return label;
}

std::vector<fs::path> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || e.path().extension() != ".pb") continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - 3);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    found.emplace_back(std::stoi(digits), e.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> paths;
  for (auto& f : found) paths.push_back(f.second);
  return paths;
}

// Empty when equal within tolerance, else a description of the first difference.
std::string compare(const eff::Tensor& got, const eff::Tensor& want) {
  if (got.dtype() != want.dtype()) {
    return fmt::format("dtype {} != expected {}", eff::dtype_name(got.dtype()), eff::dtype_name(want.dtype()));
  }
  if (got.shape() != want.shape()) {
    return fmt::format("shape {} != expected {}", eff::shape_str(got.shape()), eff::shape_str(want.shape()));
  }
  const bool is_float = want.dtype() == eff::DType::kFloat32 || want.dtype() == eff::DType::kFloat64 ||
                        want.dtype() == eff::DType::kFloat16;
  int64_t bad = 0;
  std::string first;
  for (int64_t i = 0; i < want.numel(); ++i) {
    bool ok;
    if (is_float) {
      const double g = got.get_f64(i), w = want.get_f64(i);
      if (std::isnan(w) || std::isnan(g)) {
        ok = std::isnan(w) && std::isnan(g);
      } else if (std::isinf(w) || std::isinf(g)) {
        ok = g == w;
      } else {
        ok = std::fabs(g - w) <= kAtol + kRtol * std::fabs(w);
      }
      if (!ok && first.empty()) first = fmt::format("element {}: {} != expected {}", i, g, w);
    } else {
      ok = got.get_i64(i) == want.get_i64(i);
      if (!ok && first.empty()) {
        first = fmt::format("element {}: {} != expected {}", i, got.get_i64(i), want.get_i64(i));
      }
    }
    if (!ok) ++bad;
  }
  if (bad == 0) return {};
  return fmt::format("{} of {} elements differ; first at {}", bad, want.numel(), first);
}

// Runs all data sets of one test, loading the model with `load`; returns "" on success, else what went wrong. Errors
// from the loader or the executor propagate (the caller tells UnsupportedError from the rest).
std::string run_test(const fs::path& dir, const eff::LoadOptions& load) {
  eff::ExecutorOptions options;
  options.threads = 1;
  eff::Executor executor(eff::load_onnx((dir / "model.onnx").string(), load), options);
  const size_t num_inputs = executor.graph().inputs.size();
  const size_t num_outputs = executor.graph().outputs.size();
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return "no test_data_set_* directories";
  for (const fs::path& set : sets) {
    const std::string set_name = set.filename().string();
    std::vector<eff::Tensor> inputs;
    for (const fs::path& p : numbered_files(set, "input_")) inputs.push_back(eff::read_tensor_pb(p.string()));
    if (inputs.size() != num_inputs) {
      return fmt::format("{}: {} input files for {} graph inputs", set_name, inputs.size(), num_inputs);
    }
    std::vector<eff::Tensor> expected;
    for (const fs::path& p : numbered_files(set, "output_")) expected.push_back(eff::read_tensor_pb(p.string()));
    if (expected.size() != num_outputs) {
      return fmt::format("{}: {} output files for {} graph outputs", set_name, expected.size(), num_outputs);
    }
    const std::vector<eff::Tensor> got = executor.run(inputs);
    for (size_t i = 0; i < expected.size(); ++i) {
      const std::string diff = compare(got.at(i), expected[i]);
      if (!diff.empty()) return fmt::format("{}: output {}: {}", set_name, i, diff);
    }
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  bool verbose = false;
  std::vector<std::string> filters;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-v" || arg == "--verbose") {
      verbose = true;
    } else if (arg == "-h" || arg == "--help") {
      std::printf("usage: %s [-v] [substring ...]\n", argv[0]);
      return 0;
    } else {
      filters.push_back(arg);
    }
  }
  const char* env = std::getenv("EFF_ONNX_TESTDATA");
  const fs::path root = env && *env ? fs::path(env) : fs::path("/usr/share/libonnx-testdata/data/node");
  if (!fs::is_directory(root)) {
    std::fprintf(stderr, "conformance: %s is not a directory (install libonnx-testdata or set EFF_ONNX_TESTDATA)\n",
                 root.c_str());
    return kSkipped;
  }
  const fs::path list_file = fs::path(EFF_CONFORMANCE_DIR) / "expected_unsupported.txt";
  const std::map<std::string, std::string> expected_unsupported = read_expected_unsupported(list_file);
  // Same "name  reason" format: ops without a kernel and why.
  const std::map<std::string, std::string> refused_ops =
      read_expected_unsupported(fs::path(EFF_CONFORMANCE_DIR) / "unsupported_ops.txt");

  std::vector<fs::path> tests;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.rfind("test_", 0) != 0) continue;
    if (!filters.empty() && std::none_of(filters.begin(), filters.end(),
                                         [&](const std::string& f) { return name.find(f) != std::string::npos; })) {
      continue;
    }
    tests.push_back(e.path());
  }
  std::sort(tests.begin(), tests.end());

  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, Counts> by_op;
  int not_ours = 0, random = 0, unreadable = 0;
  std::vector<std::string> failures;
  std::set<std::string> seen_listed;
  std::map<std::string, std::string> unlisted_ops;  // op -> a test that uses it
  for (const fs::path& dir : tests) {
    const std::string name = dir.filename().string();
    std::vector<std::string> ops, domains;
    if (!read_op_types(dir / "model.onnx", ops, domains)) {
      ++unreadable;
      if (verbose) std::printf("skip %s: model.onnx unreadable\n", name.c_str());
      continue;
    }
    if (std::any_of(ops.begin(), ops.end(), [](const std::string& op) { return kRandomOps.count(op) != 0; })) {
      ++random;
      continue;
    }
    bool ours = !ops.empty();
    for (size_t i = 0; i < ops.size(); ++i) {
      if (eff::find_op(ops[i]) != nullptr && (domains[i].empty() || domains[i] == "ai.onnx")) continue;
      ours = false;
      if (!refused_ops.count(ops[i])) unlisted_ops.emplace(ops[i], name);
    }
    if (!ours) {
      ++not_ours;
      continue;
    }
    const std::string label = label_for(ops);
    auto listed = expected_unsupported.find(name);
    if (listed != expected_unsupported.end()) seen_listed.insert(name);

    Outcome outcome = Outcome::kFail;
    std::string message;
    try {
      // Once as a user would load it, once without graph passes so that every node runs its own
      // kernel (folding would otherwise evaluate e.g. Shape at load time, or drop Dropout).
      message = run_test(dir, eff::LoadOptions{});
      if (message.empty()) {
        eff::LoadOptions raw;
        raw.run_passes = false;
        message = run_test(dir, raw);
        if (!message.empty()) message = "without graph passes: " + message;
      }
      if (message.empty()) {
        if (listed == expected_unsupported.end()) {
          outcome = Outcome::kPass;
        } else {
          message = "passes now but is listed in expected_unsupported.txt: remove it from the list";
        }
      }
    } catch (const eff::UnsupportedError& e) {
      if (listed != expected_unsupported.end()) {
        outcome = Outcome::kKnownUnsupported;
        message = e.what();
      } else {
        message = std::string("UnsupportedError: ") + e.what();
      }
    } catch (const std::exception& e) {
      message = std::string("error: ") + e.what();
    }
    Counts& c = by_op[label];
    switch (outcome) {
      case Outcome::kPass:
        ++c.passed;
        break;
      case Outcome::kKnownUnsupported:
        ++c.unsupported;
        break;
      case Outcome::kFail:
        ++c.failed;
        failures.push_back(fmt::format("FAIL {} ({}): {}", name, label, message));
        break;
    }
    if (verbose) {
      const char* word = outcome == Outcome::kPass ? "pass" : outcome == Outcome::kFail ? "FAIL" : "unsupported";
      std::printf("%-11s %s%s%s\n", word, name.c_str(), message.empty() ? "" : ": ", message.c_str());
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("%-28s %7s %7s %12s\n", "op", "passed", "failed", "unsupported");
  Counts total;
  for (const auto& [op, c] : by_op) {
    std::printf("%-28s %7d %7d %12d\n", op.c_str(), c.passed, c.failed, c.unsupported);
    total.passed += c.passed;
    total.failed += c.failed;
    total.unsupported += c.unsupported;
  }
  std::printf("%-28s %7d %7d %12d\n", "TOTAL", total.passed, total.failed, total.unsupported);
  std::printf("skipped: %d not our ops, %d random, %d unreadable; %.1f s\n", not_ours, random, unreadable, seconds);
  if (filters.empty()) {
    for (const auto& [name, reason] : expected_unsupported) {
      if (!seen_listed.count(name)) {
        std::printf("note: %s is listed in expected_unsupported.txt but is not one of our tests\n", name.c_str());
      }
    }
  }
  // Only a full run sees every test, so only it judges the op list.
  int op_list_errors = 0;
  if (filters.empty()) {
    for (const auto& [op, test] : unlisted_ops) {
      std::printf("FAIL op %s (used by %s) has no kernel and no reason in unsupported_ops.txt\n", op.c_str(),
                  test.c_str());
      ++op_list_errors;
    }
    for (const auto& [op, reason] : refused_ops) {
      if (eff::find_op(op) != nullptr) {
        std::printf("FAIL op %s has a kernel now: remove it from unsupported_ops.txt\n", op.c_str());
        ++op_list_errors;
      }
    }
  }
  for (const std::string& f : failures) std::printf("%s\n", f.c_str());
  return total.failed == 0 && op_list_errors == 0 ? 0 : 1;
}
