//! `vox-llm`: serve a local GGUF model on the OpenAI chat completions route.

use anyhow::Context;
use clap::{Parser, Subcommand};
use llm_server::{Engine, Server, router};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// sysexits' EX_USAGE: the command was given something it cannot use.
const EXIT_USAGE: u8 = 64;

#[derive(Debug, Parser)]
#[command(name = "vox-llm", version, about = "Local LLM for vox (llama.cpp)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve POST /v1/chat/completions and GET /health.
    Serve {
        /// The GGUF model file.
        #[arg(long, env = "LOCAL_LLM_MODEL")]
        model: Option<PathBuf>,
        /// Address to listen on (loopback unless the fleet hosts share it).
        #[arg(long, env = "LOCAL_LLM_LISTEN", default_value = "127.0.0.1:8179")]
        listen: SocketAddr,
        /// CPU threads per reply.
        #[arg(long, env = "LOCAL_LLM_THREADS", default_value_t = 2)]
        threads: i32,
        /// Replies generated at once; the rest wait.
        #[arg(long, env = "LOCAL_LLM_PARALLEL", default_value_t = 2)]
        parallel: usize,
        /// Context window of one reply (prompt and answer), in tokens.
        #[arg(long, env = "LOCAL_LLM_CONTEXT_TOKENS", default_value_t = 2048)]
        context_tokens: u32,
        /// Longest reply when a request names no max_tokens.
        #[arg(long, env = "LOCAL_LLM_MAX_TOKENS", default_value_t = 96)]
        max_tokens: usize,
        /// Exit when standard input closes (a parent process that holds the pipe has gone).
        #[arg(long)]
        exit_on_stdin_close: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let Command::Serve {
        model,
        listen,
        threads,
        parallel,
        context_tokens,
        max_tokens,
        exit_on_stdin_close,
    } = Cli::parse().command;
    let Some(model) = model else {
        eprintln!("error: LOCAL_LLM_MODEL is not set (the GGUF model file to serve; or --model)");
        return ExitCode::from(EXIT_USAGE);
    };
    let engine = match Engine::load(&model, context_tokens, threads) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("error: LOCAL_LLM_MODEL: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if exit_on_stdin_close {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            tracing::info!("standard input closed; exiting");
            std::process::exit(0);
        });
    }
    let name = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match serve(Server::new(engine, name, max_tokens, parallel), listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(server: std::sync::Arc<Server>, listen: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        tracing::info!(%listen, "vox-llm serving");
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve::serve(listener, router(server), serve::Limits::default(), stop)
            .await
            .context("serving")
    })
}
