//! Training and evaluation of facs's own AU + emotion network: data (EmotioNet-style CSV,
//! synthetic faces), balanced sampling, losses, metrics and reports.

pub mod dataset;
pub mod loss;
pub mod metrics;
pub mod plot;
pub mod sampler;
pub mod synth;
