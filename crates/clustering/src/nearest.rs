//! The inner loop of brute-force nearest-neighbour search, shared by this crate's kNN search
//! ([`crate::knn`]: core distances, UMAP's graph, the kNN classifier) and k-means' assignment: squared
//! distances of a block of queries to a block of references as one matrix product
//! (`|q − r|² = |q|² + |r|² − 2 q·r`), folded into a short sorted list of the best candidates per
//! query.

/// For each query `i` of the row-major `m × d` block `q` (squared norms `qn`), offers every
/// reference `j` of the row-major `n × d` block `r` (norms `rn`) to the query's sorted best
/// lists `best_d[i·kc..][..kc]` / `best_i[..]` (ascending squared distance; `kc` = their
/// length per query), under the index `index0 + j`. `dots` is scratch of at least `m × n`.
#[allow(clippy::too_many_arguments)]
pub fn offer_block(
    q: &[f32],
    qn: &[f32],
    r: &[f32],
    rn: &[f32],
    d: usize,
    index0: usize,
    dots: &mut [f32],
    best_d: &mut [f32],
    best_i: &mut [usize],
) {
    let (m, n) = (qn.len(), rn.len());
    if m == 0 || n == 0 {
        return;
    }
    let kc = best_d.len() / m;
    assert!(q.len() >= m * d && r.len() >= n * d && dots.len() >= m * n);
    assert!(kc > 0 && best_i.len() == best_d.len());
    // SAFETY: dst is m×n row-major inside `dots` (checked above); lhs is the m×d row-major
    // query block; rhs is the d×n transpose of the n×d row-major reference block (row stride
    // 1, column stride d); every pointer stays in bounds.
    unsafe {
        gemm::gemm(
            m,
            n,
            d,
            dots.as_mut_ptr(),
            1,
            n as isize,
            false,
            q.as_ptr(),
            1,
            d as isize,
            r.as_ptr(),
            d as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    for i in 0..m {
        let bd = &mut best_d[i * kc..(i + 1) * kc];
        let bx = &mut best_i[i * kc..(i + 1) * kc];
        for (j, (&dot, &rnj)) in dots[i * n..(i + 1) * n].iter().zip(rn).enumerate() {
            let d2 = (qn[i] + rnj - 2.0 * dot).max(0.0);
            if d2 < bd[kc - 1] {
                // insertion into the short sorted list
                let mut p = kc - 1;
                while p > 0 && bd[p - 1] > d2 {
                    bd[p] = bd[p - 1];
                    bx[p] = bx[p - 1];
                    p -= 1;
                }
                bd[p] = d2;
                bx[p] = index0 + j;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_nearest_in_order() {
        // one query at the origin, five references on a line
        let q = [0.0f32, 0.0];
        let r = [3.0f32, 0.0, 1.0, 0.0, 4.0, 0.0, 2.0, 0.0, 5.0, 0.0];
        let rn: Vec<f32> = r.chunks(2).map(|p| p[0] * p[0] + p[1] * p[1]).collect();
        let (mut bd, mut bx) = (vec![f32::INFINITY; 3], vec![usize::MAX; 3]);
        let mut dots = vec![0.0; 5];
        offer_block(&q, &[0.0], &r, &rn, 2, 10, &mut dots, &mut bd, &mut bx);
        assert_eq!(bx, vec![11, 13, 10]);
        assert_eq!(bd, vec![1.0, 4.0, 9.0]);
    }
}
