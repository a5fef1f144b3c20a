//! `svinit`: the supervisor (normally PID 1), and `svctl` when invoked by
//! that name (one file in the image serves both).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

/// A supervisor-style PID 1 for container images.
#[derive(Parser, Debug)]
#[command(name = "svinit", version, after_help = EXIT_CODES)]
struct Args {
    /// Configuration file or directory (default: $SVINIT_CONFIG, else /etc/svinit/svinit.toml).
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Validate the configuration, print the resolved programs, and exit 0 or 1.
    #[arg(long)]
    check: bool,
    /// Single-program mode: run CMD, forward signals, reap, exit with its code.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

const EXIT_CODES: &str = "Exit codes: 0 after an orderly shutdown; the critical program's code when one \
failed; 1 for an invalid configuration or a start-up error; 2 for bad usage. \
With -- CMD: the command's code, 128+N if killed by signal N, 127 if not found, 126 if not executable.";

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|arg0| Path::new(arg0).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if invoked_as == "svctl" {
        return exit_code(svinit::ctl::main_with_args(args));
    }
    // `svinit ctl ...` also reaches svctl, for images that keep one name only.
    if args.get(1).is_some_and(|arg| arg == "ctl") {
        args.remove(1);
        return exit_code(svinit::ctl::main_with_args(args));
    }
    // `svinit import supervisord.conf` prints the equivalent TOML.
    if args.get(1).is_some_and(|arg| arg == "import") {
        return exit_code(svinit::import::main_with_args(args.split_off(2)));
    }
    let args = Args::parse_from(args);
    if !args.command.is_empty() {
        svinit::daemon::init_tracing(svinit::model::LogFormat::Text);
        return exit_code(svinit::single::run(args.command));
    }
    let path = args.config.unwrap_or_else(svinit::config::default_path);
    let config = match svinit::config::load(&path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("svinit: invalid configuration:\n{errors}");
            return ExitCode::from(1);
        }
    };
    if args.check {
        print!("{}", svinit::config::describe(&config));
        println!("configuration OK: {} programs", config.programs.len());
        return ExitCode::SUCCESS;
    }
    svinit::daemon::init_tracing(config.supervisor.log_format);
    exit_code(svinit::daemon::run(config, path))
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
