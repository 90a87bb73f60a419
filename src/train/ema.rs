//! An exponential moving average of a module's weights (Polyak averaging, as in
//! `torch.optim.swa_utils.AveragedModel` with an EMA function, or timm's `ModelEmaV2`): after
//! every optimiser step, `ema <- decay * ema + (1 - decay) * weights` for every float tensor of
//! the module, parameters and BatchNorm running statistics alike (timm averages the buffers too).
//! The average lives on the plain device, outside the autodiff graph.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Every float tensor of a module, flattened, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

/// Blends each float tensor with the next collected one.
struct Blend {
    raw: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
    mismatched: bool,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let blended = match self.raw.next() {
            Some(raw) if raw.dims() == [n] => {
                tensor.mul_scalar(self.decay) + raw.reshape(dims).mul_scalar(1.0 - self.decay)
            }
            _ => {
                self.mismatched = true;
                tensor
            }
        };
        Param::from_mapped_value(id, blended, mapper)
    }
}

/// One EMA update of `ema` towards `model`'s current weights (`model` is typically the trained
/// module's [`Module::valid`] copy). Returns the updated average, and `false` when the two
/// modules' tensors did not pair up (different structures; the average is then unchanged where
/// they did not).
pub fn update<M: Module>(ema: M, model: &M, decay: f64) -> (M, bool) {
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    let mut blend = Blend {
        raw: collect.0.into_iter(),
        decay,
        mismatched: false,
    };
    let ema = ema.map(&mut blend);
    let paired = !blend.mismatched && blend.raw.next().is_none();
    (ema, paired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::upsample::UpsampleNetConfig;
    use burn::tensor::Device;

    fn floats<M: Module>(m: &M) -> Vec<f32> {
        let mut c = Collect(Vec::new());
        m.visit(&mut c);
        c.0.into_iter()
            .flat_map(|t| t.into_data().try_to_vec::<f32>().unwrap_or_default())
            .collect()
    }

    /// The average moves `1 - decay` of the way towards the weights, tensor by tensor.
    #[test]
    fn an_update_moves_each_weight_by_one_minus_decay() {
        let device = Device::default();
        let config = UpsampleNetConfig::new()
            .with_widths([4, 4, 4])
            .with_head_width(4);
        let a = crate::train::seeded_init(&device, 1, || config.init(&device));
        let b = crate::train::seeded_init(&device, 2, || config.init(&device));
        let (wa, wb) = (floats(&a), floats(&b));
        assert_eq!(wa.len(), wb.len());
        let (avg, paired) = update(a, &b, 0.75);
        assert!(paired);
        let w = floats(&avg);
        let mut differs = 0;
        for ((x, y), z) in wa.iter().zip(&wb).zip(&w) {
            let want = 0.75 * x + 0.25 * y;
            assert!((z - want).abs() < 1e-6, "{z} vs {want}");
            differs += usize::from((z - y).abs() > 1e-6);
        }
        assert!(
            differs > w.len() / 2,
            "the average differs from the raw weights"
        );
    }
}
