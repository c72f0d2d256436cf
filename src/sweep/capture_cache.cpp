#include "sweep/capture_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "data/dataset.h"
#include "engine/evaluate.h"
#include "engine/geometry.h"
#include "engine/model.h"
#include "engine/quantized_layers.h"
#include "engine/transform_files.h"
#include "profile/profiler.h"
#include "report/trace_writer.h"
#include "search/eval_set.h"
#include "search/precision_search.h"
#include "search/search_report.h"
#include "search/target.h"

namespace eff::sweep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Bumped when what an entry holds changes, so old caches are not misread.
constexpr const char* kCacheFormat = "effectual-sweep-capture-1";
constexpr size_t kMaxHashedFile = size_t{16} << 30;

struct LoadedModel {
  Model model;
  std::map<std::string, LayerTransform> transforms;
  std::unique_ptr<Executor> exec;
  std::unique_ptr<Dataset> data;
};

LoadedModel load_for(const CaptureRequest& r, LayerObserver* observer) {
  LoadedModel l;
  ModelLoadOptions mo;
  mo.fuse_qdq = r.precision.empty() && r.thresholds.empty();  // hooks act on QDQ layers' floats
  l.model = load_model(r.model, mo);
  l.transforms = load_layer_transforms(r.precision, r.thresholds, find_layers(l.model.graph));
  ExecutorOptions eo;
  eo.threads = r.threads;
  eo.transforms = l.transforms;
  eo.observer = observer;
  eo.specialize = l.model.specializer();
  l.exec = std::make_unique<Executor>(l.model.graph, eo);
  const Preprocess p =
      l.model.meta.preprocessing.is_null() ? Preprocess{} : preprocess_from_json(l.model.meta.preprocessing);
  l.data = open_dataset(r.data.set, p);
  const int64_t end = r.data.first + r.data.images;
  if (end > l.data->size()) {
    fail<UsageError>("data set {}: images [{}, {}) asked for, it holds {}", r.data.set, r.data.first, end,
                     l.data->size());
  }
  return l;
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

// Builds `entry` through a temporary sibling folder: `fill` writes into it, then it is renamed into
// place (a folder appears complete or not at all).
template <class Fill>
void build_entry(const std::string& entry, Fill&& fill) {
  const std::string tmp = entry + ".tmp-" + process_tag();
  remove_quietly(tmp);
  try {
    make_dirs(tmp);
    fill(tmp);
    if (::rename(tmp.c_str(), entry.c_str()) != 0) {
      fail<DataError>("{}: cannot rename into place: {}", entry, std::strerror(errno));
    }
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
}

}  // namespace

std::string process_tag() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "host");
  return safe_file_name(host) + "-" + std::to_string(::getpid());
}

bool tag_alive(const std::string& tag) {
  const size_t dash = tag.rfind('-');
  if (dash == std::string::npos) return false;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return true;
  if (tag.substr(0, dash) != safe_file_name(host)) return true;  // another machine: assume alive
  const long pid = std::strtol(tag.c_str() + dash + 1, nullptr, 10);
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

FileLock::FileLock(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail<DataError>("{}: cannot open the lock file: {}", path, std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      ::close(fd_);
      fail<DataError>("{}: cannot lock: {}", path, std::strerror(errno));
    }
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

CaptureCache::CaptureCache(std::string root) : root_(std::move(root)) {
  make_dirs((fs::path(root_) / "captures").string());
  make_dirs((fs::path(root_) / "profiles").string());
  make_dirs((fs::path(root_) / "searches").string());
}

std::string CaptureCache::file_hash(const std::string& path) {
  if (path.empty()) return "";
  {
    std::lock_guard lock(mu_);
    auto it = file_hashes_.find(path);
    if (it != file_hashes_.end()) return it->second;
  }
  const std::string h = hash_hex(read_file(path, kMaxHashedFile));
  std::lock_guard lock(mu_);
  file_hashes_[path] = h;
  return h;
}

std::string CaptureCache::key(const CaptureRequest& r) {
  const json k = {{"format", kCacheFormat},
                  {"model", file_hash(r.model)},
                  {"data", {r.data.set, r.data.first, r.data.images}},
                  {"precision", file_hash(r.precision)},
                  {"thresholds", file_hash(r.thresholds)}};
  return hash_hex(k.dump());
}

Capture CaptureCache::get(const CaptureRequest& r) {
  const std::string entry = (fs::path(root_) / "captures" / key(r)).string();
  const std::string done = entry + "/eval.json";
  Capture c;
  c.dir = entry;
  if (!fs::exists(done)) {
    FileLock lock(entry + ".lock");
    if (!fs::exists(done)) {  // nobody built it while we waited
      build_entry(entry, [&](const std::string& tmp) {
        LoadedModel l = load_for(r, nullptr);
        TraceRecorder rec(&l.exec->graph());
        const DataRange& d = r.data;
        std::vector<Shape> shapes;
        for (const Tensor& t : l.data->inputs(d.first, 1)) shapes.push_back(t.shape());
        const std::vector<LayerGeometry> geo = model_geometry(*l.exec, shapes);
        l.exec->set_observer(&rec);
        const int64_t batch = has_dynamic_layers(l.exec->layers()) ? 1 : 16;
        const int64_t end = d.first + d.images;
        int64_t correct = 0;
        const bool labelled = l.data->has_labels();
        for (int64_t b = d.first; b < end; b += batch) {
          const int64_t n = std::min(batch, end - b);
          const std::vector<Tensor> out = l.exec->run(l.data->inputs(b, n));
          if (!labelled) continue;
          const Tensor y = l.data->labels(b, n);
          for (int64_t i = 0; i < n; ++i)
            correct += row_is_finite(out.at(0), i) && top_k(out.at(0), i, 1).at(0) == y.get_i64(i) ? 1 : 0;
        }
        l.exec->set_observer(nullptr);
        TraceWriteOptions wo;
        wo.dir = tmp;
        wo.manifest_extra = {{"model", {{"path", r.model}, {"name", l.model.meta.name}}},
                             {"inputs", {{"source", d.set}, {"first", d.first}, {"count", d.images}}},
                             {"precision_profile", r.precision},
                             {"thresholds", r.thresholds}};
        write_trace(wo, geo, find_layers(l.model.graph), l.transforms, rec);
        const json eval = {{"images", d.images},
                           {"labelled", labelled},
                           {"top1_correct", correct},
                           {"top1", labelled ? double(correct) / double(d.images) : 0.0}};
        write_file_atomic(tmp + "/eval.json", eval.dump(2) + "\n");  // written last: the entry's mark
      });
      c.built = true;
    }
  }
  c.eval = json::parse(read_file(done, 1 << 20));
  return c;
}

json CaptureCache::profile(const CaptureRequest& r) {
  const std::string entry = (fs::path(root_) / "profiles" / key(r)).string();
  const std::string done = entry + "/summary.json";
  if (!fs::exists(done)) {
    FileLock lock(entry + ".lock");
    if (!fs::exists(done)) {
      build_entry(entry, [&](const std::string& tmp) {
        LoadedModel l = load_for(r, nullptr);
        profile::ProfileOptions po;
        po.transforms = l.transforms;
        po.threads = r.threads;
        po.correlations = false;
        profile::Profiler profiler(l.exec->graph(), po);
        const int64_t batch = has_dynamic_layers(l.exec->layers()) ? 1 : 16;
        profile::run_profile(*l.exec, *l.data, profiler, r.data.first, r.data.images, batch, false);
        // MAC-weighted over every conv/FC layer: what the value-based designs exploit.
        int64_t macs = 0, zero_macs = 0, popcount_macs = 0, nonzero_macs = 0;
        for (const profile::LayerProfile* p : profiler.layers()) {
          macs += p->act.count_mac;
          zero_macs += p->act.zeros_mac;
          popcount_macs += p->act.popcount16_mac;
          nonzero_macs += p->act.nonzero16_mac;
        }
        const json s = {{"layers", profiler.layers().size()},
                        {"act_zero_fraction", macs ? double(zero_macs) / double(macs) : 0.0},
                        {"act_nonzero16_fraction", macs ? double(nonzero_macs) / double(macs) : 0.0},
                        {"act_essential_bits", macs ? double(popcount_macs) / double(macs) : 0.0}};
        write_file_atomic(tmp + "/summary.json", s.dump(2) + "\n");
      });
    }
  }
  return json::parse(read_file(done, 1 << 20));
}

std::string CaptureCache::searched_profile(const std::string& model, const std::string& set, const json& options,
                                           int threads) {
  const json k = {{"format", kCacheFormat}, {"search", options}, {"model", file_hash(model)}, {"data", set}};
  const std::string entry = (fs::path(root_) / "searches" / hash_hex(k.dump())).string();
  const std::string done = entry + "/precision_profile.json";
  if (fs::exists(done)) return done;
  FileLock lock(entry + ".lock");
  if (fs::exists(done)) return done;
  build_entry(entry, [&](const std::string& tmp) {
    const Model m = load_model(model);
    const Preprocess p = m.meta.preprocessing.is_null() ? Preprocess{} : preprocess_from_json(m.meta.preprocessing);
    const std::unique_ptr<Dataset> data = open_dataset(set, p);
    ExecutorOptions eo;
    eo.threads = threads;
    eo.specialize = m.specializer();
    Executor exec(m.graph, eo);
    const int64_t classes = !m.meta.classes.empty() ? static_cast<int64_t>(m.meta.classes.size())
                                                    : exec.run({data->images(0, 1)}).at(0).numel();
    const search::SplitIndices split =
        search::split_indices(data->size(), options["search_images"].get<int64_t>(),
                              options["report_images"].get<int64_t>(), options["seed"].get<uint64_t>());
    const search::EvalSet search_set = search::load_eval_set(*data, split.search, classes);
    const search::EvalSet report_set = search::load_eval_set(*data, split.report, classes);
    search::SearchOptions o;
    o.target.keep = search::parse_percentage(options["keep"].get<std::string>(), "search.keep");
    o.threads = threads;
    o.progress = false;
    const std::vector<LayerGeometry> geometry = model_geometry(exec, m.input_shape());
    const search::SearchResult r = search::search_precision(m.graph, geometry, search_set, report_set, o);
    write_file_atomic(tmp + "/precision_profile.json", search::precision_profile_json(r).dump(2) + "\n");
  });
  return done;
}

}  // namespace eff::sweep
