// Small file-system helpers shared by the readers and writers. Every failure is a DataError
// whose message starts with the path concerned.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"

namespace eff {

// Writes `bytes` to `<path>.tmp.<pid>` in the same directory, fsyncs it and renames it over
// `path`, so readers never see a half-written file. On failure the temporary file is removed.
void write_file_atomic(const std::string& path, std::string_view bytes);

// The whole file. Refuses (before reading) files larger than `max_bytes`.
std::string read_file(const std::string& path, size_t max_bytes);

// Creates `dir` and its missing parents; succeeds if it already exists as a directory.
void make_dirs(const std::string& dir);

// `name` with every character outside [A-Za-z0-9._-] replaced by '_'; never empty, never
// "." or "..", so the result is always one harmless path component.
std::string safe_file_name(std::string_view name);

}  // namespace eff
