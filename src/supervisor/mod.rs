//! The supervisor: the one task that owns all program state.
//!
//! Events come from four places — child exits (SIGCHLD, read from a signalfd,
//! means "reap"), other signals, control
//! calls from the socket server, and per-program deadlines — and are fed to
//! the per-program state machine ([`state::Program::step`]); the actions it
//! returns are performed here through the [`crate::process`] room.
//!
//! Spawning and reaping happen in this one task, so a pid is always recorded
//! before its exit can be seen (and std's own wait after a failed exec never
//! races our `waitpid(-1)`).

mod control;
pub mod reload;
pub mod state;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nix::sys::signal::Signal;
use signal_hook_tokio::Signals;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::control::{ControlCall, SupervisorHandle};
use crate::logs::{LogHub, StreamKind};
use crate::model::{signal_name, Config, ProbeCheck, SignalName, SupervisorSpec};
use crate::probe::{self, ExecWaits, ProbeKind, Report, Target};
use crate::process::{self, pid1, reap::ChildExits, spawn::SpawnExtras, ExitHow};
use state::{Action, Event, Program, State};

/// Part of `shutdown_timeout` kept for the final sweep and draining output.
const SWEEP_RESERVE: Duration = Duration::from_millis(500);
/// Grace between SIGTERM and SIGKILL for leftovers in the final sweep.
const SWEEP_GRACE: Duration = Duration::from_millis(300);

/// Signals svinit handles through signal-hook (SIGCHLD comes from a
/// signalfd instead; everything else keeps its default, so fault signals
/// stay fatal to svinit itself).
pub const HANDLED_SIGNALS: &[i32] = &[
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGALRM,
    libc::SIGPWR,
    libc::SIGURG,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGPIPE,
];

/// A client waiting for programs to reach a target state.
struct Waiter {
    /// Instance names waited on.
    names: Vec<String>,
    /// Up (running/completed) or down.
    want_up: bool,
    /// Where the answer goes.
    reply: oneshot::Sender<crate::control::protocol::Response>,
}

/// An orderly shutdown in progress.
struct Shutdown {
    /// The exit code svinit will return.
    exit_code: i32,
    /// When every program still alive gets SIGKILL.
    kill_at: Instant,
    /// The hard end of the whole shutdown.
    hard_deadline: Instant,
    /// Whether the SIGKILL round has been sent.
    killed: bool,
}

/// All program state, owned by the one supervisor task.
pub struct Supervisor {
    /// Where the configuration is re-read from on reload.
    config_path: PathBuf,
    /// `[supervisor]` settings in force.
    settings: SupervisorSpec,
    /// Programs in start order.
    programs: Vec<Program>,
    /// Name → index into `programs`, rebuilt whenever the list changes.
    index: HashMap<String, usize>,
    /// Live main pids → program name.
    pids: HashMap<i32, String>,
    /// Programs removed by a reload, kept until they are down.
    removing: Vec<String>,
    /// Output of programs.
    logs: LogHub,
    /// Output relay tasks, drained at exit.
    relays: Vec<JoinHandle<()>>,
    /// Clients waiting on start/stop/restart.
    waiters: Vec<Waiter>,
    /// Set once shutdown begins.
    shutdown: Option<Shutdown>,
    /// Probe verdicts and sd_notify messages come back here.
    reports: mpsc::UnboundedSender<Report>,
    /// Receiving end of `reports`.
    report_inbox: Option<mpsc::UnboundedReceiver<Report>>,
    /// Exec-probe processes, whose exits the reaper hands over.
    exec_waits: ExecWaits,
    /// Readiness probe tasks, per program, aborted when the process ends.
    probes: HashMap<String, JoinHandle<()>>,
    /// Health check tasks of running programs.
    health: HashMap<String, JoinHandle<()>>,
    /// sd_notify socket listeners, per program, kept across restarts.
    notify: HashMap<String, JoinHandle<()>>,
    /// svinit's own user name and home (HOME/USER/LOGNAME of programs without `user`).
    own_identity: Option<(String, PathBuf)>,
    /// Read ends of `fd` readiness pipes, between spawn and probe start.
    ready_pipes: HashMap<String, std::os::fd::OwnedFd>,
}

impl Supervisor {
    /// A supervisor for `config`, read from `config_path`.
    pub fn new(config: Config, config_path: PathBuf, logs: LogHub) -> Supervisor {
        let (reports, report_inbox) = mpsc::unbounded_channel();
        let mut supervisor = Supervisor {
            config_path,
            settings: config.supervisor,
            programs: config.programs.into_iter().map(Program::new).collect(),
            index: HashMap::new(),
            pids: HashMap::new(),
            removing: Vec::new(),
            logs,
            relays: Vec::new(),
            waiters: Vec::new(),
            shutdown: None,
            reports,
            report_inbox: Some(report_inbox),
            exec_waits: ExecWaits::default(),
            probes: HashMap::new(),
            health: HashMap::new(),
            notify: HashMap::new(),
            ready_pipes: HashMap::new(),
            own_identity: crate::users::lookup_user(
                std::path::Path::new("/etc"),
                &nix::unistd::getuid().to_string(),
            )
            .ok()
            .map(|entry| (entry.name, entry.home)),
        };
        supervisor.reindex();
        for program in &supervisor.programs {
            supervisor.logs.register(&program.spec.name);
        }
        supervisor
    }

    fn reindex(&mut self) {
        self.index = self
            .programs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.spec.name.clone(), i))
            .collect();
    }

    /// Run until shutdown completes; returns svinit's exit code.
    ///
    /// `signals` and `child_exits` must already be set up (before any child
    /// was spawned), and `calls` is fed by the control socket server.
    pub async fn run(
        mut self,
        mut signals: Signals,
        child_exits: ChildExits,
        mut calls: mpsc::Receiver<ControlCall>,
        keep_open: SupervisorHandle,
    ) -> i32 {
        let mut report_inbox = match self.report_inbox.take() {
            Some(inbox) => inbox,
            None => mpsc::unbounded_channel().1,
        };
        // Children that ended before we listened.
        self.reap(Instant::now());
        loop {
            let now = Instant::now();
            self.schedule(now);
            self.answer_waiters();
            if let Some(shutdown) = &self.shutdown {
                if self.programs.iter().all(|p| p.state.is_down()) || now >= shutdown.hard_deadline
                {
                    break;
                }
            }
            let deadline = self.next_deadline();
            tokio::select! {
                () = child_exits.changed() => self.reap(Instant::now()),
                signal = signals.next() => {
                    if let Some(signal) = signal {
                        self.on_signal(signal);
                    }
                }
                Some(call) = calls.recv() => self.on_call(call),
                Some(report) = report_inbox.recv() => self.on_report(report),
                _ = sleep_until(deadline) => self.on_deadlines(Instant::now()),
            }
        }
        drop(keep_open);
        self.finish(&child_exits).await
    }

    /// The earliest moment something is due.
    fn next_deadline(&self) -> Option<Instant> {
        let programs = self.programs.iter().filter_map(Program::deadline);
        let shutdown = self
            .shutdown
            .iter()
            .flat_map(|s| [(!s.killed).then_some(s.kill_at), Some(s.hard_deadline)])
            .flatten();
        programs.chain(shutdown).min()
    }

    fn on_signal(&mut self, signal: i32) {
        let now = Instant::now();
        match signal {
            libc::SIGTERM | libc::SIGINT | libc::SIGQUIT => {
                let name = signal_name_of(signal);
                if self.shutdown.is_some() && signal != libc::SIGQUIT {
                    tracing::warn!("second {name}: killing everything now");
                    self.kill_everything(now);
                } else {
                    tracing::info!("received {name}: shutting down");
                    self.begin_shutdown(0, now);
                }
            }
            libc::SIGHUP => {
                tracing::info!("received HUP: reloading the configuration");
                let _ = self.reload(now);
            }
            libc::SIGUSR1 => {
                tracing::info!("received USR1: reopening log files");
                self.logs.reopen_files();
            }
            other => self.forward(other),
        }
    }

    /// Forward a signal to the programs named for it in `[supervisor] forward`.
    fn forward(&self, signal: i32) {
        let name = signal_name_of(signal);
        let Some(targets) = self.settings.forward.get(&SignalName(signal)) else {
            tracing::info!("received {name}: not forwarded (no `forward` entry), ignored");
            return;
        };
        let Ok(sig) = Signal::try_from(signal) else {
            return;
        };
        for program in self.programs.iter().filter(|p| {
            targets
                .iter()
                .any(|t| *t == p.spec.name || *t == p.spec.program)
        }) {
            if let Some(pid) = program.state.pid() {
                tracing::info!("forwarding {name} to {} (pid {pid})", program.spec.name);
                if let Err(err) = process::send_signal(pid, sig, program.spec.stop_group) {
                    tracing::warn!("cannot forward {name} to {}: {err}", program.spec.name);
                }
            }
        }
    }

    /// Reap every ended child and tell the owners.
    fn reap(&mut self, now: Instant) {
        for (pid, how) in process::reap_all() {
            match self.pids.remove(&pid) {
                Some(name) => {
                    if let Some(&idx) = self.index.get(&name) {
                        self.stop_probe(&name);
                        self.apply(idx, Event::Exit(how), now);
                    }
                }
                None => {
                    if !self.exec_waits.deliver(pid, how) {
                        tracing::debug!("reaped pid {pid} ({})", how.describe());
                    }
                }
            }
        }
    }

    fn on_deadlines(&mut self, now: Instant) {
        for idx in 0..self.programs.len() {
            if self.programs[idx].deadline().is_some_and(|at| at <= now) {
                self.apply(idx, Event::Deadline, now);
            }
        }
        if let Some(shutdown) = &self.shutdown {
            if !shutdown.killed && now >= shutdown.kill_at {
                tracing::warn!(
                    "shutdown_timeout ({:?}) nearly used up: killing what is left",
                    self.settings.shutdown_timeout
                );
                self.kill_everything(now);
            }
        }
    }

    fn on_report(&mut self, report: Report) {
        let now = Instant::now();
        match report {
            Report::Probe {
                program,
                pid,
                kind,
                result,
            } => {
                let Some(&idx) = self.index.get(&program) else {
                    return;
                };
                // A verdict about an earlier process is stale.
                if self.programs[idx].state.pid() != Some(pid) {
                    return;
                }
                let event = match (kind, result) {
                    (ProbeKind::Ready, Ok(())) => Event::Ready,
                    (ProbeKind::Ready, Err(reason)) => Event::NotReady(reason),
                    (ProbeKind::Health, Ok(())) => return,
                    (ProbeKind::Health, Err(reason)) => {
                        tracing::warn!("{program}: {reason}: restarting");
                        Event::Unhealthy(reason)
                    }
                };
                self.apply(idx, event, now);
            }
            Report::Notify {
                program,
                ready,
                status,
                stopping,
            } => {
                let Some(&idx) = self.index.get(&program) else {
                    return;
                };
                if let Some(status) = status {
                    tracing::debug!("{program}: STATUS={status}");
                    self.programs[idx].notify_status = Some(status);
                }
                if stopping {
                    tracing::info!("{program}: says it is stopping (STOPPING=1)");
                }
                if ready && matches!(self.programs[idx].state, State::Starting { .. }) {
                    self.stop_probe(&program);
                    self.apply(idx, Event::Ready, now);
                }
            }
        }
    }

    /// Feed one event to a program, log the transition, perform the actions.
    fn apply(&mut self, idx: usize, event: Event, now: Instant) {
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            let program = &mut self.programs[idx];
            let before = program.state.name();
            let actions = program.step(event, now);
            let after = program.state.name();
            if before != after {
                let name = &program.spec.name;
                let why = &program.description;
                match (&program.state, program.state.pid()) {
                    (State::Fatal, _) => tracing::error!("{name}: {before} -> {after}: {why}"),
                    (_, Some(pid)) => tracing::info!("{name}: {before} -> {after} (pid {pid})"),
                    (_, None) if why.is_empty() => tracing::info!("{name}: {before} -> {after}"),
                    (_, None) => tracing::info!("{name}: {before} -> {after}: {why}"),
                }
                self.check_critical(idx, now);
                if after == "running" {
                    self.start_health(idx);
                } else if before == "running" {
                    let name = self.programs[idx].spec.name.clone();
                    if let Some(task) = self.health.remove(&name) {
                        task.abort();
                    }
                }
            }
            for action in actions {
                if let Some(next) = self.perform(idx, action) {
                    queue.push_back(next);
                }
            }
        }
    }

    /// Carry out one action; a spawn reports its outcome as the next event.
    fn perform(&mut self, idx: usize, action: Action) -> Option<Event> {
        let program = &self.programs[idx];
        let name = program.spec.name.clone();
        let group = program.spec.stop_group;
        match action {
            Action::Spawn => {
                if self.shutdown.is_some() {
                    return Some(Event::SpawnFailed("shutting down".into()));
                }
                let extras = match self.spawn_extras(idx) {
                    Ok(extras) => extras,
                    Err(reason) => {
                        tracing::error!("{name}: {reason}");
                        return Some(Event::SpawnFailed(reason));
                    }
                };
                let program = &self.programs[idx];
                match process::spawn(&program.spec, &extras) {
                    Ok(spawned) => {
                        self.relays.retain(|relay| !relay.is_finished());
                        let spec = &self.programs[idx].spec;
                        if let Some(pipe) = spawned.stdout {
                            let relay =
                                self.logs
                                    .attach(&name, StreamKind::Stdout, pipe, &spec.stdout);
                            self.relays.push(relay);
                        }
                        if let Some(pipe) = spawned.stderr {
                            let relay =
                                self.logs
                                    .attach(&name, StreamKind::Stderr, pipe, &spec.stderr);
                            self.relays.push(relay);
                        }
                        self.pids.insert(spawned.pid, name);
                        Some(Event::Spawned(spawned.pid))
                    }
                    Err(err) => {
                        tracing::error!("{name}: spawn failed: {err}");
                        Some(Event::SpawnFailed(err.to_string()))
                    }
                }
            }
            Action::SendStop(signal) => {
                if let Some(pid) = program.state.pid() {
                    self.stop_probe(&name);
                    for sig in [signal, Signal::SIGCONT] {
                        if let Err(err) = process::send_signal(pid, sig, group) {
                            tracing::warn!("{name}: cannot send {}: {err}", signal_name(sig));
                        }
                    }
                }
                None
            }
            Action::Kill => {
                if let Some(pid) = program.state.pid() {
                    tracing::warn!("{name}: still alive after stop_timeout, sending KILL");
                    if let Err(err) = process::send_signal(pid, Signal::SIGKILL, group) {
                        tracing::warn!("{name}: cannot send KILL: {err}");
                    }
                }
                None
            }
            Action::StartProbe => {
                if let (Some(pid), Some(ready)) = (program.state.pid(), program.spec.ready.clone())
                {
                    let target = self.probe_target(idx, pid);
                    let pipe = self.ready_pipes.remove(&name);
                    let task = probe::spawn_readiness(target, ready, pipe);
                    if let Some(old) = self.probes.insert(name, task) {
                        old.abort();
                    }
                }
                None
            }
        }
    }

    /// What a probe task needs to watch program `idx` (process `pid`).
    fn probe_target(&self, idx: usize, pid: i32) -> Target {
        Target {
            spec: self.programs[idx].spec.clone(),
            pid,
            reports: self.reports.clone(),
            exec_waits: self.exec_waits.clone(),
        }
    }

    /// Start the health check of a program that just became running.
    fn start_health(&mut self, idx: usize) {
        let program = &self.programs[idx];
        let (Some(pid), Some(health)) = (program.state.pid(), program.spec.health.clone()) else {
            return;
        };
        let name = program.spec.name.clone();
        let task = probe::spawn_health(self.probe_target(idx, pid), health);
        if let Some(old) = self.health.insert(name, task) {
            old.abort();
        }
    }

    /// The notify socket or readiness pipe a program's spawn needs.
    fn spawn_extras(&mut self, idx: usize) -> Result<SpawnExtras, String> {
        let spec = &self.programs[idx].spec;
        let name = spec.name.clone();
        let mut extras = SpawnExtras {
            own_identity: self.own_identity.clone(),
            ..SpawnExtras::default()
        };
        match spec.ready.as_ref().map(|probe| &probe.check) {
            Some(ProbeCheck::Notify) => {
                let path = probe::notify_socket_path(&self.settings.socket, &name);
                if !self.notify.contains_key(&name) {
                    let task =
                        probe::spawn_notify_listener(path.clone(), spec, self.reports.clone())
                            .map_err(|err| {
                                format!("cannot create notify socket {}: {err}", path.display())
                            })?;
                    self.notify.insert(name.clone(), task);
                }
                extras
                    .env
                    .push(("NOTIFY_SOCKET".into(), path.to_string_lossy().into_owned()));
            }
            Some(ProbeCheck::Fd(fd)) => {
                let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .map_err(|err| format!("cannot create readiness pipe: {err}"))?;
                extras.ready_fd = Some((write, *fd));
                self.ready_pipes.insert(name, read);
            }
            _ => {}
        }
        Ok(extras)
    }

    fn stop_probe(&mut self, name: &str) {
        if let Some(task) = self.probes.remove(name) {
            task.abort();
        }
    }

    /// A critical program that failed for good ends the container.
    fn check_critical(&mut self, idx: usize, now: Instant) {
        let program = &self.programs[idx];
        if !program.spec.critical || self.shutdown.is_some() || !program.wanted {
            return;
        }
        let code = match program.state {
            State::Fatal => program.last_exit.map_or(1, |how| match how {
                ExitHow::Code(0) => 1,
                how => how.shell_code(),
            }),
            State::Exited { how } if !program.is_success(how) => how.shell_code(),
            _ => return,
        };
        tracing::error!(
            "critical program {} failed ({}): shutting down with exit code {code}",
            program.spec.name,
            program.description
        );
        self.begin_shutdown(code, now);
    }

    /// Start an orderly shutdown (idempotent).
    pub fn begin_shutdown(&mut self, exit_code: i32, now: Instant) {
        if self.shutdown.is_some() {
            return;
        }
        // Nothing is restarted from here on: a program that dies while it
        // waits for its dependents to stop stays down.
        for program in &mut self.programs {
            program.wanted = false;
        }
        let budget = self.settings.shutdown_timeout;
        self.shutdown = Some(Shutdown {
            exit_code,
            kill_at: now + budget.saturating_sub(SWEEP_RESERVE.min(budget / 2)),
            hard_deadline: now + budget,
            killed: false,
        });
    }

    /// SIGKILL every program's group now.
    fn kill_everything(&mut self, now: Instant) {
        self.begin_shutdown(0, now);
        if let Some(shutdown) = &mut self.shutdown {
            shutdown.killed = true;
        }
        for program in &self.programs {
            if let Some(pid) = program.state.pid() {
                let _ = process::send_signal(pid, Signal::SIGKILL, program.spec.stop_group);
            }
        }
        pid1::signal_leftovers(Signal::SIGKILL);
    }

    /// Start what is wanted and whose dependencies are satisfied; during a
    /// shutdown, stop what no longer has running dependents.
    fn schedule(&mut self, now: Instant) {
        if self.shutdown.is_some() {
            for idx in 0..self.programs.len() {
                let program = &self.programs[idx];
                if !program.state.is_down()
                    && !matches!(program.state, State::Stopping { .. })
                    && self.may_stop(idx)
                {
                    self.apply(idx, Event::Stop, now);
                }
            }
            return;
        }
        for idx in 0..self.programs.len() {
            let program = &self.programs[idx];
            if !program.wanted || program.state != State::Stopped {
                continue;
            }
            match self.unmet_dependency(idx) {
                None => {
                    let description = &mut self.programs[idx].description;
                    if description.starts_with("waiting for ")
                        || description.starts_with("blocked: ")
                    {
                        description.clear();
                    }
                    self.apply(idx, Event::Start, now)
                }
                Some(reason) => self.programs[idx].description = reason,
            }
        }
        self.drop_removed();
    }

    /// Why a program may not start yet, if it may not.
    fn unmet_dependency(&self, idx: usize) -> Option<String> {
        for dep in &self.programs[idx].spec.depends_on {
            let Some(&dep_idx) = self.index.get(dep) else {
                return Some(format!("blocked: dependency {dep} is not configured"));
            };
            let dependency = &self.programs[dep_idx];
            if dependency.satisfies_dependents() {
                continue;
            }
            return Some(match dependency.state {
                State::Fatal | State::Exited { .. } => {
                    format!("blocked: dependency {dep} is {}", dependency.state.name())
                }
                _ => format!("waiting for {dep}"),
            });
        }
        None
    }

    /// During shutdown: a program stops once every dependent and every
    /// program with a higher priority number is down.
    fn may_stop(&self, idx: usize) -> bool {
        let me = &self.programs[idx].spec;
        self.programs.iter().all(|other| {
            other.state.is_down()
                || other.spec.name == me.name
                || !(other.spec.depends_on.contains(&me.name) || other.spec.priority > me.priority)
        })
    }

    /// Forget programs removed by a reload once they are down.
    fn drop_removed(&mut self) {
        if self.removing.is_empty() {
            return;
        }
        let before = self.programs.len();
        let removing = std::mem::take(&mut self.removing);
        let (gone, still): (Vec<String>, Vec<String>) = removing.into_iter().partition(|name| {
            self.index
                .get(name)
                .is_none_or(|&idx| self.programs[idx].state.is_down())
        });
        self.removing = still;
        for name in &gone {
            self.logs.remove(name);
            self.stop_probe(name);
            if let Some(task) = self.notify.remove(name) {
                task.abort();
                let _ =
                    std::fs::remove_file(probe::notify_socket_path(&self.settings.socket, name));
            }
        }
        self.programs.retain(|p| !gone.contains(&p.spec.name));
        if self.programs.len() != before {
            self.reindex();
        }
    }

    /// Everything is down: sweep leftovers, drain output, return the exit code.
    async fn finish(mut self, child_exits: &ChildExits) -> i32 {
        let Some(shutdown) = self.shutdown.take() else {
            return 0;
        };
        let hard_deadline = shutdown.hard_deadline;
        let grace_end = (Instant::now() + SWEEP_GRACE).min(hard_deadline);
        if process::reap::has_children() {
            tracing::info!("stopping leftover processes");
            pid1::signal_leftovers(Signal::SIGTERM);
            pid1::signal_leftovers(Signal::SIGCONT);
            wait_children_gone(child_exits, grace_end).await;
            if process::reap::has_children() {
                pid1::signal_leftovers(Signal::SIGKILL);
                wait_children_gone(child_exits, hard_deadline.max(Instant::now() + SWEEP_GRACE))
                    .await;
            }
        }
        // Output pipes reach EOF once every writer is gone; drain them.
        let drain_until = hard_deadline.max(Instant::now() + Duration::from_millis(100));
        for relay in self.relays.drain(..) {
            let _ = tokio::time::timeout_at(drain_until.into(), relay).await;
        }
        self.logs.flush(Duration::from_millis(500));
        tracing::info!("shutdown complete, exit code {}", shutdown.exit_code);
        shutdown.exit_code
    }
}

/// Reap until no child is left or `until` passes.
async fn wait_children_gone(child_exits: &ChildExits, until: Instant) {
    loop {
        process::reap_all();
        if !process::reap::has_children() {
            return;
        }
        if tokio::time::timeout_at(until.into(), child_exits.changed())
            .await
            .is_err()
        {
            process::reap_all();
            return;
        }
    }
}

/// Sleep until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn signal_name_of(signal: i32) -> String {
    Signal::try_from(signal)
        .map(|s| signal_name(s).to_string())
        .unwrap_or_else(|_| signal.to_string())
}
