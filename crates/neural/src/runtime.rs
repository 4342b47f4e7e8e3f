//! ONNX Runtime, loaded once per process from the shared library PyPI's `onnxruntime` wheel ships.
//!
//! vox links no ONNX Runtime at build time (`ort`'s `load-dynamic`): the library is found at
//! `VOX_ONNXRUNTIME` (or ort's own `ORT_DYLIB_PATH`), which `scripts/models-fetch` fills from
//! `onnxruntime==1.32.0`'s `onnxruntime/capi/libonnxruntime.so.1.32.0`.

use crate::NeuralError;
use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use parking_lot::{Condvar, Mutex};
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

/// Sessions of one model shared by every call: a call takes an idle one (or opens one more, up to
/// a cap) and gives it back, so concurrent calls never wait on each other below the cap and idle
/// ones are reused.
#[derive(Debug)]
pub(crate) struct Sessions {
    runtime: Runtime,
    path: PathBuf,
    pool: Mutex<Pool>,
    returned: Condvar,
    max: usize,
}

#[derive(Debug)]
struct Pool {
    idle: Vec<Session>,
    open: usize,
}

impl Sessions {
    /// Opens the model once to check it, keeping that session; more open as calls need them.
    pub(crate) fn open(runtime: &Runtime, path: &Path) -> Result<Self, NeuralError> {
        Self::open_capped(runtime, path, usize::MAX)
    }

    /// As [`Self::open`], with at most `max` sessions open: a run past that waits for one.
    pub(crate) fn open_capped(
        runtime: &Runtime,
        path: &Path,
        max: usize,
    ) -> Result<Self, NeuralError> {
        let first = runtime.session(path)?;
        Ok(Self {
            runtime: runtime.clone(),
            path: path.to_owned(),
            pool: Mutex::new(Pool {
                idle: vec![first],
                open: 1,
            }),
            returned: Condvar::new(),
            max: max.max(1),
        })
    }

    /// Runs `f` on an idle session.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<T, NeuralError>,
    ) -> Result<T, NeuralError> {
        let taken = {
            let mut pool = self.pool.lock();
            loop {
                if let Some(session) = pool.idle.pop() {
                    break Some(session);
                }
                if pool.open < self.max {
                    pool.open += 1;
                    break None;
                }
                self.returned.wait(&mut pool);
            }
        };
        let mut session = match taken {
            Some(session) => session,
            None => match self.runtime.session(&self.path) {
                Ok(session) => session,
                Err(error) => {
                    self.pool.lock().open -= 1;
                    self.returned.notify_one();
                    return Err(error);
                }
            },
        };
        let result = f(&mut session);
        self.pool.lock().idle.push(session);
        self.returned.notify_one();
        result
    }
}
