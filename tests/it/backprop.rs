//! The vendored candle-core's backward pass (vendor/README.md): a gradient's first contribution
//! is stored as it is, later ones are added, and views are made contiguous as upstream's sums
//! were.

use candle_core::{CpuStorage, CustomOp1, Device, Layout, Result, Shape, Tensor, Var};

/// Identity whose backward returns a gradient made in advance, so the test can tell whether the
/// store kept that very tensor or a copy of it.
struct KnownGrad(Tensor);

impl CustomOp1 for KnownGrad {
    fn name(&self) -> &'static str {
        "known-grad"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let v = s.as_slice::<f32>()?;
        let (a, b) = l.contiguous_offsets().expect("contiguous input");
        Ok((CpuStorage::F32(v[a..b].to_vec()), l.shape().clone()))
    }
    fn bwd(&self, _x: &Tensor, _res: &Tensor, _grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.0.clone()))
    }
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn a_single_contribution_is_stored_not_added_to_zeros() {
    let x = Var::from_vec(vec![1f32, 2., 3., 4.], 4, &Device::Cpu).unwrap();
    let known = Tensor::new(&[0.5f32, -1., 2., 7.], &Device::Cpu).unwrap();
    let y = x.apply_op1(KnownGrad(known.clone())).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    let g = grads.get(&x).unwrap();
    // Upstream candle stores zeros_like(x) + known: a new tensor with another id.
    assert_eq!(g.id(), known.id(), "the gradient was copied, not stored");
    assert_eq!(values(g), [0.5, -1., 2., 7.]);
}

#[test]
fn a_first_contribution_of_another_dtype_is_refused() {
    // Upstream's zeros_like(x).add(grad) refused it; storing it must too.
    let x = Var::from_vec(vec![1f32, 2.], 2, &Device::Cpu).unwrap();
    let wrong = Tensor::new(&[1f64, 1.], &Device::Cpu).unwrap();
    let y = x.apply_op1(KnownGrad(wrong)).unwrap();
    let err = y.sum_all().unwrap().backward().unwrap_err().to_string();
    assert!(err.contains("dtype mismatch"), "{err}");
}

#[test]
fn several_contributions_are_summed_and_views_made_contiguous() {
    let dev = Device::Cpu;
    let xv: Vec<f32> = (0..6).map(|i| i as f32 * 0.25 - 0.5).collect();
    let x = Var::from_vec(xv.clone(), (2, 3), &dev).unwrap();
    let r = Tensor::from_vec((1..=6).map(|i| i as f32).collect::<Vec<_>>(), (3, 2), &dev).unwrap();
    // d/dx of sum(x^T * r) + sum(x^2) + sum(exp(x)) = r^T + 2x + exp(x); the first contribution
    // is a transposed view of r's gradient.
    let loss = ((x.t().unwrap() * &r).unwrap().sum_all().unwrap()
        + x.sqr().unwrap().sum_all().unwrap()
        + x.exp().unwrap().sum_all().unwrap())
    .unwrap();
    let grads = loss.backward().unwrap();
    let g = grads.get(&x).unwrap();
    let rt = values(&r.t().unwrap());
    let want: Vec<f32> = (0..6).map(|i| rt[i] + 2. * xv[i] + xv[i].exp()).collect();
    for (a, b) in values(g).iter().zip(&want) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }

    // A lone transposed contribution is stored contiguous: candle's strided matmul and
    // scatter, which read it in turn, require that.
    let y = Var::from_vec(xv, (2, 3), &dev).unwrap();
    let grads = (y.t().unwrap() * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = grads.get(&y).unwrap();
    assert!(g.is_contiguous());
    assert_eq!(values(g), rt);
}

/// The patch adds later contributions in place only into a gradient nothing else holds: a
/// contribution the test (and the op) still hold must come out of the backward pass unchanged.
/// Both orders of the two terms: backward reaches an add's right operand first, so with the
/// known gradient on the right it is the stored sum the next contribution meets.
#[test]
fn a_gradient_held_elsewhere_is_never_added_into() {
    let dev = Device::Cpu;
    for known_first in [true, false] {
        let x = Var::from_vec(vec![1f32, 2., 3.], 3, &dev).unwrap();
        let known = Tensor::new(&[0.5f32, -1., 2.], &dev).unwrap();
        let y = x
            .apply_op1(KnownGrad(known.clone()))
            .unwrap()
            .sum_all()
            .unwrap();
        let x3 = (x.as_tensor() * 3.).unwrap().sum_all().unwrap();
        let loss = if known_first { x3 + y } else { y + x3 }.unwrap();
        let grads = loss.backward().unwrap();
        assert_eq!(values(grads.get(&x).unwrap()), [3.5, 2., 5.]);
        assert_eq!(
            values(&known),
            [0.5, -1., 2.],
            "a shared gradient was written into (known first: {known_first})"
        );
    }
}

/// An embedding lookup's backward adds its rows (repeated ids add twice) into zeros when no
/// gradient is stored, into the head's gradient when a tied head stored one (in place when the
/// store holds it alone, through index_add's copy when the test holds it too), and the head's
/// gradient comes after the rows in the other order; a held head gradient stays as it was.
#[test]
fn a_lookup_adds_its_rows_into_the_stored_gradient() {
    let dev = Device::Cpu;
    let (rows, width) = (5, 3);
    let w = Var::from_vec(vec![0f32; rows * width], (rows, width), &dev).unwrap();
    let ids = Tensor::new(&[1u32, 3, 1], &dev).unwrap();
    let c: Vec<f32> = (0..9).map(|i| i as f32 + 1.).collect();
    let c = Tensor::from_vec(c, (3, width), &dev).unwrap();
    let lookup = || {
        (w.index_select(&ids, 0).unwrap() * &c)
            .unwrap()
            .sum_all()
            .unwrap()
    };
    // Row 1 gets c[0] + c[2], row 3 gets c[1], the rest nothing.
    let mut rows_only = vec![0f32; rows * width];
    for (r, add) in [(1, [1., 2., 3.]), (3, [4., 5., 6.]), (1, [7., 8., 9.])] {
        for j in 0..width {
            rows_only[r * width + j] += add[j];
        }
    }
    let grads = lookup().backward().unwrap();
    assert_eq!(values(grads.get(&w).unwrap()), rows_only);

    let head_values: Vec<f32> = (0..rows * width).map(|i| i as f32 * 0.5).collect();
    let want: Vec<f32> = head_values
        .iter()
        .zip(&rows_only)
        .map(|(h, r)| h + r)
        .collect();
    // w's gradient with the lookup's rows and `other`'s contribution, either reached first.
    let with_lookup = |other: Tensor, other_first: bool| {
        let loss = if other_first {
            lookup() + other
        } else {
            other + lookup()
        };
        values(loss.unwrap().backward().unwrap().get(&w).unwrap())
    };
    for head_first in [true, false] {
        // A head gradient the test holds: never written into.
        let head = Tensor::from_vec(head_values.clone(), (rows, width), &dev).unwrap();
        let tied = w.apply_op1(KnownGrad(head.clone())).unwrap();
        let got = with_lookup(tied.sum_all().unwrap(), head_first);
        assert_eq!(got, want, "held head first: {head_first}");
        assert_eq!(values(&head), head_values, "held head written into");

        // The head's dW as a fresh product the store holds alone: added into in place.
        let d = Tensor::from_vec(head_values.clone(), (rows, width), &dev).unwrap();
        let product = (w.as_tensor() * &d).unwrap().sum_all().unwrap();
        let got = with_lookup(product, head_first);
        assert_eq!(got, want, "sole head first: {head_first}");
    }
}
