//! A pretrained backbone in training: its bundled weights copied into the network's
//! variables, and the frozen backbone's pooled features of every prepared face, computed
//! once (and kept on disk beside the run) for phase 1.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use super::variables;
use crate::error::{Error, Result};
use crate::model::au_net::{to_tensor, AuNet, Backbone};
use crate::train::faces::Prepared;
use crate::util::progress::{report, Progress, ProgressFn};
use crate::weights::{read_verified, sha256_hex};

/// Copies the bundled weights of `backbone` (checked against their sha256) into the
/// `backbone.*` variables of `vm`; returns that sha256, or None from scratch.
///
/// # Errors
/// The weight file is missing, damaged, or lacks a tensor the network has.
pub(super) fn load_pretrained(
    vm: &VarMap,
    backbone: Backbone,
    models_dir: &Path,
) -> Result<Option<String>> {
    let Some(model) = backbone.bundled() else {
        return Ok(None);
    };
    let bytes = read_verified(models_dir, model)?;
    let path = models_dir.join(model.file);
    let tensors =
        candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| Error::Model {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let prefix = format!("{}.", Backbone::PREFIX);
    let mut copied = 0;
    for (name, var) in variables(vm)? {
        let Some(leaf) = name.strip_prefix(&prefix) else {
            continue;
        };
        let t = tensors.get(leaf).ok_or_else(|| Error::Model {
            path: path.clone(),
            reason: format!("lacks `{leaf}`"),
        })?;
        var.set(t).map_err(|e| Error::Model {
            path: path.clone(),
            reason: format!("`{leaf}`: {e}"),
        })?;
        copied += 1;
    }
    if copied == 0 {
        return Err(Error::Stage(
            "train",
            format!("the {backbone} network has no backbone variables"),
        ));
    }
    Ok(Some(model.sha256.to_string()))
}

/// Pooled features [n, channels] of every face, row-major.
pub(super) struct Pooled {
    pub(super) channels: usize,
    pub(super) values: Vec<f32>,
}

impl Pooled {
    /// The rows of samples `idx` as a [idx.len(), channels] tensor.
    pub(super) fn rows(&self, idx: &[usize]) -> candle_core::Result<Tensor> {
        let c = self.channels;
        let mut out = Vec::with_capacity(idx.len() * c);
        for &i in idx {
            out.extend_from_slice(&self.values[i * c..(i + 1) * c]);
        }
        Tensor::from_vec(out, (idx.len(), c), &Device::Cpu)
    }
}

/// Bumped whenever the backbone's forward pass or the pooling changes, so that a cache never
/// serves features of another kind.
const FEATURE_VERSION: &str = "pooled1";

/// The cache file of `data`'s features: a digest of the backbone weights' sha256, the crop
/// size and every crop's bytes.
fn cache_file(dir: &Path, data: &Prepared, backbone_sha256: &str) -> std::path::PathBuf {
    let mut key = format!("{FEATURE_VERSION} {backbone_sha256} {}\n", data.side).into_bytes();
    key.extend_from_slice(&data.crops);
    let digest = sha256_hex(&key);
    dir.join(format!("{}.safetensors", &digest[..32]))
}

/// The network of `vm` with its weights detached from the variables: its forward pass builds
/// no graph for gradients (and takes the inference paths of the kernels).
fn detached(vm: &VarMap, net: &AuNet) -> Result<AuNet> {
    let tensors = variables(vm)?
        .into_iter()
        .map(|(k, v)| (k, v.as_tensor().detach()))
        .collect();
    let vb = candle_nn::VarBuilder::from_tensors(tensors, candle_core::DType::F32, &Device::Cpu);
    Ok(AuNet::new(vb, net.config.clone())?)
}

/// The frozen backbone's pooled features of every face of `data`: read from `cache_dir`
/// when an entry for these crops and weights is there, else computed one face at a time
/// (faster per face on the CPU than batches) and written there.
///
/// # Errors
/// A tensor operation failed or the cache could not be written.
pub(super) fn pooled_features(
    vm: &VarMap,
    net: &AuNet,
    data: &Prepared,
    backbone_sha256: &str,
    cache_dir: Option<&Path>,
    progress: Option<&ProgressFn>,
) -> Result<Pooled> {
    let channels = net.config.channels();
    if data.is_empty() {
        return Ok(Pooled {
            channels,
            values: Vec::new(),
        });
    }
    let file = cache_dir.map(|d| cache_file(d, data, backbone_sha256));
    if let Some(f) = file.as_ref().filter(|f| f.is_file()) {
        let read = candle_core::safetensors::load(f, &Device::Cpu)
            .ok()
            .and_then(|m| m.get("pooled").cloned())
            .and_then(|t| t.flatten_all().ok()?.to_vec1::<f32>().ok());
        // A damaged or foreign entry is computed again (and replaced).
        if let Some(values) = read.filter(|v| v.len() == data.len() * channels) {
            return Ok(Pooled { channels, values });
        }
    }
    let net = detached(vm, net)?;
    let side = data.side as usize;
    let mut values = Vec::with_capacity(data.len() * channels);
    // One face at a time on one thread: candle's thread pool over a single 112 px face costs
    // more in hand-offs than it saves (measured 7.5x slower on 2 busy cores, BENCHMARKS.md).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "backbone-features".into())
        .build()
        .map_err(|e| Error::Stage("train", format!("feature thread: {e}")))?;
    pool.install(|| -> Result<()> {
        for i in 0..data.len() {
            let x = to_tensor(data.crop(i), 1, side, &Device::Cpu)?;
            values.extend(net.pooled(&x)?.flatten_all()?.to_vec1::<f32>()?);
            report(
                progress,
                Progress::Step {
                    task: "backbone features",
                    done: (i + 1) as u64,
                    total: Some(data.len() as u64),
                    detail: String::new(),
                },
            );
        }
        Ok(())
    })?;
    if let (Some(f), Some(dir)) = (&file, cache_dir) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let t = Tensor::from_vec(values.clone(), (data.len(), channels), &Device::Cpu)?;
        let tmp = f.with_extension("safetensors.tmp");
        let tensors: std::collections::HashMap<&str, Tensor> = [("pooled", t)].into();
        candle_core::safetensors::save(&tensors, &tmp).map_err(|e| Error::Model {
            path: tmp.clone(),
            reason: e.to_string(),
        })?;
        std::fs::rename(&tmp, f).map_err(|e| Error::io(f, e))?;
    }
    Ok(Pooled { channels, values })
}
