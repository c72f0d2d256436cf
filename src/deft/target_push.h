// Starts a per-function target region for a kernel file: define EFF_DEFT_TARGET_ISA (a string such
// as "avx512f,avx512bw,fma") first; deft/target_pop.h ends it. Everything between builds for that
// instruction set whatever -march says, and the dispatcher calls it only where the CPU has it.
// Included once per region: no include guard.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
// GCC 12 reads the intrinsics' deliberately undefined pass-through operand (_mm512_undefined_*)
// as maybe (or, in arrays of vectors, surely) uninitialised once they are inlined into the kernel
// templates.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define EFF_DEFT_PRAGMA_TEXT(x) _Pragma(#x)
#define EFF_DEFT_PRAGMA(x) EFF_DEFT_PRAGMA_TEXT(x)
#if defined(__clang__)
EFF_DEFT_PRAGMA(clang attribute push(__attribute__((target(EFF_DEFT_TARGET_ISA))), apply_to = function))
#else
EFF_DEFT_PRAGMA(GCC push_options)
EFF_DEFT_PRAGMA(GCC target(EFF_DEFT_TARGET_ISA))
#endif
#undef EFF_DEFT_PRAGMA
#undef EFF_DEFT_PRAGMA_TEXT
#undef EFF_DEFT_TARGET_ISA
#include <immintrin.h>
