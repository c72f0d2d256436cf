// A graph value's declared shape against the shapes tensors bring: the executor's input check and
// the command line's file checks say the same thing in the same words.
#pragma once

#include <string>

#include "graph/ir.h"

namespace eff {

// Whether a tensor of shape `s` fits what is known of `v`: the rank and every static dimension.
bool shape_admits(const Value& v, const Shape& s);
// The known shape as users read it, "[batch, seq, 32]": dynamic dimensions by name, else "?".
std::string declared_shape_text(const Value& v);

}  // namespace eff
