//! The one vox binary: a subcommand per role.
//!
//! `migrate`, `version`, `up`, `bridge`, `core`, `dialler`, `sip`, `sim`, `check`, `cleanup`, `admin`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use vox::config::{ConfigError, ProcessEnv, Requirement, Settings};

/// Exit code for a missing or malformed setting (EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[derive(Debug, Parser)]
#[command(name = "vox", version, about = "vox: a voice-AI calling platform")]
struct Cli {
    /// A TOML file of settings (same names as the environment variables, which win).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the database migrations of DATABASE_URL.
    Migrate,
    /// Print the build version.
    Version,
    /// Run the whole platform on embedded defaults.
    Up,
    /// Run the Backend API (needs JWT_SECRET and VOXCORE_SECRET).
    Bridge,
    /// Run a fleet worker (needs VOXCORE_SECRET, VOXBRIDGE_URL and VOXCORE_SOCKET or VOXCORE_LISTEN).
    Core,
    /// Run the dialler (needs VOXCORE_SECRET and FLEET_URLS; health on 127.0.0.1:HEALTH_PORT).
    Dialler,
    /// Run the SIP trunk gateway (needs VOX_SIP_ACCOUNT, VOXCORE_SECRET and VOXBRIDGE_URL; SIP
    /// on VOX_SIP_LISTEN, health and metrics on 127.0.0.1:VOX_SIP_HEALTH_PORT).
    Sip,
    /// The smoke check the health timer runs: the Backend (VOXBRIDGE_URL), each fleet
    /// (FLEET_URLS) and the dialler on 127.0.0.1:HEALTH_PORT; a line per failing check, exit 1
    /// when any fails.
    Check {
        /// Leave out the dialler (a host that does not run it).
        #[arg(long)]
        skip_dialler: bool,
        /// Check `vox sip` too: an OPTIONS to VOX_SIP_LISTEN answered 200, and its health and
        /// metrics on 127.0.0.1:VOX_SIP_HEALTH_PORT.
        #[arg(long)]
        sip: bool,
    },
    /// Reap calls stuck past STALE_IN_PROGRESS_TIMEOUT_MINUTES once, and report them.
    Cleanup,
    /// The load generator: simulated callers ring an inbound number routed to a bot and talk to
    /// it (needs VOXCORE_SECRET, VOXBRIDGE_URL and FLEET_URLS); exits 1 if any call failed.
    /// With --carrier twilio, telnyx, plivo, vonage or exotel they ring through that carrier's emulator as the
    /// account that owns the number (needs the database and VOX_PUBLIC_URL or VOXBRIDGE_URL).
    Sim {
        /// How the callers reach the bots: straight to the fleet (sim), or through a carrier's
        /// emulator and the Backend's telephony edge (twilio, telnyx, plivo, vonage, exotel).
        #[arg(long, value_enum, default_value = "sim")]
        carrier: vox::config::CarrierChoice,
        /// The inbound number to ring (E.164); it must be routed to a bot.
        #[arg(long)]
        number: String,
        /// How many calls in all.
        #[arg(long, default_value_t = 10)]
        calls: usize,
        /// At most this many at once.
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// A JSON file of the callers' behaviour (`script`, `hang_up_after_secs`, …).
        #[arg(long, value_name = "PATH")]
        population: Option<PathBuf>,
    },
    /// Administration tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a user, e.g. the first admin; reads the password from stdin with --password-stdin,
    /// or generates one and prints it once.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        #[arg(long, default_value = "admin", value_parser = ["admin", "operator", "viewer"])]
        role: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

fn main() -> ExitCode {
    vox::telemetry::init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(config) = error.downcast_ref::<ConfigError>() {
                eprintln!("vox: {config}");
                return ExitCode::from(EXIT_CONFIG);
            }
            eprintln!("vox: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Version = cli.command {
        println!("vox {}", vox::VERSION);
        return Ok(());
    }
    let settings = Settings::load(&ProcessEnv, cli.config.as_deref())?;
    settings.require(Requirement::Database)?;
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Migrate => vox::commands::migrate(&settings).await,
            Command::Up => vox::up::up(&settings).await,
            Command::Bridge => vox::commands::bridge(&settings).await,
            Command::Core => vox::commands::core(&settings).await,
            Command::Dialler => vox::commands::dialler(&settings).await,
            Command::Sip => vox::sip_gateway::sip(&settings).await,
            Command::Cleanup => vox::commands::cleanup(&settings).await,
            Command::Check { skip_dialler, sip } => {
                vox::check::check(&settings, skip_dialler, sip).await
            }
            Command::Sim {
                carrier,
                number,
                calls,
                concurrency,
                population,
            } => {
                vox::commands::sim(
                    &settings,
                    carrier,
                    &number,
                    calls,
                    concurrency,
                    population.as_deref(),
                )
                .await
            }
            Command::Admin(AdminCommand::CreateUser {
                email,
                name,
                role,
                password_stdin,
            }) => {
                let password = password_stdin.then(read_password).transpose()?;
                let role = role.parse().map_err(anyhow::Error::msg)?;
                vox::commands::create_user(&settings, &email, &name, role, password).await
            }
            Command::Version => unreachable!("handled before the runtime starts"),
        }
    })
}
