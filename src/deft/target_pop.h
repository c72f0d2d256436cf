// Ends the per-function target region a kernel file opened (the `#pragma clang attribute push` or
// `#pragma GCC push_options` + `target` at its top) so that what follows, e.g. its portable
// fallbacks, builds for the baseline instruction set. Included once per region: no include guard.
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
