// effectual profile: value profiles of every conv/FC layer (src/profile, docs/profile.md).
#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "api/commands.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/fs.h"
#include "engine/quantized_layers.h"
#include "profile/profile_json.h"
#include "profile/profile_report.h"
#include "profile/profiler.h"

namespace eff::cli {

using nlohmann::json;

namespace {

struct ProfileFlags {
  int64_t images = 64;
  bool images_given = false;  // say so when more were asked for than the data holds
  int64_t first = 0;
  int64_t batch = 32;
  std::string near_zero;
  std::string relative_near_zero = "0.01,0.05,0.1";
  std::vector<std::string> groups;
  int bits = 16;
  std::vector<std::string> machines;
  std::string out_dir;
  std::string html;
  std::vector<std::string> skip;
  int64_t psum_samples = 32;
  int64_t synapse_rows = 512;
};

std::vector<double> parse_list(const std::string& flag, const std::string& text) {
  std::vector<double> out;
  if (text.empty() || text == "none") return out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string tok = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      size_t used = 0;
      out.push_back(std::stod(tok, &used));
      if (used != tok.size()) throw std::invalid_argument(tok);
    } catch (const std::exception&) {
      fail<UsageError>("{} '{}': expected comma-separated numbers (or 'none')", flag, text);
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

profile::GroupShape parse_group(const std::string& text) {
  const auto x = text.find('x');
  try {
    if (x == std::string::npos) throw std::invalid_argument(text);
    size_t u1 = 0, u2 = 0;
    const std::string a = text.substr(0, x), b = text.substr(x + 1);
    const int c = std::stoi(a, &u1), w = std::stoi(b, &u2);
    if (u1 != a.size() || u2 != b.size()) throw std::invalid_argument(text);
    return {c, w};
  } catch (const std::exception&) {
    fail<UsageError>("--group '{}': expected CHANNELSxWINDOWS, e.g. 16x1", text);
  }
}

void cmd_profile(const Common& o, const Inputs& in, const ProfileFlags& f) {
  profile::ProfileOptions po;
  po.near_zero = parse_list("--near-zero", f.near_zero);
  po.relative_near_zero = parse_list("--relative-near-zero", f.relative_near_zero);
  if (!f.groups.empty()) {
    po.groups.clear();
    for (const std::string& g : f.groups) po.groups.push_back(parse_group(g));
  }
  po.memory_bits = f.bits;
  po.machines = profile::default_machines();
  for (const std::string& spec : f.machines) {
    profile::Machine m = profile::parse_machine(spec);
    auto it = std::find_if(po.machines.begin(), po.machines.end(), [&](const auto& x) { return x.name == m.name; });
    if (it != po.machines.end()) {
      *it = m;
    } else {
      po.machines.push_back(m);
    }
  }
  for (const std::string& s : f.skip) {
    if (s != "correlations") fail<UsageError>("--skip '{}': the only thing that can be skipped is 'correlations'", s);
    po.correlations = false;
  }
  po.psum_samples_per_image = f.psum_samples;
  po.synapse_max_rows = f.synapse_rows;
  api::ProfileOptions a;
  a.images = f.images;
  a.images_given = f.images_given;
  a.first = f.first;
  a.batch = f.batch;
  a.options = po;
  a.check(o);
  Loaded l = load(o);
  if (!l.model.meta.deft.is_null() && !o.json)
    fmt::print(stderr, "note: {} layer(s) run as DeftNN layers (the model's optimize plan) and are not profiled\n",
               l.model.meta.deft.value("layers", nlohmann::json::array()).size());
  auto data = open_inputs(l.model, in);
  const json doc = api::profile(l, o, {*data, inputs_source(in)}, a);
  if (!o.json) {
    for (const json& e : doc["run"]["non_finite"]["layers"]) {
      fmt::print(stderr, "warning: layer '{}' outputs hold {}\n", e["layer"].get<std::string>(),
                 to_string(NonFinite{e["nan"].get<int64_t>(), e["inf"].get<int64_t>()}));
    }
    const json& in_counts = doc["run"]["non_finite"]["inputs"];
    const NonFinite input_counts{in_counts["nan"].get<int64_t>(), in_counts["inf"].get<int64_t>()};
    if (input_counts.any()) fmt::print(stderr, "warning: the inputs hold {}\n", to_string(input_counts));
  }
  const int64_t count = doc["run"]["count"].get<int64_t>();

  auto write_html = [&](const std::string& path) {
    html::HtmlReport report(
        fmt::format("effectual profile: {}", l.model.meta.name.empty() ? o.model : l.model.meta.name),
        fmt::format("{} images of {}", count, data->name()));
    report.set_footer(fmt::format("effectual 0.1.0, {}", o.model));
    profile::add_profile_sections(doc, report);
    report.write(path);
  };
  std::vector<std::string> written;
  if (!f.out_dir.empty()) {
    make_dirs(f.out_dir);
    write_file_atomic(f.out_dir + "/profile.json", doc.dump(2) + "\n");
    written.push_back(f.out_dir + "/profile.json");
    for (const auto& [name, text] : profile::profile_csv_tables(doc)) {
      write_file_atomic(f.out_dir + "/" + name, text);
      written.push_back(f.out_dir + "/" + name);
    }
    write_file_atomic(f.out_dir + "/precision_profile.json", profile::lossless_precision_profile(doc).dump(2) + "\n");
    written.push_back(f.out_dir + "/precision_profile.json");
    write_html(f.out_dir + "/report.html");
    written.push_back(f.out_dir + "/report.html");
  }
  if (!f.html.empty()) {
    write_html(f.html);
    written.push_back(f.html);
  }
  if (o.json) return print_json(doc);
  fmt::print("{}", profile::profile_summary(doc));
  for (const std::string& w : written) fmt::print("wrote {}\n", w);
}

}  // namespace

void register_profile_command(CLI::App& app) {
  static Common common;
  static Inputs inputs;
  static ProfileFlags flags;
  auto* c = app.add_subcommand("profile", "value profiles of every conv/FC layer (zeros, precision, bits, roofline)");
  add_model_flags(c, common, true);
  add_input_flags(c, inputs);
  auto* images = c->add_option("--images", flags.images, "number of images to profile")->check(positive_count());
  c->add_option("--first", flags.first, "index of the first image")->check(non_negative_count());
  c->add_option("--batch", flags.batch, "images per inference (results do not depend on it)")->check(positive_count());
  c->add_option("--near-zero", flags.near_zero, "absolute near-zero thresholds, comma-separated (|a| < t)");
  c->add_option("--relative-near-zero", flags.relative_near_zero,
                "near-zero thresholds as fractions of each layer's max |a|, comma-separated, or 'none'")
      ->capture_default_str();
  c->add_option("--group", flags.groups, "dynamic-precision group CHANNELSxWINDOWS (repeatable; default 16x1 16x16)");
  c->add_option("--bits", flags.bits, "bits per value for the memory and intensity figures")->check(CLI::Range(1, 64));
  c->add_option("--machine", flags.machines,
                "roofline machine NAME=OPS_PER_S,BYTES_PER_S (repeatable; replaces a "
                "default of the same name: cpu, dadiannao)");
  c->add_option("--out", flags.out_dir, "write profile.json, one CSV per table, precision_profile.json, report.html");
  c->add_option("--html", flags.html, "write the HTML report to this file");
  c->add_option("--skip", flags.skip, "skip expensive parts: correlations");
  c->add_option("--psum-samples", flags.psum_samples, "outputs sampled per image and layer for partial-sum correlation")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  c->add_option("--synapse-rows", flags.synapse_rows, "max weight-matrix rows examined for synapse correlation")
      ->check(CLI::Range(int64_t{2}, int64_t{8192}));
  c->callback([images] {
    flags.images_given = images->count() > 0;
    cmd_profile(common, inputs, flags);
  });
}

}  // namespace eff::cli
