//! `vox-whisper`: serve a Whisper model on the OpenAI transcription route, or convert one.
//!
//! `convert` turns a CTranslate2 model into whisper.cpp's ggml file.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use whisper_server::{Engine, Sidecar, convert, router};

#[derive(Debug, Parser)]
#[command(
    name = "vox-whisper",
    version,
    about = "Local speech-to-text for vox (whisper.cpp)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve POST /v1/audio/transcriptions and GET /health.
    Serve {
        /// The ggml model file (whisper.cpp's format).
        #[arg(long, env = "WHISPER_MODEL")]
        model: PathBuf,
        /// Address to listen on (loopback unless the fleet hosts share it).
        #[arg(long, env = "WHISPER_LISTEN", default_value = "127.0.0.1:8178")]
        listen: SocketAddr,
        /// CPU threads per transcription.
        #[arg(long, env = "WHISPER_THREADS", default_value_t = 2)]
        threads: usize,
        /// Transcriptions run at once; the rest wait.
        #[arg(long, env = "WHISPER_PARALLEL", default_value_t = 1)]
        parallel: usize,
        /// Exit when standard input closes (a parent process that holds the pipe has gone).
        #[arg(long)]
        exit_on_stdin_close: bool,
    },
    /// Convert a CTranslate2 (faster-whisper) model directory to a ggml file.
    Convert {
        /// Directory with model.bin and vocabulary.txt.
        #[arg(long)]
        from: PathBuf,
        /// The ggml file to write.
        #[arg(long)]
        to: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,whisper_rs=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Convert { from, to } => {
            let done = convert(&from, &to)
                .with_context(|| format!("converting {} to {}", from.display(), to.display()))?;
            println!(
                "wrote {} ({} bytes): {} tensors, {}+{} layers, width {}, {} tokens",
                to.display(),
                done.bytes,
                done.tensors,
                done.audio_layers,
                done.text_layers,
                done.state,
                done.n_vocab
            );
            Ok(())
        }
        Command::Serve {
            model,
            listen,
            threads,
            parallel,
            exit_on_stdin_close,
        } => {
            if exit_on_stdin_close {
                std::thread::spawn(|| {
                    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                    tracing::info!("standard input closed; exiting");
                    std::process::exit(0);
                });
            }
            let engine = Engine::load(&model, threads)
                .with_context(|| format!("loading {}", model.display()))?;
            let name = model
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let sidecar = Sidecar::new(engine, name, parallel);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("binding {listen}"))?;
                tracing::info!(%listen, "vox-whisper serving");
                let stop = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                serve::serve(listener, router(sidecar), serve::Limits::default(), stop)
                    .await
                    .context("serving")
            })
        }
    }
}
