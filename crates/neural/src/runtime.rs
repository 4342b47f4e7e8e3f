//! ONNX Runtime, loaded once per process from the shared library PyPI's `onnxruntime` wheel ships.
//!
//! vox links no ONNX Runtime at build time (`ort`'s `load-dynamic`): the library is found at
//! `VOX_ONNXRUNTIME` (or ort's own `ORT_DYLIB_PATH`), which `scripts/models-fetch` fills from
//! `onnxruntime==1.32.0`'s `onnxruntime/capi/libonnxruntime.so.1.32.0`.

use crate::NeuralError;
use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable naming the ONNX Runtime shared library.
pub const LIBRARY_ENV: &str = "VOX_ONNXRUNTIME";

/// The loaded runtime; cheap to clone.
#[derive(Debug, Clone)]
pub struct Runtime {
    environment: Environment,
}

static LOADED: OnceLock<Result<Runtime, String>> = OnceLock::new();

impl Runtime {
    /// The process's runtime, loading the library at `library` on the first call (later calls
    /// return the first one's runtime whatever path they name: a process holds one).
    pub fn load(library: &Path) -> Result<Self, NeuralError> {
        LOADED
            .get_or_init(|| {
                let builder =
                    ort::init_from(library).map_err(|e| format!("{}: {e}", library.display()))?;
                let environment = builder
                    .with_name("vox")
                    .build()
                    .map_err(|e| format!("{}: {e}", library.display()))?;
                Ok(Self { environment })
            })
            .clone()
            .map_err(NeuralError::Runtime)
    }

    /// The runtime from the library `VOX_ONNXRUNTIME` (else `ORT_DYLIB_PATH`) names.
    pub fn from_env() -> Result<Self, NeuralError> {
        let library = std::env::var_os(LIBRARY_ENV)
            .or_else(|| std::env::var_os("ORT_DYLIB_PATH"))
            .map(PathBuf::from)
            .ok_or_else(|| {
                NeuralError::Runtime(format!(
                    "{LIBRARY_ENV} is not set: point it at libonnxruntime.so (scripts/models-fetch \
                     unpacks it from PyPI's onnxruntime)"
                ))
            })?;
        Self::load(&library)
    }

    /// A session of the model at `path` on one thread, every graph optimisation on.
    pub(crate) fn session(&self, path: &Path) -> Result<Session, NeuralError> {
        let model = |e: String| NeuralError::Model {
            path: path.to_owned(),
            message: e,
        };
        Session::builder(&self.environment)
            .map_err(|e| model(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| model(e.to_string()))?
            .with_intra_threads(1)
            .map_err(|e| model(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| model(e.to_string()))?
            .commit_from_file(path)
            .map_err(|e| model(e.to_string()))
    }
}

/// Sessions of one model shared by every call: a call takes an idle one (or opens one more) and
/// gives it back, so concurrent calls never wait on each other and idle ones are reused.
#[derive(Debug)]
pub(crate) struct Sessions {
    runtime: Runtime,
    path: PathBuf,
    idle: Mutex<Vec<Session>>,
}

impl Sessions {
    /// Opens the model once to check it, keeping that session.
    pub(crate) fn open(runtime: &Runtime, path: &Path) -> Result<Self, NeuralError> {
        let first = runtime.session(path)?;
        Ok(Self {
            runtime: runtime.clone(),
            path: path.to_owned(),
            idle: Mutex::new(vec![first]),
        })
    }

    /// Runs `f` on an idle session.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<T, NeuralError>,
    ) -> Result<T, NeuralError> {
        let taken = self.idle.lock().pop();
        let mut session = match taken {
            Some(session) => session,
            None => self.runtime.session(&self.path)?,
        };
        let result = f(&mut session);
        self.idle.lock().push(session);
        result
    }
}
