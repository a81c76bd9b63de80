//! A named weight that is either frozen (a plain tensor, never tracked by autograd) or
//! trainable (a `Var`, whose gradient the optimizer reads).

use candle_core::{Result, Tensor, Var};

#[derive(Clone, Debug)]
pub struct Param {
    name: String,
    tensor: Tensor,
    var: Option<Var>,
}

impl Param {
    pub fn frozen(name: impl Into<String>, tensor: Tensor) -> Self {
        // Detach so that a tensor that was once a Var can never be tracked again.
        Self {
            name: name.into(),
            tensor: tensor.detach(),
            var: None,
        }
    }

    pub fn trainable(name: impl Into<String>, tensor: Tensor) -> Result<Self> {
        let var = Var::from_tensor(&tensor)?;
        Ok(Self {
            name: name.into(),
            tensor: var.as_tensor().clone(),
            var: Some(var),
        })
    }

    pub fn new(name: impl Into<String>, tensor: Tensor, trainable: bool) -> Result<Self> {
        if trainable {
            Self::trainable(name, tensor)
        } else {
            Ok(Self::frozen(name, tensor))
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tensor(&self) -> &Tensor {
        &self.tensor
    }

    pub fn var(&self) -> Option<&Var> {
        self.var.as_ref()
    }

    pub fn is_trainable(&self) -> bool {
        self.var.is_some()
    }

    pub fn numel(&self) -> usize {
        self.tensor.elem_count()
    }
}
