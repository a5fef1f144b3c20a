//! `svctl`: command line, socket discovery, one runner per command.
//!
//! Blocking I/O and no async runtime: `svctl status` is a health check that
//! runs often, so the whole process must take milliseconds.

pub mod client;
pub mod inspect_cmd;
pub mod render;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::control::protocol::{Request, Response};
use crate::inspect::Owners;
use client::{Client, CtlError};
use inspect_cmd::{InspectArgs, NetArgs, PsArgs};

/// svctl exit codes (API: scripts and health checks depend on them).
pub mod exit {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// An error; the message is on stderr.
    pub const ERROR: i32 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: i32 = 2;
    /// `status`: some program is not in its wanted state.
    pub const UNHEALTHY: i32 = 3;
    /// No supervisor answers on the socket.
    pub const UNREACHABLE: i32 = 4;
}

/// How long a quick request (status, pid, signal, …) may take before svctl
/// gives up with exit code 4.
const QUICK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long ps/inspect/net wait for program names; they work without them.
const OWNERS_TIMEOUT: Duration = Duration::from_millis(300);

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (the message is on stderr)
  2  usage error
  3  status: a program is not in its wanted state
  4  no supervisor answers on the socket

The socket is --socket, else $SVINIT_SOCKET, else the config's [supervisor] socket, else /run/svinit.sock.";

/// Control svinit, and inspect the container's processes.
#[derive(Parser, Debug)]
#[command(name = "svctl", version, after_help = EXIT_CODES)]
struct Cli {
    /// Control socket of svinit.
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The svctl subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Show programs: name, state, pid, uptime, restarts, description (exit 3 if any is not as wanted).
    Status {
        /// Programs, `group:instance`s or groups (all when none).
        names: Vec<String>,
    },
    /// Start programs and wait until they run (or fail).
    Start(Change),
    /// Stop programs and wait until they are stopped.
    Stop(Change),
    /// Stop then start programs.
    Restart(Change),
    /// Send a signal to programs.
    Signal {
        /// Signal: TERM, SIGTERM, or a number.
        #[arg(value_parser = signal_arg)]
        signal: String,
        /// Programs, or `all`.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Show a program's recent output.
    Logs {
        /// Keep printing new output until interrupted.
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines.
        #[arg(short = 'n', long, value_name = "N")]
        lines: Option<usize>,
        /// Program instance name.
        name: String,
    },
    /// Print the supervisor's pid, or a program's.
    Pid {
        /// Program instance name.
        name: Option<String>,
    },
    /// Re-read the configuration and apply the difference.
    Reload,
    /// Stop everything; svinit then exits.
    Shutdown,
    /// List every process in the container.
    Ps(PsArgs),
    /// Show one process in depth.
    Inspect(InspectArgs),
    /// List sockets and their processes.
    Net(NetArgs),
}

/// Arguments of start/stop/restart.
#[derive(Args, Debug)]
struct Change {
    /// Programs, `group:instance`s, groups, or `all`.
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
    /// Return once the request is accepted, without waiting.
    #[arg(long)]
    no_wait: bool,
}

/// Validate a signal on the command line (so a typo is a usage error) and
/// send its canonical name.
fn signal_arg(text: &str) -> Result<String, String> {
    crate::model::parse_signal(text)
        .map(|signal| crate::model::signal_name(signal).to_owned())
        .ok_or_else(|| format!("unknown signal {text:?} (e.g. TERM, HUP, USR1, 9)"))
}

/// Run svctl with these arguments (the first is the program name) and
/// return its exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version come through here too, with code 0.
            let _ = err.print();
            return err.exit_code();
        }
    };
    let ctx = Ctx {
        socket: socket_path(cli.socket),
        json: cli.json,
    };
    ctx.run(cli.command).unwrap_or_else(|Failed(code)| code)
}

/// The socket to use: `--socket`, `$SVINIT_SOCKET`, the config, the default.
fn socket_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os("SVINIT_SOCKET")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    })
    .or_else(socket_from_config)
    .unwrap_or_else(|| crate::model::SupervisorSpec::default().socket)
}

/// The `[supervisor] socket` of the configuration, if one can be read.
fn socket_from_config() -> Option<PathBuf> {
    let path = crate::config::default_path();
    if !path.exists() {
        return None;
    }
    // An invalid configuration still leaves the default socket to try.
    crate::config::load(&path)
        .ok()
        .map(|config| config.supervisor.socket)
}

/// A command failed; the message has been printed, this is the exit code.
struct Failed(i32);

impl From<CtlError> for Failed {
    fn from(err: CtlError) -> Failed {
        emit_err(&format!("svctl: {err}\n"));
        Failed(err.exit_code())
    }
}

/// What every command needs.
struct Ctx {
    /// The control socket.
    socket: PathBuf,
    /// `--json` was given.
    json: bool,
}

impl Ctx {
    /// Dispatch one command.
    fn run(&self, command: Command) -> Result<i32, Failed> {
        match command {
            Command::Status { names } => self.status(names),
            Command::Start(change) => {
                self.change(change, |names, wait| Request::Start { names, wait })
            }
            Command::Stop(change) => {
                self.change(change, |names, wait| Request::Stop { names, wait })
            }
            Command::Restart(change) => {
                self.change(change, |names, wait| Request::Restart { names, wait })
            }
            Command::Signal { signal, names } => {
                self.results(Request::Signal { signal, names }, Some(QUICK_TIMEOUT))
            }
            Command::Logs {
                follow,
                lines,
                name,
            } => self.logs(name, lines, follow),
            Command::Pid { name } => self.pid(name),
            Command::Reload => self.reload(),
            Command::Shutdown => self.shutdown(),
            Command::Ps(args) => Ok(inspect_cmd::run_ps(&args, self.json, &self.owners())),
            Command::Inspect(args) => {
                Ok(inspect_cmd::run_inspect(&args, self.json, &self.owners()))
            }
            Command::Net(args) => Ok(inspect_cmd::run_net(&args, self.json, &self.owners())),
        }
    }

    /// Send one request and return its answer; error answers are printed
    /// and become exit code 1.
    fn call(&self, request: Request, timeout: Option<Duration>) -> Result<Response, Failed> {
        checked(client::request(&self.socket, request, timeout)?)
    }

    /// `status`: table or JSON, exit 3 when a program is not as wanted.
    fn status(&self, names: Vec<String>) -> Result<i32, Failed> {
        let Response::Status { programs } =
            self.call(Request::Status { names }, Some(QUICK_TIMEOUT))?
        else {
            return Err(unexpected());
        };
        self.print(&programs, || render::status_table(&programs));
        Ok(if programs.iter().all(|p| p.healthy) {
            exit::SUCCESS
        } else {
            exit::UNHEALTHY
        })
    }

    /// start/stop/restart: wait (unless `--no-wait`) and print the results.
    fn change(
        &self,
        change: Change,
        request: fn(Vec<String>, bool) -> Request,
    ) -> Result<i32, Failed> {
        let wait = !change.no_wait;
        // Reaching a state can take start_secs plus a readiness probe, so a
        // waiting request has no deadline; Ctrl-C ends it.
        let timeout = if wait { None } else { Some(QUICK_TIMEOUT) };
        self.results(request(change.names, wait), timeout)
    }

    /// Print per-instance results; exit 1 if any failed.
    fn results(&self, request: Request, timeout: Option<Duration>) -> Result<i32, Failed> {
        let Response::Done { results } = self.call(request, timeout)? else {
            return Err(unexpected());
        };
        self.print(&results, || render::action_results(&results));
        Ok(if results.iter().all(|r| r.ok) {
            exit::SUCCESS
        } else {
            exit::ERROR
        })
    }

    /// `pid`: the number (exit 1 when the program has no process).
    fn pid(&self, name: Option<String>) -> Result<i32, Failed> {
        let Response::Pid { pid } =
            self.call(Request::Pid { name: name.clone() }, Some(QUICK_TIMEOUT))?
        else {
            return Err(unexpected());
        };
        self.print(&pid, || {
            pid.map(|pid| format!("{pid}\n")).unwrap_or_default()
        });
        match pid {
            Some(_) => Ok(exit::SUCCESS),
            None => {
                let name = name.unwrap_or_else(|| "svinit".to_owned());
                emit_err(&format!("svctl: {name} has no process\n"));
                Ok(exit::ERROR)
            }
        }
    }

    /// `reload`: what was added, changed, removed (or the config error).
    fn reload(&self) -> Result<i32, Failed> {
        // Reading the config and stopping removed programs may take a while.
        let Response::Reloaded {
            added,
            changed,
            removed,
        } = self.call(Request::Reload, None)?
        else {
            return Err(unexpected());
        };
        let json = serde_json::json!({ "added": added, "changed": changed, "removed": removed });
        self.print(&json, || render::reload_summary(&added, &changed, &removed));
        Ok(exit::SUCCESS)
    }

    /// `shutdown`: accepted; svinit then stops everything and exits.
    fn shutdown(&self) -> Result<i32, Failed> {
        let Response::Ok = self.call(Request::Shutdown, Some(QUICK_TIMEOUT))? else {
            return Err(unexpected());
        };
        let json = serde_json::json!({ "ok": true });
        self.print(&json, || "svinit is shutting down\n".to_owned());
        Ok(exit::SUCCESS)
    }

    /// `logs`: copy output chunks to stdout until `end` (or, with `-f`,
    /// until interrupted or stdout closes).
    fn logs(&self, name: String, lines: Option<usize>, follow: bool) -> Result<i32, Failed> {
        let timeout = if follow { None } else { Some(QUICK_TIMEOUT) };
        let mut client = Client::connect(&self.socket, timeout)?;
        client.send(Request::Logs {
            name,
            lines,
            follow,
        })?;
        let mut stdout = std::io::stdout().lock();
        loop {
            match checked(client.receive()?)? {
                Response::Log { data } => {
                    if stdout
                        .write_all(data.as_bytes())
                        .and_then(|()| stdout.flush())
                        .is_err()
                    {
                        // The reader went away (`svctl logs -f x | head`): done.
                        return Ok(exit::SUCCESS);
                    }
                }
                Response::End => return Ok(exit::SUCCESS),
                _ => return Err(unexpected()),
            }
        }
    }

    /// Pid → program names for the inspector, if a supervisor answers quickly.
    fn owners(&self) -> Owners {
        match client::request(&self.socket, Request::Owners, Some(OWNERS_TIMEOUT)) {
            Ok(Response::Owners {
                owners,
                pid_namespace,
            }) => {
                let owners: Owners = owners
                    .into_iter()
                    .filter_map(|(pid, name)| Some((pid.parse().ok()?, name)))
                    .collect();
                let proc_root = std::path::Path::new("/proc");
                match pid_namespace {
                    // svctl runs outside the container's pid namespace.
                    Some(theirs)
                        if crate::inspect::pid_namespace(proc_root, "self") != Some(theirs) =>
                    {
                        crate::inspect::translate_owners(proc_root, theirs, &owners)
                    }
                    _ => owners,
                }
            }
            _ => Owners::new(),
        }
    }

    /// Print `value` as JSON with `--json`, else the text `render` makes.
    fn print<T: Serialize>(&self, value: &T, render: impl FnOnce() -> String) {
        let text = if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(json) => json + "\n",
                Err(err) => format!("{{\"error\": \"{err}\"}}\n"),
            }
        } else {
            render()
        };
        emit(&text);
    }
}

/// Turn an error answer into a printed message and exit code 1.
fn checked(response: Response) -> Result<Response, Failed> {
    match response {
        Response::Error { message, known } => {
            emit_err(&render::error(&message, &known));
            Err(Failed(exit::ERROR))
        }
        other => Ok(other),
    }
}

/// An answer of the wrong kind (a mismatched svinit version).
fn unexpected() -> Failed {
    emit_err("svctl: unexpected answer from svinit (version mismatch?)\n");
    Failed(exit::ERROR)
}

/// Write to stdout; a closed stdout (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Write to stderr, ignoring failure (there is nowhere else to report it).
fn emit_err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
