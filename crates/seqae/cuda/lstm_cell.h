/* The LSTM gate cell of one (row, unit) pair: what the CUDA kernels of lstm_cell.cu run per
 * thread, and what lstm_cell_host.c runs in a loop so that the tests check this very code on
 * the CPU. Plain C that is also C++ (nvcc), no CUDA types.
 *
 * Layouts, all row-major and contiguous: the gates' two parts xp and hh are [rows, 4H] in
 * PyTorch's gate order i, f, g, o (the input projection with its bias, and h_prev @ W_hh^T);
 * a state is [rows, 2H], h then c; mask is [rows], 1 where the row is still running and 0
 * where it is padding, whose state is held. */
#ifndef SEQAE_LSTM_CELL_H
#define SEQAE_LSTM_CELL_H

#ifdef __CUDACC__
#define LSTM_CELL_FN __device__ __forceinline__
#else
#include <math.h>
#include <stddef.h>
#define LSTM_CELL_FN static inline
#endif

LSTM_CELL_FN float lstm_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* The activations of unit j's four gates (i, f, g, o) from the rows' xp and hh at j. */
LSTM_CELL_FN void lstm_gates(const float *a, const float *b, unsigned h, float g[4]) {
  g[0] = lstm_sigmoid(a[0] + b[0]);
  g[1] = lstm_sigmoid(a[h] + b[h]);
  g[2] = tanhf(a[2 * h] + b[2 * h]);
  g[3] = lstm_sigmoid(a[3 * h] + b[3 * h]);
}

/* out [rows, 2H]: the state after this step. */
LSTM_CELL_FN void lstm_cell_fwd_at(unsigned idx, const float *xp, const float *hh,
                                   const float *state, const float *mask, float *out,
                                   unsigned h) {
  unsigned r = idx / h, j = idx % h;
  const float *a = xp + (size_t)r * 4 * h + j, *b = hh + (size_t)r * 4 * h + j;
  const float *s = state + (size_t)r * 2 * h;
  float *o = out + (size_t)r * 2 * h;
  if (mask[r] == 0.0f) {
    o[j] = s[j];
    o[h + j] = s[h + j];
    return;
  }
  float act[4];
  lstm_gates(a, b, h, act);
  float gi = act[0], gf = act[1], gg = act[2], go = act[3];
  float c = gf * s[h + j] + gi * gg;
  o[j] = go * tanhf(c);
  o[h + j] = c;
}

/* The backward of lstm_cell_fwd_at from its inputs (the activations are computed again, which
 * costs less than keeping them) and grad [rows, 2H], the gradient of its output. out is
 * [rows, 6H]: the gradient of the gates [4H] (the same for xp and hh), then of the state
 * before the step [2H]. The h part of the latter is only the held rows' gradient: the running
 * rows' reaches h_prev through hh, outside the cell. */
LSTM_CELL_FN void lstm_cell_bwd_at(unsigned idx, const float *xp, const float *hh,
                                   const float *state, const float *mask, const float *grad,
                                   float *out, unsigned h) {
  unsigned r = idx / h, j = idx % h;
  const float *a = xp + (size_t)r * 4 * h + j, *b = hh + (size_t)r * 4 * h + j;
  const float *s = state + (size_t)r * 2 * h;
  const float *g = grad + (size_t)r * 2 * h;
  float *dgates = out + (size_t)r * 6 * h + j;
  float *dstate = out + (size_t)r * 6 * h + 4 * h;
  if (mask[r] == 0.0f) {
    dgates[0] = dgates[h] = dgates[2 * h] = dgates[3 * h] = 0.0f;
    dstate[j] = g[j];
    dstate[h + j] = g[h + j];
    return;
  }
  float act[4];
  lstm_gates(a, b, h, act);
  float gi = act[0], gf = act[1], gg = act[2], go = act[3];
  float c_prev = s[h + j];
  float tc = tanhf(gf * c_prev + gi * gg);
  float dh = g[j];
  float dc = g[h + j] + dh * go * (1.0f - tc * tc);
  dgates[0] = dc * gg * gi * (1.0f - gi);
  dgates[h] = dc * c_prev * gf * (1.0f - gf);
  dgates[2 * h] = dc * gi * (1.0f - gg * gg);
  dgates[3 * h] = dh * tc * go * (1.0f - go);
  dstate[j] = 0.0f;
  dstate[h + j] = dc * gf;
}

#endif
