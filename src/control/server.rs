//! (stub: replaced by the control room)
use std::future::Future;
use std::path::Path;

use tokio::net::UnixListener;

use super::SupervisorHandle;
use crate::logs::LogHub;

/// Bind the control socket.
pub fn bind(path: &Path, mode: u32) -> std::io::Result<UnixListener> {
    let _ = (path, mode);
    Err(std::io::Error::other("not implemented"))
}

/// Serve until `shutdown`.
pub async fn serve(
    listener: UnixListener,
    supervisor: SupervisorHandle,
    logs: LogHub,
    shutdown: impl Future<Output = ()>,
) {
    let _ = (listener, supervisor, logs);
    shutdown.await
}
