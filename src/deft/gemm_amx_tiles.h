// The tile setup shared by the AMX GEMM (deft/gemm_amx.cpp) and the AMX conv (deft/conv_amx.cpp).
// Include it inside a target region with AMX-TILE, after deft/conv_amx.h was included outside it (so
// that none of that header's code is built for the region); call it only after amx_available().
// In an anonymous namespace, as deft/gemm_vec_avx512.h: each kernel file gets its own copy.
#pragma once

#include "deft/conv_amx.h"

namespace eff::deft::body {

namespace {

// Tiles 0-3: C (fp32 accumulators), 4-5: A, 6-7: B, every row 64 bytes. Tiles 0-5 get `rows` rows:
// 16, or a GEMM's whole batch when it is smaller (a tile product costs by its rows, and batch 1
// would otherwise multiply 15 rows of zeros); the B tiles always 16 (pairs or channel pairs).
void configure_tiles(int rows) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = static_cast<uint8_t>(t >= 6 ? 16 : rows);
  // GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes of the 64: without this, the
  // stores of the tiles' rows and widths can be dropped as dead (inlined into amx_gemm_begin they
  // were, and LDTILECFG faulted on the half-written config).
  __asm__ volatile("" : : "m"(cfg));
  _tile_loadconfig(&cfg);
}

// A function of its own, not inline in a team's region: clang outlines OpenMP regions into
// functions that do not inherit the pragma's target attribute, and its backend then cannot select
// the tile intrinsics there (clang 14, fuzz build).
void release_tiles() {
  _tile_release();
}

}  // namespace

}  // namespace eff::deft::body
