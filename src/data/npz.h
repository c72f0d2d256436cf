// NumPy .npz archives as numpy.savez writes them: a zip file of stored (uncompressed) .npy
// members, one per array, named "<array>.npy". The zip's central directory (with zip64 fields)
// is parsed strictly; each member's CRC-32 is checked and its bytes parsed as an .npy file, so a
// corrupt or truncated archive gets one line naming the file and the array. Compressed members
// (numpy.savez_compressed) are refused with a hint, not inflated.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace eff {

// Arrays in archive order, named without the ".npy" suffix. Throws DataError naming `path`.
std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path);
// The same for bytes already in memory; `name` prefixes error messages.
std::vector<std::pair<std::string, Tensor>> parse_npz(std::string_view bytes, const std::string& name);

}  // namespace eff
