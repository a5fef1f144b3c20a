//! The control plane: the protocol both sides speak, and the socket server.
//!
//! The server never touches program state: it parses a request, forwards it
//! to the supervisor loop as a [`ControlCall`] and writes back the answer.
//! `logs` is served straight from the [`crate::logs::LogHub`] rings.

pub mod protocol;
pub mod server;

use tokio::sync::{mpsc, oneshot};

use protocol::{Request, Response};

/// A request forwarded to the supervisor loop, with where to send its answer.
#[derive(Debug)]
pub struct ControlCall {
    /// The parsed request.
    pub request: Request,
    /// Receives exactly one response (dropped if the supervisor is gone).
    pub reply: oneshot::Sender<Response>,
}

/// The sending side the server uses to reach the supervisor loop.
pub type SupervisorHandle = mpsc::Sender<ControlCall>;
