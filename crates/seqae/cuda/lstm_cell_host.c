/* The CUDA kernels' per-thread code (lstm_cell.h) run on the CPU, one loop over the threads,
 * for the tests of the `cuda` build: a machine without a GPU still checks the kernels' math. */
#include "lstm_cell.h"

void seqae_lstm_cell_fwd_host(const float *xp, const float *hh, const float *state,
                              const float *mask, float *out, unsigned n, unsigned h) {
  for (unsigned idx = 0; idx < n; idx++) lstm_cell_fwd_at(idx, xp, hh, state, mask, out, h);
}

void seqae_lstm_cell_bwd_host(const float *xp, const float *hh, const float *state,
                              const float *mask, const float *grad, float *out, unsigned n,
                              unsigned h) {
  for (unsigned idx = 0; idx < n; idx++)
    lstm_cell_bwd_at(idx, xp, hh, state, mask, grad, out, h);
}
