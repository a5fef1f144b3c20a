//! svinit: a supervisor-style PID 1 for container images.
//!
//! # Layout
//!
//! Data flows one way:
//!
//! ```text
//! config files --config--> model::Config --> supervisor (event loop, one task)
//!      SIGCHLD --process::reap--> events --> state machine --> actions --> process::spawn/signal
//!      program output --logs (relay tasks, rings, one console writer thread)
//!      supervisor status --control (socket server)--> svctl --ctl--> tables / JSON
//!      inspect (read-only /proc) <-- svctl ps/inspect/net, with program names from the socket
//! ```
//!
//! - [`config`]: files, includes and directories to a validated [`model::Config`],
//!   or every error with file:line:column. Knows nothing of processes.
//! - [`model`]: immutable validated types shared by every room.
//! - [`users`]: /etc/passwd and /etc/group lookups without NSS (static binary).
//! - [`supervisor`]: the one task that owns all program state; per-program state
//!   machine (`step(event, now) -> actions`), start/stop order, reload diff.
//! - [`process`]: the only room with fork/exec, waitpid and kill; PID 1 chores.
//! - [`logs`]: line splitting and prefixing, per-program rings, console writer,
//!   rotating files.
//! - [`control`]: the protocol shared by both sides, and the socket server.
//! - [`ctl`]: svctl commands and rendering.
//! - [`inspect`]: read-only `/proc` snapshot, tree, sockets, one-pid detail.
//! - [`probe`]: readiness and health probes as tasks reporting to the supervisor.
//! - [`daemon`]: start-up from a loaded configuration to a running supervisor.
//! - [`single`]: `svinit -- CMD`, the tini-style single-program mode.
//! - [`import`]: `svinit import supervisord.conf`.

pub mod config;
pub mod control;
pub mod ctl;
pub mod daemon;
pub mod import;
pub mod inspect;
pub mod logs;
pub mod model;
pub mod probe;
pub mod process;
pub mod single;
pub mod supervisor;
pub mod users;
