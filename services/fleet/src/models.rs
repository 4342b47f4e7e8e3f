//! The worker's in-process neural models (Smart Turn), loaded once at start and shared by calls.

use crate::config::NeuralModels;
use anyhow::Context;
use pipeline::processors::TurnModel;
use std::sync::Arc;

/// Smart Turn v3.2 as the pipeline's turn model.
#[derive(Debug)]
struct SmartTurn(neural::SmartTurn);

impl TurnModel for SmartTurn {
    fn probability(&self, audio: &[f32]) -> Result<f32, String> {
        self.0.probability(audio).map_err(|e| e.to_string())
    }
}

/// The turn model `models` names, or none when it names none; a path that is set but cannot be
/// loaded stops the worker (a misconfigured model should not go unnoticed until a call).
pub fn turn_model(models: &NeuralModels) -> anyhow::Result<Option<Arc<dyn TurnModel>>> {
    let Some(path) = &models.smart_turn else {
        return Ok(None);
    };
    let library = models.onnxruntime.as_ref().context(
        "SMART_TURN_MODEL is set but VOX_ONNXRUNTIME is not: point it at libonnxruntime.so \
         (scripts/up unpacks it from PyPI's onnxruntime)",
    )?;
    let runtime = neural::Runtime::load(library).context("loading ONNX Runtime")?;
    let model = neural::SmartTurn::load(&runtime, path).context("loading SMART_TURN_MODEL")?;
    // The first inference initialises the session's kernels; no call should pay for it.
    model
        .probability(&vec![0.0; 16_000])
        .context("a first Smart Turn inference")?;
    tracing::info!(model = %path.display(), "Smart Turn loaded");
    Ok(Some(Arc::new(SmartTurn(model))))
}
