//! The daemon's start-up: from a loaded configuration to a running
//! supervisor with its control socket, and back to an exit code.

use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};

use crate::control::server;
use crate::logs::LogHub;
use crate::model::{Config, LogFormat};
use crate::process::pid1;
use crate::process::reap::{block_child_signal, ChildExits};
use crate::supervisor::{Supervisor, HANDLED_SIGNALS};

/// Set up svinit's own log lines on stderr (text or JSON).
pub fn init_tracing(format: LogFormat) {
    let level = std::env::var("SVINIT_LOG")
        .ok()
        .and_then(|text| text.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // Already initialised (tests): keep the first.
    let _ = result;
}

/// Run the supervisor for `config` until it shuts down; returns the exit code.
pub fn run(config: Config, config_path: PathBuf) -> i32 {
    pid1::prepare();
    // Before any thread exists, so that every thread keeps SIGCHLD blocked.
    if let Err(err) = block_child_signal() {
        tracing::error!("cannot block SIGCHLD: {err}");
        return 1;
    }
    let runtime = match new_runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!("cannot start the runtime: {err}");
            return 1;
        }
    };
    runtime.block_on(serve(config, config_path))
}

/// The single-threaded runtime every svinit mode runs on: one thread owns
/// spawning and reaping, and an idle runtime makes no wakeups.
pub fn new_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

async fn serve(config: Config, config_path: PathBuf) -> i32 {
    // Signals first: no child may exit before SIGCHLD is being listened to.
    let mut handled: Vec<i32> = HANDLED_SIGNALS.to_vec();
    for forwarded in config.supervisor.forward.keys() {
        if !handled.contains(&forwarded.0) {
            handled.push(forwarded.0);
        }
    }
    let signals = match signal_hook_tokio::Signals::new(&handled) {
        Ok(signals) => signals,
        Err(err) => {
            tracing::error!("cannot handle signals: {err}");
            return 1;
        }
    };
    let child_exits = match ChildExits::new() {
        Ok(child_exits) => child_exits,
        Err(err) => {
            tracing::error!("cannot watch child exits (signalfd): {err}");
            return 1;
        }
    };
    let socket_path = config.supervisor.socket.clone();
    let listener = match server::bind(&socket_path, config.supervisor.socket_mode) {
        Ok(listener) => Some(listener),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::error!("{err}");
            return 1;
        }
        Err(err) => {
            tracing::error!(
                "control socket {} unavailable, svctl will not work: {err}",
                socket_path.display()
            );
            None
        }
    };
    let logs = LogHub::new(config.supervisor.log_buffer_bytes);
    let (handle, calls) = mpsc::channel(64);
    let (stop_server, server_stopped) = oneshot::channel::<()>();
    let server_task = listener.map(|listener| {
        tokio::spawn(server::serve(
            listener,
            handle.clone(),
            logs.clone(),
            async {
                let _ = server_stopped.await;
            },
        ))
    });
    tracing::info!(
        "svinit {} starting {} programs (pid {})",
        env!("CARGO_PKG_VERSION"),
        config.programs.len(),
        std::process::id()
    );
    let supervisor = Supervisor::new(config, config_path, logs);
    let code = supervisor.run(signals, child_exits, calls, handle).await;
    let _ = stop_server.send(());
    if let Some(task) = server_task {
        let _ = tokio::time::timeout(std::time::Duration::from_millis(100), task).await;
        if let Err(err) = std::fs::remove_file(&socket_path) {
            tracing::debug!("cannot remove {}: {err}", socket_path.display());
        }
    }
    code
}
