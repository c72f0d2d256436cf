#include "sweep/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "sweep/capture_cache.h"

namespace eff::sweep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct LockInfo {
  std::string tag;  // process_tag() of the holder
  int shard = 0, shards = 1;
};

std::optional<LockInfo> read_lock(const fs::path& p) {
  try {
    const json j = json::parse(read_file(p.string(), 4096));
    return LockInfo{j.at("process").get<std::string>(), j.at("shard").get<int>(), j.at("shards").get<int>()};
  } catch (const std::exception&) {
    return std::nullopt;  // half-written by a process that died at that instant, or not ours
  }
}

// A file of a point's temporary folder, without fsync: until the folder is renamed into place
// nobody reads it, so a killed process never leaves a half-written point under its final name.
// Only a machine crash could (a renamed folder whose files the disk never got); resume and merge
// then find point.json unreadable and treat the point as not computed. An fsync per file cost
// 8 ms each on this machine's loaded disk, more than a small point's whole work.
void write_unsynced(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) fail<DataError>("{}: cannot write", path);
}

std::string lock_name(int shard, int shards) {
  return fmt::format("shard-{}-of-{}.lock", shard, shards);
}

}  // namespace

namespace {

// Another live writer of `dir` that this shard must not run beside: the same shard, or a shard of a
// different split (their points overlap). Locks of dead processes on this host are removed.
std::optional<std::pair<LockInfo, fs::path>> conflicting_lock(const fs::path& locks, int shard, int shards,
                                                              const std::string& own) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(locks, ec)) {
    if (e.path().extension() != ".lock" || e.path() == own) continue;
    const std::optional<LockInfo> other = read_lock(e.path());
    if (!other || !tag_alive(other->tag)) {
      fs::remove(e.path(), ec);  // stale: its process is gone
      continue;
    }
    if (other->shards != shards || other->shard == shard) return std::make_pair(*other, e.path());
  }
  return std::nullopt;
}

[[noreturn]] void refuse(const std::string& dir, const LockInfo& other, const fs::path& path) {
  fail<UsageError>(
      "{}: another sweep (process {}, shard {}/{}) is writing this folder; wait for it to end, or remove {} if "
      "that process is gone",
      dir, other.tag, other.shard, other.shards, path.string());
}

}  // namespace

SweepLock::SweepLock(const std::string& dir, int shard, int shards) {
  const fs::path locks = fs::path(dir) / "locks";
  make_dirs(locks.string());
  if (auto c = conflicting_lock(locks, shard, shards, "")) refuse(dir, c->first, c->second);
  path_ = (locks / lock_name(shard, shards)).string();
  const json mine = {{"process", process_tag()}, {"shard", shard}, {"shards", shards}};
  // Written whole under a temporary name, then hard-linked to the lock's name: link() fails if the
  // name exists (an atomic test-and-create), and nobody ever reads a half-written lock.
  const std::string tmp = (locks / (".tmp-" + process_tag())).string();
  write_file_atomic(tmp, mine.dump() + "\n");
  const int linked = ::link(tmp.c_str(), path_.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    const std::string p = path_;
    path_.clear();
    if (err == EEXIST)
      fail<UsageError>("{}: another sweep took shard {}/{} of this folder just now", dir, shard, shards);
    fail<DataError>("{}: cannot create: {}", p, std::strerror(err));
  }
  // Two sweeps of different splits starting at the same instant each passed the first look; the
  // second look sees the other's lock (both may then refuse, never both run).
  if (auto c = conflicting_lock(locks, shard, shards, path_)) {
    ::unlink(path_.c_str());
    path_.clear();
    refuse(dir, c->first, c->second);
  }
}

SweepLock::~SweepLock() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

SweepStore::SweepStore(std::string dir) : dir_(std::move(dir)) {
  make_dirs((fs::path(dir_) / "points").string());
}

std::string SweepStore::point_dir(const std::string& id) const {
  return (fs::path(dir_) / "points" / id).string();
}

std::optional<json> SweepStore::finished(const Point& p, const Spec& spec) const {
  const std::string file = point_dir(p.id) + "/point.json";
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  try {
    json j = json::parse(read_file(file, 64 << 20));
    if (j.value("status", "") != "ok") return std::nullopt;
    for (const std::string& c : spec.compute) {
      if (!j.contains("results") || !j["results"].contains(c)) return std::nullopt;
    }
    return j;
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable: compute it again
  }
}

void SweepStore::write_point(const std::string& id, const std::map<std::string, std::string>& files,
                             const json& point) const {
  const std::string final_dir = point_dir(id);
  const std::string tmp = (fs::path(dir_) / "points" / (".tmp-" + id + "-" + process_tag())).string();
  std::error_code ec;
  fs::remove_all(tmp, ec);
  make_dirs(tmp);
  for (const auto& [name, bytes] : files) write_unsynced(tmp + "/" + name, bytes);
  write_unsynced(tmp + "/point.json", point.dump(2) + "\n");
  // An older result of the point (a run without --resume) is moved aside first: rename() cannot
  // replace a non-empty folder.
  if (fs::exists(final_dir, ec)) {
    const std::string old = (fs::path(dir_) / "points" / (".old-" + id + "-" + process_tag())).string();
    fs::remove_all(old, ec);
    if (::rename(final_dir.c_str(), old.c_str()) != 0) {
      fail<DataError>("{}: cannot move the previous result aside: {}", final_dir, std::strerror(errno));
    }
    fs::remove_all(old, ec);
  }
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    fail<DataError>("{}: cannot rename into place: {}", final_dir, std::strerror(errno));
  }
}

void SweepStore::remove_stale_temporaries() const {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(dir_) / "points", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(".tmp-", 0) != 0 && name.rfind(".old-", 0) != 0) continue;
    // .tmp-<16 hex id>-<host>-<pid>
    const std::string tag = name.size() > 22 ? name.substr(22) : "";
    if (!tag_alive(tag)) fs::remove_all(e.path(), ec);
  }
}

void SweepStore::write_spec(const Spec& spec) const {
  write_file_atomic((fs::path(dir_) / "spec.yaml").string(), spec.text);
}

}  // namespace eff::sweep
