//! Command line: parses arguments, sets up logging, runs the node.

use std::{os::unix::process::CommandExt, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use streamp2p::{
    config::{Config, ConfigError, Overrides},
    demo,
    node::{self, Exit, NodeError},
};

#[derive(Parser)]
#[command(
    version,
    about = "Community radio box: live stream, library seeding, tracker"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the node (the appliance entry point).
    Run {
        /// TOML configuration file; flags override its keys.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        flags: Overrides,
    },
    /// Run the whole node on a generated library, on http://127.0.0.1:8080.
    Demo {
        #[command(flatten)]
        flags: Overrides,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // librqbit reports every torrent at info level: too much for a 1000-file library;
        // webrtc-rs (rtc*) logs every state change of every peer connection and warns about
        // routine events of each one (no candidates yet, DTLS server name, first SCTP packet).
        "info,librqbit=warn,librqbit_dht=warn,librqbit_core=warn,rtc=error,rtc_ice=error,\
         rtc_dtls=error,rtc_sctp=error,rtc_datachannel=error,rtc_mdns=error,webrtc=warn"
            .into()
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// First SIGINT/SIGTERM: drain and stop. Second: stop now.
fn handle_signals(shutdown: CancellationToken) {
    let handler = async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        for round in 0..2 {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            if round == 0 {
                tracing::info!("shutting down (signal again to stop at once)");
                shutdown.cancel();
            }
        }
        std::process::exit(130);
    };
    tokio::spawn(handler.instrument(tracing::info_span!("task", name = "signals")));
}

/// The config to run (checked: a bad one exits 2 before anything starts), the demo's
/// temporary folder if it made one, and arguments that reach the same data dir again (for
/// a restart).
fn config_for(cmd: Cmd) -> Result<(Config, Option<tempfile::TempDir>), anyhow::Error> {
    match cmd {
        Cmd::Run { config, flags } => {
            let mut cfg = match config {
                Some(path) => Config::from_file(&path)?,
                None => Config::default(),
            };
            cfg.apply(flags);
            cfg.clone().validate()?;
            Ok((cfg, None))
        }
        Cmd::Demo { flags } => {
            let mut cfg = Config::default();
            cfg.station.name = "streamp2p demo radio".into();
            cfg.station.description = "Generated episodes, to try the box.".into();
            cfg.http = "127.0.0.1:8080".into();
            cfg.audio = "sine".into();
            cfg.swarm.dht = false;
            cfg.swarm.lsd = false;
            let temp = match &flags.data_dir {
                Some(_) => None,
                None => Some(
                    tempfile::Builder::new()
                        .prefix("streamp2p-demo-")
                        .tempdir()?,
                ),
            };
            if let Some(t) = &temp {
                cfg.data_dir = t.path().join("data");
            }
            if flags.library.is_empty() {
                let lib = flags
                    .data_dir
                    .as_ref()
                    .unwrap_or(&cfg.data_dir)
                    .join("library");
                eprintln!("generating demo episodes in {}", lib.display());
                demo::make_library(&lib, &cfg.station.name)?;
                cfg.library = vec![lib];
            }
            // The demo's own folder of USB sticks: copying a folder there is plugging in a
            // stick of that name.
            let usb = flags.data_dir.as_ref().unwrap_or(&cfg.data_dir).join("usb");
            std::fs::create_dir_all(&usb)?;
            cfg.usb_root = usb;
            cfg.apply(flags);
            let settings = cfg.clone().validate()?;
            let url = format!("http://{}", settings.http);
            eprintln!(
                "\nstreamp2p demo\n  listen page:  {url}/\n  config page:  {url}/admin (choose a \
                 password at the first visit)\n  podcast feed: {url}/feed.xml\n  \
                 library API:  {url}/api/library\n  \
                 health:       {url}/api/health\n  tracker:      {url}/announce\n  \
                 data dir:     {}\n  USB sticks:   {usb}\n    plug in a stick: copy a folder of \
                 audio files there, named as its label (cp -r ~/Music/show {usb}/MYSTICK);\n    \
                 pull it out: remove that folder\n(Ctrl-C stops the demo.)\n",
                settings.data_dir.display(),
                usb = settings.usb_root.display(),
            );
            Ok((cfg, temp))
        }
    }
}

fn exit_code(e: &anyhow::Error) -> ExitCode {
    let config = e.downcast_ref::<ConfigError>().is_some()
        || matches!(e.downcast_ref::<NodeError>(), Some(NodeError::Config(_)));
    ExitCode::from(if config { 2 } else { 1 })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let demo_without_dir = matches!(&cli.cmd, Cmd::Demo { flags } if flags.data_dir.is_none());
    let (config, temp) = match config_for(cli.cmd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e:#}");
            return exit_code(&e);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let data_dir = config.data_dir.clone();
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        handle_signals(shutdown.clone());
        node::run(config, shutdown).await
    });
    // Nothing of this run may outlive it: the database and every port are closed here.
    drop(runtime);
    match result {
        Ok(Exit::Stopped) => ExitCode::SUCCESS,
        Ok(Exit::Restart) => {
            // A fresh process with the same arguments reads the saved settings; a demo
            // that made a temporary folder is pointed at it (and the folder kept).
            let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
            if demo_without_dir {
                args.push("--data-dir".into());
                args.push(data_dir.into_os_string());
                if let Some(t) = temp {
                    let _ = t.keep();
                }
            }
            let err = std::process::Command::new("/proc/self/exe")
                .args(args)
                .exec();
            eprintln!("cannot restart: {err}");
            ExitCode::FAILURE
        }
        Err(e) => {
            let e = anyhow::Error::from(e);
            eprintln!("{e:#}");
            exit_code(&e)
        }
    }
}
