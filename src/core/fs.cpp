#include "core/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace eff {

namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Closes the descriptor unless release() was called; keeps error paths short.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

void write_all(int fd, std::string_view bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail<DataError>("{}: cannot write: {}", path, errno_text(errno));
    }
    done += static_cast<size_t>(n);
  }
}

void sync_directory_of(const std::string& path) {
  // Makes the rename itself durable; a failure here does not undo the write, so it is ignored.
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  if (path.empty()) fail<DataError>("cannot write a file with an empty name");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (fd.get() < 0) fail<DataError>("{}: cannot create {}: {}", path, tmp, errno_text(errno));
  try {
    write_all(fd.get(), bytes, path);
    if (::fsync(fd.get()) != 0) fail<DataError>("{}: cannot sync: {}", path, errno_text(errno));
    if (::close(fd.release()) != 0) fail<DataError>("{}: cannot close: {}", path, errno_text(errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      fail<DataError>("{}: cannot rename {} into place: {}", path, tmp, errno_text(errno));
    }
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  sync_directory_of(path);
}

std::string read_file(const std::string& path, size_t max_bytes) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) fail<DataError>("{}: no such file", path);
    fail<DataError>("{}: cannot open: {}", path, errno_text(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail<DataError>("{}: cannot stat: {}", path, errno_text(errno));
  if (S_ISDIR(st.st_mode)) fail<DataError>("{}: is a directory, not a file", path);
  if (S_ISREG(st.st_mode) && static_cast<uintmax_t>(st.st_size) > max_bytes) {
    fail<DataError>("{}: is {} bytes, more than the {} byte limit", path, st.st_size, max_bytes);
  }
  std::string out;
  if (S_ISREG(st.st_mode)) out.reserve(static_cast<size_t>(st.st_size));
  // Read in chunks rather than trusting st_size: pipes and /proc files report 0, and a file
  // may grow while it is read.
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail<DataError>("{}: cannot read: {}", path, errno_text(errno));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      fail<DataError>("{}: is more than the {} byte limit", path, max_bytes);
    }
    out.append(chunk, static_cast<size_t>(n));
  }
  return out;
}

void make_dirs(const std::string& dir) {
  if (dir.empty()) fail<DataError>("cannot create a directory with an empty name");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail<DataError>("{}: cannot create directory: {}", dir, ec.message());
  if (!std::filesystem::is_directory(dir, ec)) fail<DataError>("{}: exists and is not a directory", dir);
}

std::string safe_file_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (out.empty() || out == "." || out == "..") out = std::string(std::max<size_t>(out.size(), 1), '_');
  return out;
}

}  // namespace eff
