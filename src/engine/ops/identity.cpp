// Identity (and the Dropout passes leave behind in inference): the output is a view of the input.
#include "engine/kernel.h"

namespace eff {

namespace {
class IdentityKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override { ctx.set_output(0, ctx.input(0)); }
};
}  // namespace

std::unique_ptr<Kernel> make_identity(const Node&, const Graph&) {
  return std::make_unique<IdentityKernel>();
}

}  // namespace eff
