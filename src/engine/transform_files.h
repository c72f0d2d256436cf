// Reading the value-hook files users pass with --precision-profile and --thresholds.
// Formats are documented in docs/value-hooks.md. Every error names the file and the JSON path.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/value_transform.h"

namespace eff {

// Merges the profile (precision per layer) and thresholds files into per-layer transforms.
// Either path may be empty. Layer names must match `layers` (list index "#3" also accepted).
std::map<std::string, LayerTransform> load_layer_transforms(const std::string& precision_profile_path,
                                                            const std::string& thresholds_path,
                                                            const std::vector<LayerInfo>& layers);

// The same from JSON text (for tests); `file` is used in messages.
void parse_precision_profile(const std::string& text, const std::string& file, const std::vector<LayerInfo>& layers,
                             std::map<std::string, LayerTransform>& out);
void parse_thresholds(const std::string& text, const std::string& file, const std::vector<LayerInfo>& layers,
                      std::map<std::string, LayerTransform>& out);

}  // namespace eff
