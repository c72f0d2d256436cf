// `import effectual`: the Python face of the library (docs/python.md). Arguments are converted here
// with the GIL held; each call then releases the GIL for the library work (session.h), so other
// Python threads run meanwhile, and converts the result (numpy arrays, dicts) with the GIL again.
// Library errors arrive as exceptions of the matching class with the command line's one-line message.
#include <fmt/format.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <type_traits>

#include "api/quantize.h"
#include "api/report.h"
#include "python/arrays.h"
#include "python/session.h"
#include "sim/simulator.h"

namespace py = pybind11;
using eff::python::DataArg;
using eff::python::Session;

namespace {

std::string dims_text(const py::handle& dims) {
  std::string s;
  for (const py::handle& d : dims) s += (s.empty() ? "" : ",") + std::to_string(d.cast<int64_t>());
  return s;
}

// input_shapes: [1, 3, 224, 224] (the first input) or {"name": [1, 3, 224, 224], ...}.
std::vector<std::string> input_shape_specs(const py::object& shapes) {
  std::vector<std::string> out;
  if (shapes.is_none()) return out;
  if (py::isinstance<py::dict>(shapes)) {
    for (const auto& [name, dims] : shapes.cast<py::dict>()) {
      const std::string n = name.cast<std::string>();
      out.push_back((n.empty() ? "" : n + ":") + dims_text(dims));
    }
    return out;
  }
  out.push_back(dims_text(shapes));
  return out;
}

std::string optional_path(const py::object& o) {
  return o.is_none() ? std::string() : py::str(o).cast<std::string>();
}

// The accuracy-in-the-loop arguments search_* and gate share (as the CLI's add_subset_flags and
// --keep/--max-loss/--metric): the disjoint search and report subsets and the target.
template <class Options>
void set_subsets_and_target(Options& a, int64_t search_images, int64_t report_images, uint64_t seed,
                            const py::object& keep, std::optional<double> max_loss, const std::string& metric) {
  a.search_images = search_images;
  a.report_images = report_images;
  a.seed = seed;
  a.keep = keep.is_none() ? "" : py::str(keep).cast<std::string>();
  a.max_loss = max_loss;
  a.metric = metric;
}

bool is_text(const py::handle& o) {
  return py::isinstance<py::str>(o) || py::hasattr(o, "__fspath__");
}

// The tensors of `inputs` in graph-input order: one array, a list of arrays, or {name: array}.
std::vector<eff::Tensor> input_tensors(Session& s, const py::object& inputs) {
  const eff::Graph& g = s.model().graph;
  std::vector<eff::Tensor> out;
  auto name_of = [&](size_t k) { return g.value(g.inputs[k]).name; };
  if (py::isinstance<py::dict>(inputs)) {
    const py::dict d = inputs.cast<py::dict>();
    for (const auto& [key, value] : d) {
      const std::string name = key.cast<std::string>();
      bool known = false;
      for (size_t k = 0; k < g.inputs.size(); ++k) known = known || name_of(k) == name;
      if (!known) {
        eff::fail<eff::UsageError>("the model has no input named '{}' (its inputs: {})", name,
                                   eff::cli::input_names(g));
      }
    }
    for (size_t k = 0; k < g.inputs.size(); ++k) {
      if (!d.contains(name_of(k))) {
        eff::fail<eff::UsageError>("input '{}' is not given (the model's inputs: {})", name_of(k),
                                   eff::cli::input_names(g));
      }
      out.push_back(eff::python::tensor_from_array(d[py::str(name_of(k))], s.input_dtype(k), "input " + name_of(k)));
    }
    return out;
  }
  if (py::isinstance<py::list>(inputs) || py::isinstance<py::tuple>(inputs)) {
    size_t k = 0;
    for (const py::handle& x : inputs) {
      out.push_back(eff::python::tensor_from_array(x, s.input_dtype(k), fmt::format("input {}", k)));
      ++k;
    }
    return out;
  }
  out.push_back(eff::python::tensor_from_array(inputs, s.input_dtype(0), "input"));
  return out;
}

// data="fashion-mnist:test" (or a folder, an .npy: --data), inputs= arrays (or .npy paths: --input),
// labels= an integer array (or an .npy path: --labels).
DataArg data_arg(Session& s, const py::object& data, const py::object& inputs, const py::object& labels) {
  DataArg d;
  if (!data.is_none()) d.files.data = py::str(data).cast<std::string>();
  const bool input_paths =
      !inputs.is_none() &&
      (is_text(inputs) || ((py::isinstance<py::list>(inputs) || py::isinstance<py::tuple>(inputs)) &&
                           py::len(inputs) > 0 && is_text(inputs[py::int_(0)])));
  if (input_paths) {
    if (is_text(inputs)) {
      d.files.input.push_back(py::str(inputs).cast<std::string>());
    } else {
      for (const py::handle& x : inputs) d.files.input.push_back(py::str(x).cast<std::string>());
    }
    if (!labels.is_none()) {
      if (!is_text(labels)) eff::fail<eff::UsageError>("labels: with inputs given as files, give labels as a file");
      d.files.labels = py::str(labels).cast<std::string>();
    }
    return d;
  }
  if (!inputs.is_none()) d.arrays = input_tensors(s, inputs);
  if (!labels.is_none()) {
    if (is_text(labels)) {
      if (!d.arrays.empty()) eff::fail<eff::UsageError>("labels: with inputs given as arrays, give labels as an array");
      d.files.labels = py::str(labels).cast<std::string>();
    } else {
      d.labels = eff::python::labels_from_array(labels);
    }
  }
  return d;
}

// designs: None (all; with a config, the config's entries, as the CLI), "stripes,loom" or a list.
std::string designs_text(const py::object& designs, const std::string& config) {
  if (designs.is_none()) return config.empty() ? "all" : "";
  if (py::isinstance<py::str>(designs)) return designs.cast<std::string>();
  std::string out;
  for (const py::handle& x : designs) out += (out.empty() ? "" : ",") + x.cast<std::string>();
  return out;
}

// Runs `work` without the GIL and returns its JSON as Python objects.
template <class F>
py::object released(F&& work) {
  nlohmann::json j;
  {
    py::gil_scoped_release release;
    j = work();
  }
  return eff::python::to_python(j);
}

std::shared_ptr<Session> load(const std::string& model, const py::object& meta, const py::object& input_shapes,
                              int threads, const py::object& preprocess, const py::object& precision_profile,
                              const py::object& thresholds, const py::object& deft, const py::object& deft_calibration,
                              int64_t deft_images) {
  eff::cli::Common o;
  o.model = model;
  o.meta = optional_path(meta);
  if (threads < 0) eff::fail<eff::UsageError>("threads {}: give 0 (all cores) or a positive count", threads);
  o.threads = threads;
  o.preprocess = optional_path(preprocess);
  o.input_shapes = input_shape_specs(input_shapes);
  o.precision_profile = optional_path(precision_profile);
  o.thresholds = optional_path(thresholds);
  o.deft = deft.is_none() ? "" : deft.cast<std::string>();
  o.deft_calibration = optional_path(deft_calibration);
  o.deft_images = deft_images;
  py::gil_scoped_release release;
  return std::make_shared<Session>(std::move(o));
}

void register_errors(py::module_& m) {
  // Derived classes after their bases: pybind11 tries the translators last registered first.
  auto base = py::register_exception<eff::Error>(m, "Error", PyExc_RuntimeError);
  base.attr("exit_code") = 1;
  auto model = py::register_exception<eff::ModelError>(m, "ModelError", base.ptr());
  model.attr("exit_code") = 3;
  auto add = [&](auto tag, const char* name, PyObject* parent, int code) {
    using E = typename decltype(tag)::type;
    auto e = py::register_exception<E>(m, name, parent);
    e.attr("exit_code") = code;
  };
  add(std::type_identity<eff::UnsupportedError>{}, "UnsupportedError", model.ptr(), 4);
  add(std::type_identity<eff::ShapeError>{}, "ShapeError", base.ptr(), 5);
  add(std::type_identity<eff::DataError>{}, "DataError", base.ptr(), 6);
  add(std::type_identity<eff::ConfigError>{}, "ConfigError", base.ptr(), 7);
  add(std::type_identity<eff::TraceError>{}, "TraceError", base.ptr(), 8);
  add(std::type_identity<eff::UsageError>{}, "UsageError", base.ptr(), 2);
}

}  // namespace

// The compiled part of the package `effectual` (src/python/effectual/__init__.py re-exports it).
PYBIND11_MODULE(_effectual, m) {
  m.doc() = "effectual: run ONNX models, profile their values and simulate value-based accelerators (docs/python.md)";
  m.attr("__version__") = "0.1.0";
  register_errors(m);

  py::class_<Session, std::shared_ptr<Session>> model(m, "Model",
                                                      "A loaded ONNX model (effectual.load); its methods are the "
                                                      "commands of the effectual CLI, returning what --json prints");
  m.def("load", &load, py::arg("model"), py::kw_only(), py::arg("meta") = py::none(),
        py::arg("input_shapes") = py::none(), py::arg("threads") = 0, py::arg("preprocess") = py::none(),
        py::arg("precision_profile") = py::none(), py::arg("thresholds") = py::none(), py::arg("deft") = py::none(),
        py::arg("deft_calibration") = py::none(), py::arg("deft_images") = 256,
        "Load MODEL as the CLI does with the same flags (--meta, --input-shape, --threads, --preprocess, "
        "--precision-profile, --thresholds, --deft...). input_shapes: [1,3,224,224] for the first input or "
        "{name: shape}.");
  m.def(
      "designs",
      [] {
        py::list out;
        for (const eff::sim::DesignEntry& e : eff::sim::design_registry()) {
          out.append(py::dict(py::arg("name") = e.id, py::arg("description") = e.description));
        }
        return out;
      },
      "The simulator's designs (`effectual simulate --list-designs --json`).");

  m.def(
      "simulate_traces",
      [](const py::object& dir, const py::object& designs, const py::object& config, const py::object& technology,
         const py::object& precision_profile, const py::object& thresholds, int64_t images, int64_t first, int threads,
         bool space_to_depth) {
        eff::python::SimulateArgs a;
        a.config = optional_path(config);
        a.technology = optional_path(technology);
        a.designs = designs_text(designs, a.config);
        a.precision_profile = optional_path(precision_profile);
        a.thresholds = optional_path(thresholds);
        a.images = images;
        a.first = first;
        if (threads < 0) eff::fail<eff::UsageError>("threads {}: give 0 (all cores) or a positive count", threads);
        a.threads = threads;
        a.space_to_depth = space_to_depth;
        const std::string d = py::str(dir).cast<std::string>();
        return released([&] { return eff::python::simulate_traces(d, a); });
      },
      py::arg("dir"), py::kw_only(), py::arg("designs") = py::none(), py::arg("config") = py::none(),
      py::arg("technology") = py::none(), py::arg("precision_profile") = py::none(), py::arg("thresholds") = py::none(),
      py::arg("images") = 0, py::arg("first") = 0, py::arg("threads") = 0, py::arg("space_to_depth") = true,
      "Simulate a trace directory written by Model.trace (`effectual simulate --traces DIR --json`); "
      "images=0: all the trace holds.");

  m.def(
      "simulate_synthetic",
      [](const py::object& network, const py::object& designs, const py::object& config, const py::object& technology,
         int64_t images, double zero_fraction, const std::string& magnitude, int act_bits, int wgt_bits, uint64_t seed,
         int threads, bool space_to_depth, const py::object& input_shapes) {
        eff::python::SimulateArgs a;
        a.config = optional_path(config);
        a.technology = optional_path(technology);
        a.designs = designs_text(designs, a.config);
        a.images = images;
        if (threads < 0) eff::fail<eff::UsageError>("threads {}: give 0 (all cores) or a positive count", threads);
        a.threads = threads;
        a.space_to_depth = space_to_depth;
        eff::sim::SyntheticSpec spec;
        spec.zero_fraction = zero_fraction;
        spec.magnitude = magnitude;
        spec.act_bits = act_bits;
        spec.wgt_bits = wgt_bits;
        spec.seed = seed;
        eff::cli::Common c;
        c.threads = threads;
        c.input_shapes = input_shape_specs(input_shapes);
        const std::string net = py::str(network).cast<std::string>();
        return released([&] { return eff::python::simulate_synthetic(net, c, a, spec); });
      },
      py::arg("network"), py::kw_only(), py::arg("designs") = py::none(), py::arg("config") = py::none(),
      py::arg("technology") = py::none(), py::arg("images") = 1, py::arg("zero_fraction") = 0.44,
      py::arg("magnitude") = "half-normal", py::arg("act_bits") = 16, py::arg("wgt_bits") = 16, py::arg("seed") = 1,
      py::arg("threads") = 0, py::arg("space_to_depth") = true, py::arg("input_shapes") = py::none(),
      "Simulate drawn values on a network's geometry (`effectual simulate --synthetic --network NETWORK --json`): "
      "a preset (vgg16, vgg16-conv), a network YAML or an .onnx model (its geometry).");
  m.def(
      "quantize",
      [](const std::string& model, const py::object& out, const py::object& meta, int threads, int bits, int act_bits,
         bool per_channel, bool asymmetric, const std::string& clip, const py::object& act_clip, double ocs_ratio,
         const py::object& calib_data, const std::vector<std::string>& calib_inputs, int64_t calib_images, bool table,
         const py::object& data, int64_t report_images, uint64_t seed, const py::object& csv, const py::object& html,
         const std::string& table_bits) {
        eff::cli::Common c;
        c.model = model;
        c.meta = optional_path(meta);
        if (threads < 0) eff::fail<eff::UsageError>("threads {}: give 0 (all cores) or a positive count", threads);
        c.threads = threads;
        c.json = true;
        eff::api::QuantizeOptions a;
        a.out = optional_path(out);
        a.bits = bits;
        a.act_bits = act_bits;
        a.per_channel = per_channel;
        a.asymmetric = asymmetric;
        a.clip = clip;
        a.act_clip = act_clip.is_none() ? "" : py::str(act_clip).cast<std::string>();
        a.ocs_ratio = ocs_ratio;
        a.calib_data = optional_path(calib_data);
        a.calib_input = calib_inputs;
        a.calib_images = calib_images;
        a.table = table;
        a.data = optional_path(data);
        a.report_images = report_images;
        a.seed = seed;
        a.csv = optional_path(csv);
        a.html = optional_path(html);
        a.bits_list = table_bits;
        return released([&] { return eff::api::quantize(c, a).doc; });
      },
      py::arg("model"), py::arg("out") = py::none(), py::kw_only(), py::arg("meta") = py::none(),
      py::arg("threads") = 0, py::arg("bits") = 8, py::arg("act_bits") = 0, py::arg("per_channel") = false,
      py::arg("asymmetric") = false, py::arg("clip") = "none", py::arg("act_clip") = py::none(),
      py::arg("ocs_ratio") = 0.0, py::arg("calib_data") = py::none(),
      py::arg("calib_inputs") = std::vector<std::string>{}, py::arg("calib_images") = 256, py::arg("table") = false,
      py::arg("data") = py::none(), py::arg("report_images") = 1000, py::arg("seed") = 1, py::arg("csv") = py::none(),
      py::arg("html") = py::none(), py::arg("table_bits") = "4,5,6,8",
      "Quantize MODEL to OUT.onnx (ONNX QDQ; `effectual quantize --json`), or with table=True and data= seed 003's "
      "accuracy table. Returns the command's dict.");
  m.def(
      "area",
      [](const py::object& designs, const py::object& config, const py::object& technology) {
        eff::api::AreaOptions a;
        a.config = optional_path(config);
        a.designs = designs.is_none() ? "" : designs_text(designs, a.config);
        a.technology = optional_path(technology);
        return released([&] { return eff::api::area(a).doc; });
      },
      py::kw_only(), py::arg("designs") = py::none(), py::arg("config") = py::none(),
      py::arg("technology") = py::none(),
      "Area of every configured design by component, relative to DaDianNao (`effectual area --json`).");
  m.def(
      "report",
      [](const py::object& out, const py::object& profile, const py::object& simulation, const py::object& search,
         const py::object& frontier, const py::object& deft, const std::string& title) {
        eff::api::ReportOptions r;
        r.out = py::str(out).cast<std::string>();
        r.title = title;
        // A dict (what the methods return) or the path of a saved JSON file.
        auto doc = [](const py::object& x, const char* what) -> std::optional<eff::api::NamedDoc> {
          if (x.is_none()) return std::nullopt;
          if (is_text(x)) {
            const std::string path = py::str(x).cast<std::string>();
            return eff::api::NamedDoc{path, eff::api::read_json_file(path)};
          }
          const std::string text = py::module_::import("json").attr("dumps")(x).cast<std::string>();
          return eff::api::NamedDoc{what, nlohmann::json::parse(text)};
        };
        if (auto d = doc(profile, "profile.json")) r.profiles.push_back(*d);
        if (auto d = doc(simulation, "results.json")) r.simulations.push_back(*d);
        r.search = doc(search, "search.json");
        r.frontier = doc(frontier, "frontier.json");
        r.deft = doc(deft, "optimize.json");
        int charts = 0;
        {
          py::gil_scoped_release release;
          charts = eff::api::report(r);
        }
        return charts;
      },
      py::arg("out"), py::kw_only(), py::arg("profile") = py::none(), py::arg("simulation") = py::none(),
      py::arg("search") = py::none(), py::arg("frontier") = py::none(), py::arg("deft") = py::none(),
      py::arg("title") = "effectual report",
      "Write one HTML report (`effectual report`) from dicts returned by the methods or saved JSON files; returns "
      "the number of charts.");

  model.def_property_readonly("path", [](Session& s) { return s.options().model; });
  model.def_property_readonly("name", [](Session& s) { return s.model().meta.name; });
  model.def_property_readonly("input_names", [](Session& s) {
    std::vector<std::string> out;
    for (eff::ValueId v : s.model().graph.inputs) out.push_back(s.model().graph.value(v).name);
    return out;
  });
  model.def_property_readonly("output_names", [](Session& s) {
    std::vector<std::string> out;
    for (eff::ValueId v : s.model().graph.outputs) out.push_back(s.model().graph.value(v).name);
    return out;
  });
  model.def_property_readonly("classes", [](Session& s) { return s.model().meta.classes; });
  model.def(
      "info", [](Session& s) { return released([&] { return s.info(); }); },
      "Inputs, outputs and every conv/FC layer's geometry (`effectual info --json`).");
  model.def(
      "run",
      [](Session& s, const py::object& inputs) {
        const std::vector<eff::Tensor> in = input_tensors(s, inputs);
        std::vector<eff::Tensor> out;
        {
          py::gil_scoped_release release;
          out = s.run(in);
        }
        py::list result;
        for (eff::Tensor& t : out) result.append(eff::python::array_from_tensor(std::move(t)));
        return result;
      },
      py::arg("inputs"),
      "Run the model: one array, a list of arrays (graph-input order) or {name: array}. Returns the outputs "
      "as a list of arrays in graph-output order.");
  model.def(
      "evaluate",
      [](Session& s, const py::object& data, const py::object& inputs, const py::object& labels, int64_t limit,
         int64_t first, int64_t batch) {
        const DataArg d = data_arg(s, data, inputs, labels);
        eff::python::EvalArgs a;
        a.limit = limit;
        a.first = first;
        a.batch = batch;
        return released([&] { return s.evaluate(d, a); });
      },
      py::arg("data") = py::none(), py::kw_only(), py::arg("inputs") = py::none(), py::arg("labels") = py::none(),
      py::arg("limit") = 0, py::arg("first") = 0, py::arg("batch") = 64,
      "Top-1/top-5 accuracy on labelled data (`effectual eval --json`).");
  model.def(
      "trace",
      [](Session& s, const std::string& out, const py::object& data, const py::object& inputs, const py::object& labels,
         int64_t images, int64_t first, int64_t batch, const std::string& format) {
        const DataArg d = data_arg(s, data, inputs, labels);
        eff::python::TraceArgs a;
        a.out = out;
        a.images = images;
        a.first = first;
        a.batch = batch;
        a.format = format;
        return released([&] { return s.trace(d, a); });
      },
      py::arg("out"), py::arg("data") = py::none(), py::kw_only(), py::arg("inputs") = py::none(),
      py::arg("labels") = py::none(), py::arg("images") = 1, py::arg("first") = 0, py::arg("batch") = 16,
      py::arg("format") = "effectual",
      "Write per-layer traces to OUT (`effectual trace --json`; docs/trace-format.md).");
  model.def(
      "profile",
      [](Session& s, const py::object& data, const py::object& inputs, const py::object& labels, int64_t images,
         int64_t first, int64_t batch, const std::vector<double>& near_zero,
         const std::vector<double>& relative_near_zero, const std::vector<std::pair<int, int>>& groups, int bits,
         const std::map<std::string, std::pair<double, double>>& machines, bool correlations, int64_t psum_samples,
         int64_t synapse_rows) {
        const DataArg d = data_arg(s, data, inputs, labels);
        eff::python::ProfileArgs a;
        a.images_given = false;  // as the CLI without --images: no note when the data holds fewer
        a.images = images;
        a.first = first;
        a.batch = batch;
        eff::profile::ProfileOptions& po = a.options;
        po.near_zero = near_zero;
        po.relative_near_zero = relative_near_zero;
        po.groups.clear();
        for (const auto& [c, w] : groups) po.groups.push_back({c, w});
        if (bits < 1 || bits > 64) eff::fail<eff::UsageError>("bits {}: give 1 to 64", bits);
        po.memory_bits = bits;
        po.machines = eff::profile::default_machines();
        for (const auto& [name, speeds] : machines) {
          const eff::profile::Machine mc =
              eff::profile::parse_machine(fmt::format("{}={:.17g},{:.17g}", name, speeds.first, speeds.second));
          auto it =
              std::find_if(po.machines.begin(), po.machines.end(), [&](const auto& x) { return x.name == mc.name; });
          if (it != po.machines.end()) {
            *it = mc;
          } else {
            po.machines.push_back(mc);
          }
        }
        po.correlations = correlations;
        po.psum_samples_per_image = psum_samples;
        po.synapse_max_rows = synapse_rows;
        return released([&] { return s.profile(d, a); });
      },
      py::arg("data") = py::none(), py::kw_only(), py::arg("inputs") = py::none(), py::arg("labels") = py::none(),
      py::arg("images") = 64, py::arg("first") = 0, py::arg("batch") = 32, py::arg("near_zero") = std::vector<double>{},
      py::arg("relative_near_zero") = std::vector<double>{0.01, 0.05, 0.1},
      py::arg("groups") = std::vector<std::pair<int, int>>{{16, 1}, {16, 16}}, py::arg("bits") = 16,
      py::arg("machines") = std::map<std::string, std::pair<double, double>>{}, py::arg("correlations") = true,
      py::arg("psum_samples") = 32, py::arg("synapse_rows") = 512,
      "Value profiles of every conv/FC layer: the dict `effectual profile --json` prints (profile.json). "
      "machines: {name: (ops_per_s, bytes_per_s)}; correlations=False is --skip correlations.");
  model.def(
      "simulate",
      [](Session& s, const py::object& data, const py::object& inputs, const py::object& labels, int64_t images,
         int64_t first, const py::object& designs, const py::object& config, const py::object& technology,
         bool space_to_depth, bool check_values, const py::object& gates, const py::object& dram) {
        const DataArg d = data_arg(s, data, inputs, labels);
        eff::python::SimulateArgs a;
        a.gates = optional_path(gates);
        a.dram = optional_path(dram);
        a.images = images;
        a.first = first;
        a.config = optional_path(config);
        a.technology = optional_path(technology);
        a.designs = designs_text(designs, a.config);
        a.space_to_depth = space_to_depth;
        a.check_values = check_values;
        return released([&] { return s.simulate(d, a); });
      },
      py::arg("data") = py::none(), py::kw_only(), py::arg("inputs") = py::none(), py::arg("labels") = py::none(),
      py::arg("images") = 1, py::arg("first") = 0, py::arg("designs") = py::none(), py::arg("config") = py::none(),
      py::arg("technology") = py::none(), py::arg("space_to_depth") = true, py::arg("check_values") = false,
      py::arg("gates") = py::none(), py::arg("dram") = py::none(),
      "Simulate the designs on live values: the dict `effectual simulate --json` prints (results.json: "
      "'layers' per image, layer and design, 'totals' per design, 'notes').");
  // search precision | thresholds | all: one argument list (as the CLI's shared search flags).
  using SearchMethod = nlohmann::json (Session::*)(const DataArg&, const eff::python::SearchArgs&);
  auto bind_search = [&model](const char* name, SearchMethod method, const char* doc) {
    model.def(
        name,
        [method](Session& s, const py::object& data, const py::object& inputs, const py::object& labels,
                 const py::object& search_data, const py::object& report_data, int64_t search_images,
                 int64_t report_images, uint64_t seed, const py::object& keep, std::optional<double> max_loss,
                 const std::string& metric, const std::string& objective, std::optional<double> min_snr_db,
                 int64_t batch, int64_t sim_images, int levels, bool sweep, const std::string& sweep_targets,
                 const py::object& out, bool resume, const std::string& clip, double ocs_ratio) {
          const DataArg d = data_arg(s, data, inputs, labels);
          eff::python::SearchArgs a;
          a.search_data = optional_path(search_data);
          a.report_data = optional_path(report_data);
          set_subsets_and_target(a, search_images, report_images, seed, keep, max_loss, metric);
          a.objective = objective;
          a.min_snr_db = min_snr_db;
          a.batch = batch;
          a.sim_images = sim_images;
          a.levels = levels;
          a.sweep = sweep;
          a.sweep_targets = sweep_targets;
          a.out = optional_path(out);
          a.resume = resume;
          a.clip = clip;
          a.ocs_ratio = ocs_ratio;
          return released([&] { return (s.*method)(d, a); });
        },
        py::arg("data") = py::none(), py::kw_only(), py::arg("inputs") = py::none(), py::arg("labels") = py::none(),
        py::arg("search_data") = py::none(), py::arg("report_data") = py::none(), py::arg("search_images") = 500,
        py::arg("report_images") = 500, py::arg("seed") = 1, py::arg("keep") = py::none(),
        py::arg("max_loss") = py::none(), py::arg("metric") = "top1", py::arg("objective") = "activations",
        py::arg("min_snr_db") = py::none(), py::arg("batch") = 100, py::arg("sim_images") = 8, py::arg("levels") = 12,
        py::arg("sweep") = false, py::arg("sweep_targets") = "", py::arg("out") = py::none(), py::arg("resume") = false,
        py::arg("clip") = "none", py::arg("ocs_ratio") = 0.0, doc);
  };
  bind_search("search_precision", &Session::search_precision,
              "Per-layer fixed-point formats with accuracy in the loop: the dict `effectual search precision --json` "
              "prints (search.json; frontier.json with sweep=True). keep='99%' or max_loss=0.5 (points); out=DIR "
              "writes the command's files and checkpoint.");
  bind_search("search_thresholds", &Session::search_thresholds,
              "Per-layer near-zero thresholds with accuracy in the loop: the dict `effectual search thresholds "
              "--json` prints (threshold_search.json; frontier.json with sweep=True).");
  bind_search("search_all", &Session::search_all,
              "Precision search, then thresholds on the found profile, then every design simulated: the dict "
              "`effectual search all --json` prints.");
  model.def(
      "gate",
      [](Session& s, const py::object& data, const py::object& inputs, const py::object& labels, int64_t search_images,
         int64_t report_images, uint64_t seed, const py::object& keep, std::optional<double> max_loss,
         const std::string& metric, int64_t batch, const std::string& base, const py::object& precision, int levels,
         bool per_channel, const py::object& out, const py::object& save, const py::object& html, bool resume,
         const py::object& evaluate, const std::string& grouping) {
        const DataArg d = data_arg(s, data, inputs, labels);
        eff::api::GateOptions a;
        set_subsets_and_target(a, search_images, report_images, seed, keep, max_loss, metric);
        a.batch = batch;
        a.base = base;
        a.precision = precision.is_none() ? "" : py::str(precision).cast<std::string>();
        a.levels = levels;
        a.per_channel = per_channel;
        a.out = optional_path(out);
        a.save = optional_path(save);
        a.html = optional_path(html);
        a.resume = resume;
        a.evaluate = optional_path(evaluate);
        a.grouping = grouping;
        return released([&] { return s.gate(d, a); });
      },
      py::arg("data") = py::none(), py::kw_only(), py::arg("inputs") = py::none(), py::arg("labels") = py::none(),
      py::arg("search_images") = 1000, py::arg("report_images") = 1000, py::arg("seed") = 1,
      py::arg("keep") = py::none(), py::arg("max_loss") = py::none(), py::arg("metric") = "top1",
      py::arg("batch") = 100, py::arg("base") = "1/4", py::arg("precision") = py::none(), py::arg("levels") = 16,
      py::arg("per_channel") = false, py::arg("out") = py::none(), py::arg("save") = py::none(),
      py::arg("html") = py::none(), py::arg("resume") = false, py::arg("evaluate") = py::none(),
      py::arg("grouping") = "first",
      "Channel gating (base='1/4'; grouping='shuffle' or 'contiguous': G = 1/base groups) or precision gating "
      "(precision='8/4') with per-layer thresholds found with "
      "accuracy in the loop: the dict `effectual gate --json` prints; out= writes the gates file; evaluate=FILE "
      "measures that gates file instead of searching.");
  model.def(
      "optimize",
      [](Session& s, const py::object& out, const py::object& data, const py::object& inputs, const py::object& labels,
         int64_t search_images, int64_t report_images, uint64_t seed, double target_loss, const std::string& formats,
         const std::string& alphas, const std::string& compensation, int64_t calibration_images, int64_t batch,
         int64_t speed_batch, int rounds, int runs, bool resume, const py::object& html) {
        const DataArg d = data_arg(s, data, inputs, labels);
        eff::api::OptimizeOptions a;
        a.out = py::str(out).cast<std::string>();
        a.search_images = search_images;
        a.report_images = report_images;
        a.seed = seed;
        a.target_loss = target_loss;
        a.formats = formats;
        a.alphas = alphas;
        a.compensation = compensation;
        a.calibration_images = calibration_images;
        a.batch = batch;
        a.speed_batch = speed_batch;
        a.rounds = rounds;
        a.runs = runs;
        a.resume = resume;
        a.html = optional_path(html);
        return released([&] { return s.optimize(d, a); });
      },
      py::arg("out"), py::arg("data") = py::none(), py::kw_only(), py::arg("inputs") = py::none(),
      py::arg("labels") = py::none(), py::arg("search_images") = 1000, py::arg("report_images") = 2000,
      py::arg("seed") = 1, py::arg("target_loss") = 0.5, py::arg("formats") = "deft16q,fp8,bf16dot,int8",
      py::arg("alphas") = "0.99,0.95,0.9,0.8", py::arg("compensation") = "fold", py::arg("calibration_images") = 256,
      py::arg("batch") = 100, py::arg("speed_batch") = 1, py::arg("rounds") = 5, py::arg("runs") = 10,
      py::arg("resume") = false, py::arg("html") = py::none(),
      "Per-layer DeftNN formats under a top-1 target, timed in the engine: the dict `effectual optimize --json` "
      "prints; the optimized model is written to OUT.");
  model.def(
      "bench",
      [](Session& s, const py::object& inputs, int64_t batch, int repeat, int warmup, bool per_layer,
         double max_seconds) {
        std::vector<eff::Tensor> in;
        if (!inputs.is_none()) in = input_tensors(s, inputs);
        eff::api::BenchOptions a;
        a.batch = batch;
        a.repeat = repeat;
        a.warmup = warmup;
        a.per_layer = per_layer;
        a.max_seconds = max_seconds;
        return released([&] { return s.bench(in, a); });
      },
      py::arg("inputs") = py::none(), py::kw_only(), py::arg("batch") = 0, py::arg("repeat") = 20,
      py::arg("warmup") = 3, py::arg("per_layer") = false, py::arg("max_seconds") = 60.0,
      "Latency and throughput (`effectual bench --json`); inputs as for run (None: deterministic generated values), "
      "batch=0: their rows as they are.");
  model.def("__repr__", [](Session& s) { return fmt::format("<effectual.Model '{}'>", s.options().model); });
}
