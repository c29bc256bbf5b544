//! Training and evaluation of facs's own AU + emotion network: data (EmotioNet-style CSV,
//! synthetic faces), face preparation shared with the live pipeline, balanced sampling,
//! losses, the training loop, metrics and reports.

pub mod cam;
pub mod dataset;
pub mod faces;
pub mod lab;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod plot;
pub mod report;
pub mod sampler;
pub mod synth;
pub mod timeline;
pub mod trainer;
