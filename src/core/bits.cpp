#include "core/bits.h"

namespace eff::bits {

uint32_t booth_terms_mask(uint16_t magnitude) {
  auto bit = [&](int k) -> int { return k >= 0 && k < 16 ? (magnitude >> k) & 1 : 0; };
  uint32_t mask = 0;
  bool run = false;
  for (int k = 15; k >= 0; --k) {
    const int b0 = bit(k), b1 = bit(k - 1), b2 = bit(k - 2);
    if (!run) {
      if (b0 && b1 && b2) {
        mask |= 1u << (k + 1);
        run = true;
      } else if (b0) {
        mask |= 1u << k;
      }
    } else {
      if (!b0 && b1) {
        mask |= 1u << k;  // an isolated zero inside a run becomes a -1 digit
      } else if (b0 && !b1 && !b2) {
        mask |= 1u << k;
        run = false;
      }
    }
  }
  return mask;
}

}  // namespace eff::bits
