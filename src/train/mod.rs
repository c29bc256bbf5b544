//! Training and evaluation of facs's own AU + emotion network: data (EmotioNet-style CSV,
//! synthetic faces), balanced sampling, metrics and reports.

pub mod dataset;
pub mod metrics;
pub mod plot;
pub mod synth;
