// The LSTM gate cell on CUDA: one thread per (row, unit), the math in lstm_cell.h. The
// products around it (the input projection, h_prev @ W_hh^T) are cuBLAS calls through candle.
#include "lstm_cell.h"

extern "C" __global__ void lstm_cell_fwd(const float *xp, const float *hh, const float *state,
                                         const float *mask, float *out, unsigned n, unsigned h) {
  unsigned idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx < n) lstm_cell_fwd_at(idx, xp, hh, state, mask, out, h);
}

extern "C" __global__ void lstm_cell_bwd(const float *xp, const float *hh, const float *state,
                                         const float *mask, const float *grad, float *out,
                                         unsigned n, unsigned h) {
  unsigned idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx < n) lstm_cell_bwd_at(idx, xp, hh, state, mask, grad, out, h);
}
