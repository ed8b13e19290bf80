//! A validated, row-major `f32` matrix: the one input type of the crate.

use crate::error::{ClusterError, Result};

/// `n` rows of `dim` finite `f32` values, stored row after row.
///
/// Construction checks shape and finiteness once, so every algorithm can rely on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    data: Vec<f32>,
    dim: usize,
}

impl Matrix {
    /// Wraps row-major `data` of rows of `dim` values. Zero rows are allowed here (algorithms
    /// reject them); a ragged length, `dim == 0` or a non-finite value is an error naming the
    /// row and column.
    pub fn new(data: Vec<f32>, dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(ClusterError::ZeroDim);
        }
        if !data.len().is_multiple_of(dim) {
            return Err(ClusterError::Shape {
                len: data.len(),
                dim,
            });
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(ClusterError::NonFinite {
                row: i / dim,
                col: i % dim,
                value: data[i],
            });
        }
        Ok(Matrix { data, dim })
    }

    /// Builds a matrix from equal-length rows.
    pub fn from_rows<R: AsRef<[f32]>>(rows: &[R]) -> Result<Self> {
        let Some(first) = rows.first() else {
            return Err(ClusterError::Empty);
        };
        let dim = first.as_ref().len();
        let mut data = Vec::with_capacity(rows.len() * dim);
        for (row, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != dim {
                return Err(ClusterError::RaggedRow {
                    row,
                    got: r.len(),
                    expected: dim,
                });
            }
            data.extend_from_slice(r);
        }
        Matrix::new(data, dim)
    }

    /// Internal constructor for data produced by this crate's own arithmetic.
    pub(crate) fn from_parts(data: Vec<f32>, dim: usize) -> Self {
        debug_assert!(dim > 0 && data.len().is_multiple_of(dim));
        Matrix { data, dim }
    }

    pub fn n_rows(&self) -> usize {
        self.data.len() / self.dim
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.data.chunks_exact(self.dim)
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// The rows at `idx`, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.dim);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix::from_parts(data, self.dim)
    }

    /// Copies into the `Vec<Vec<f32>>` shape the `hdbscan` crate takes.
    pub(crate) fn to_nested(&self) -> Vec<Vec<f32>> {
        self.rows().map(<[f32]>::to_vec).collect()
    }

    pub(crate) fn require_rows(&self) -> Result<()> {
        if self.is_empty() {
            Err(ClusterError::Empty)
        } else {
            Ok(())
        }
    }
}

/// Squared Euclidean distance; written as a plain zip so it auto-vectorises.
#[inline]
pub fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_shapes_and_values() {
        assert_eq!(
            Matrix::new(vec![1.0; 5], 2),
            Err(ClusterError::Shape { len: 5, dim: 2 })
        );
        assert_eq!(Matrix::new(vec![1.0; 4], 0), Err(ClusterError::ZeroDim));
        let e = Matrix::new(vec![0.0, 1.0, f32::NAN, 2.0], 2).unwrap_err();
        assert!(matches!(e, ClusterError::NonFinite { row: 1, col: 0, .. }));
        assert!(e.to_string().contains("row 1, column 0"));
        let e = Matrix::from_rows(&[vec![1.0, 2.0], vec![1.0]]).unwrap_err();
        assert_eq!(
            e,
            ClusterError::RaggedRow {
                row: 1,
                got: 1,
                expected: 2
            }
        );
        assert_eq!(Matrix::from_rows::<Vec<f32>>(&[]), Err(ClusterError::Empty));
    }

    #[test]
    fn rows_round_trip() {
        let m = Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).unwrap();
        assert_eq!(m.n_rows(), 3);
        assert_eq!(m.row(1), &[3.0, 4.0]);
        assert_eq!(m.select_rows(&[2, 0]).as_slice(), &[5.0, 6.0, 1.0, 2.0]);
        assert_eq!(sq_dist(m.row(0), m.row(1)), 8.0);
    }
}
