//! ofhnet's results in other tools' formats: a trained model's weights as safetensors that
//! PyTorch reads (and back), and the run store's curves as TensorBoard event files.

pub mod tensorboard;
pub mod weights;
