// The AVX-512 instance of the kernel family's template (deft/gemm_body.h with the backend of
// deft/gemm_vec_avx512.h): compiled for AVX-512 F/BW/VL/BF16 whatever the build's -march, called only
// when the CPU has them (best_isa()). The bf16 dot-product instruction is the "fission unit" of
// kBf16Dot; the other formats unpack with a shift, a mask or (fp8) two shifts, the bias add of
// Figure 8 and a zeroing mask.
#include <cstdint>
#include <cstring>

#include "deft/gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define EFF_DEFT_TARGET_ISA "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma"
#include "deft/target_push.h"
// The kernel template and its backend, inside the target region so their functions build for it.
#include "deft/gemm_body.h"
#include "deft/gemm_vec_avx512.h"

namespace eff::deft {

using body::Avx512;

void gemm_block_avx512(const GemmTask& t, int64_t panel, int64_t j0, int64_t j1) {
  body::run_block(t, Avx512{}, panel, j0, j1);
}

void gemm_rows_avx512(const GemmTask& t, int64_t p0, int64_t p1, int64_t j0, int64_t j1) {
  body::run_rows(t, Avx512{}, p0, p1, j0, j1);
}

}  // namespace eff::deft

#include "deft/target_pop.h"
#else
namespace eff::deft {
void gemm_block_avx512(const GemmTask& t, int64_t panel, int64_t j0, int64_t j1) {
  gemm_block_portable(t, panel, j0, j1);
}
void gemm_rows_avx512(const GemmTask& t, int64_t p0, int64_t p1, int64_t j0, int64_t j1) {
  gemm_rows_portable(t, p0, p1, j0, j1);
}
}  // namespace eff::deft
#endif
