//! Drawings and configurations the unit tests of several files share.

use drawing::Stroke3;

use crate::config::{ModelConfig, Pool};

/// The plainest model: strokes as drawn, the last state, no positions, no picture.
pub(crate) fn plain_model() -> ModelConfig {
    ModelConfig {
        encoder_pool: Pool::Last,
        encoder_positions: false,
        encoder_raster: 0,
        decoder_positions: false,
        canonical_order: false,
        canonical_loop_start: false,
        ..ModelConfig::default()
    }
}

/// `n` moves of (2, -2), the pen lifting after every third.
pub(crate) fn steps(n: usize) -> Stroke3 {
    Stroke3 {
        dx: vec![2.0; n],
        dy: vec![-2.0; n],
        pen: (0..n).map(|i| u8::from(i % 3 == 2)).collect(),
    }
}
