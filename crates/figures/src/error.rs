use std::path::PathBuf;

/// Why a figure or the report could not be made. Every variant names the figure and, for bad
/// input, the drawing or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// Nothing to draw at all (no pairs, no clusters, no points…).
    #[error("{figure}: nothing to draw: {what}")]
    Empty { figure: &'static str, what: String },

    /// A drawing the caller asked to show has no points.
    #[error("{figure}: drawing {label:?} has no points")]
    EmptyDrawing { figure: &'static str, label: String },

    /// A drawing whose columns disagree in length (a hand-built `Stroke3`).
    #[error(
        "{figure}: drawing {label:?} has {dx} dx, {dy} dy and {pen} pen values; they must be equal"
    )]
    Ragged {
        figure: &'static str,
        label: String,
        dx: usize,
        dy: usize,
        pen: usize,
    },

    /// A drawing holding NaN or an infinity.
    #[error("{figure}: drawing {label:?} has a non-finite offset at point {point}")]
    NonFiniteDrawing {
        figure: &'static str,
        label: String,
        point: usize,
    },

    /// A number (a coordinate, a loss) that is NaN or infinite where it cannot be skipped.
    #[error("{figure}: {what} is not finite ({value})")]
    NonFinite {
        figure: &'static str,
        what: String,
        value: f64,
    },

    /// Input that is well-formed but unusable (an index out of range, a zero size…).
    #[error("{figure}: {message}")]
    Invalid {
        figure: &'static str,
        message: String,
    },

    /// plotters failed while drawing.
    #[error("{figure}: drawing failed: {message}")]
    Render {
        figure: &'static str,
        message: String,
    },

    /// The PNG encoder failed.
    #[error("{figure}: PNG encoding failed: {message}")]
    Encode {
        figure: &'static str,
        message: String,
    },

    /// Writing an output file failed.
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The bundled font could not be loaded (a corrupt build).
    #[error("the bundled font could not be loaded")]
    Font,
}

impl FigureError {
    pub(crate) fn invalid(figure: &'static str, message: impl Into<String>) -> Self {
        FigureError::Invalid {
            figure,
            message: message.into(),
        }
    }
    pub(crate) fn empty(figure: &'static str, what: impl Into<String>) -> Self {
        FigureError::Empty {
            figure,
            what: what.into(),
        }
    }
}

/// Turns plotters' backend-typed errors into [`FigureError::Render`].
pub(crate) trait RenderResult<T> {
    fn render(self, figure: &'static str) -> Result<T, FigureError>;
}

impl<T, E: std::fmt::Display> RenderResult<T> for Result<T, E> {
    fn render(self, figure: &'static str) -> Result<T, FigureError> {
        self.map_err(|e| FigureError::Render {
            figure,
            message: e.to_string(),
        })
    }
}
