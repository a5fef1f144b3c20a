//! Answers to control calls, inside the supervisor task.

use std::time::Instant;

use super::state::{Event, Program, State};
use super::{reload, Supervisor, Waiter};
use crate::control::protocol::{ActionResult, ProgramStatus, Request, Response};
use crate::control::ControlCall;
use crate::model::{parse_signal, signal_name};
use crate::process::{self, ExitHow};

impl Supervisor {
    /// Handle one request from the socket server.
    pub(super) fn on_call(&mut self, call: ControlCall) {
        let now = Instant::now();
        let ControlCall { request, reply } = call;
        let response = match request {
            Request::Status { names } => match self.resolve(&names, true) {
                Ok(found) => Response::Status {
                    programs: found
                        .iter()
                        .map(|&i| status_of(&self.programs[i], now))
                        .collect(),
                },
                Err(err) => err,
            },
            Request::Start { names, wait } => {
                return self.change(&names, true, false, wait, reply, now)
            }
            Request::Stop { names, wait } => {
                return self.change(&names, false, false, wait, reply, now)
            }
            Request::Restart { names, wait } => {
                return self.change(&names, true, true, wait, reply, now)
            }
            Request::Signal { signal, names } => self.signal(&signal, &names),
            Request::Pid { name: None } => Response::Pid {
                pid: Some(std::process::id() as i32),
            },
            Request::Pid { name: Some(name) } => {
                match self.resolve(std::slice::from_ref(&name), false) {
                    Ok(found) => Response::Pid {
                        pid: found.first().and_then(|&i| self.programs[i].state.pid()),
                    },
                    Err(err) => err,
                }
            }
            Request::Reload => self.reload(now),
            Request::Shutdown => {
                tracing::info!("shutdown requested over the control socket");
                self.begin_shutdown(0, now);
                Response::Ok
            }
            Request::Owners => Response::Owners {
                owners: self
                    .programs
                    .iter()
                    .filter_map(|p| Some((p.state.pid()?.to_string(), p.spec.name.clone())))
                    .collect(),
                pid_namespace: crate::inspect::pid_namespace(std::path::Path::new("/proc"), "self"),
            },
            Request::Logs { .. } => Response::error("logs are served by the socket server"),
        };
        let _ = reply.send(response);
    }

    /// Instance indices for names: `all`, an instance, or a program's instances.
    fn resolve(&self, names: &[String], empty_means_all: bool) -> Result<Vec<usize>, Response> {
        if (names.is_empty() && empty_means_all) || names.iter().any(|n| n == "all") {
            return Ok((0..self.programs.len()).collect());
        }
        let mut found = Vec::new();
        for name in names {
            let matching: Vec<usize> = match self.index.get(name) {
                Some(&idx) => vec![idx],
                None => (0..self.programs.len())
                    .filter(|&i| self.programs[i].spec.program == *name)
                    .collect(),
            };
            if matching.is_empty() {
                return Err(Response::Error {
                    message: format!("no such program: {name}"),
                    known: self.programs.iter().map(|p| p.spec.name.clone()).collect(),
                });
            }
            for idx in matching {
                if !found.contains(&idx) {
                    found.push(idx);
                }
            }
        }
        Ok(found)
    }

    /// start / stop / restart, answering now or once the target is reached.
    fn change(
        &mut self,
        names: &[String],
        up: bool,
        restart: bool,
        wait: bool,
        reply: tokio::sync::oneshot::Sender<Response>,
        now: Instant,
    ) {
        let found = match self.resolve(names, false) {
            Ok(found) => found,
            Err(err) => {
                let _ = reply.send(err);
                return;
            }
        };
        if self.shutdown.is_some() {
            let _ = reply.send(Response::error("svinit is shutting down"));
            return;
        }
        let names: Vec<String> = found
            .iter()
            .map(|&i| self.programs[i].spec.name.clone())
            .collect();
        for &idx in &found {
            if restart || !up {
                self.apply(idx, Event::Stop, now);
            }
            if up {
                self.programs[idx].wanted = true;
                if self.unmet_dependency(idx).is_none() || !self.programs[idx].state.is_down() {
                    self.apply(idx, Event::Start, now);
                }
            }
        }
        let waiter = Waiter {
            names,
            want_up: up,
            reply,
        };
        if wait {
            self.waiters.push(waiter);
        } else {
            let results = waiter
                .names
                .iter()
                .map(|n| self.result_for(n, up, false))
                .collect();
            let _ = waiter.reply.send(Response::Done { results });
        }
    }

    /// Answer every waiter whose programs have all reached (or failed) their target.
    pub(super) fn answer_waiters(&mut self) {
        if self.waiters.is_empty() {
            return;
        }
        let waiters = std::mem::take(&mut self.waiters);
        for waiter in waiters {
            if waiter.reply.is_closed() {
                continue;
            }
            let settled = waiter
                .names
                .iter()
                .all(|name| self.settled(name, waiter.want_up));
            if settled || self.shutdown.is_some() {
                let results = waiter
                    .names
                    .iter()
                    .map(|n| self.result_for(n, waiter.want_up, true))
                    .collect();
                let _ = waiter.reply.send(Response::Done { results });
            } else {
                self.waiters.push(waiter);
            }
        }
    }

    /// Whether a program has reached its target or can no longer reach it.
    fn settled(&self, name: &str, want_up: bool) -> bool {
        let Some(&idx) = self.index.get(name) else {
            return true;
        };
        let program = &self.programs[idx];
        if want_up {
            !program.wanted
                || matches!(
                    program.state,
                    State::Running { .. } | State::Completed | State::Fatal | State::Exited { .. }
                )
        } else {
            program.state.is_down()
        }
    }

    fn result_for(&self, name: &str, want_up: bool, waited: bool) -> ActionResult {
        let Some(&idx) = self.index.get(name) else {
            return ActionResult {
                name: name.to_string(),
                ok: false,
                state: "removed".into(),
                message: "removed from the configuration".into(),
            };
        };
        let program = &self.programs[idx];
        let ok = if !waited {
            true
        } else if want_up {
            matches!(program.state, State::Running { .. } | State::Completed)
        } else {
            program.state.is_down()
        };
        ActionResult {
            name: name.to_string(),
            ok,
            state: program.state.name().to_string(),
            message: program.description.clone(),
        }
    }

    fn signal(&mut self, signal: &str, names: &[String]) -> Response {
        let Some(sig) = parse_signal(signal) else {
            return Response::error(format!("unknown signal: {signal}"));
        };
        let found = match self.resolve(names, false) {
            Ok(found) => found,
            Err(err) => return err,
        };
        let results = found
            .iter()
            .map(|&idx| {
                let program = &self.programs[idx];
                let name = program.spec.name.clone();
                let state = program.state.name().to_string();
                match program.state.pid() {
                    None => ActionResult {
                        name,
                        ok: false,
                        state,
                        message: "not running".into(),
                    },
                    Some(pid) => match process::send_signal(pid, sig, program.spec.stop_group) {
                        Ok(()) => ActionResult {
                            name,
                            ok: true,
                            state,
                            message: format!("sent {}", signal_name(sig)),
                        },
                        Err(err) => ActionResult {
                            name,
                            ok: false,
                            state,
                            message: format!("cannot send {}: {err}", signal_name(sig)),
                        },
                    },
                }
            })
            .collect();
        Response::Done { results }
    }

    /// Re-read the configuration and apply the difference.
    pub(super) fn reload(&mut self, now: Instant) -> Response {
        let config = match crate::config::load(&self.config_path) {
            Ok(config) => config,
            Err(errors) => {
                tracing::error!("reload refused, nothing changed:\n{errors}");
                return Response::error(format!(
                    "invalid configuration, nothing changed:\n{errors}"
                ));
            }
        };
        let old: Vec<_> = self.programs.iter().map(|p| p.spec.clone()).collect();
        let diff = reload::diff(&old, &config.programs);
        if config.supervisor.socket != self.settings.socket {
            tracing::warn!("a new control socket path takes effect at the next start of svinit");
        }
        self.settings = config.supervisor;

        let mut previous: Vec<Program> = std::mem::take(&mut self.programs);
        let mut programs = Vec::new();
        for spec in config.programs {
            let name = spec.name.clone();
            match previous.iter().position(|p| p.spec.name == name) {
                Some(pos) => {
                    let mut program = previous.swap_remove(pos);
                    program.spec = spec;
                    programs.push(program);
                }
                None => {
                    self.logs.register(&name);
                    programs.push(Program::new(spec));
                }
            }
        }
        // Removed programs stay listed until they are down.
        for mut program in previous {
            program.wanted = false;
            if !self.removing.contains(&program.spec.name) {
                self.removing.push(program.spec.name.clone());
            }
            programs.push(program);
        }
        self.programs = programs;
        self.reindex();
        for name in &diff.removed {
            if let Some(&idx) = self.index.get(name) {
                self.apply(idx, Event::Stop, now);
            }
        }
        for name in &diff.changed {
            let Some(&idx) = self.index.get(name) else {
                continue;
            };
            // Restart what was meant to be up; leave a user's stop alone.
            let was_wanted = self.programs[idx].wanted;
            self.apply(idx, Event::Stop, now);
            if was_wanted {
                self.apply(idx, Event::Start, now);
            }
        }
        tracing::info!(
            "reloaded: added {:?}, changed {:?}, removed {:?}",
            diff.added,
            diff.changed,
            diff.removed
        );
        self.drop_removed();
        Response::Reloaded {
            added: diff.added,
            changed: diff.changed,
            removed: diff.removed,
        }
    }
}

/// The status object of one program.
fn status_of(program: &Program, now: Instant) -> ProgramStatus {
    let (exit_code, signal) = match program.last_exit {
        Some(ExitHow::Code(code)) => (Some(code), None),
        Some(ExitHow::Signal(sig)) => (None, Some(signal_name(sig).to_string())),
        None => (None, None),
    };
    ProgramStatus {
        name: program.spec.name.clone(),
        program: program.spec.program.clone(),
        instance: program.spec.instance,
        state: program.state.name().to_string(),
        pid: program.state.pid(),
        uptime_secs: program
            .state
            .since()
            .map_or(0, |since| now.saturating_duration_since(since).as_secs()),
        restarts: program.restarts,
        exit_code,
        signal,
        // While a process runs, its own sd_notify STATUS= says most.
        description: match (&program.notify_status, program.state.pid()) {
            (Some(status), Some(_)) => status.clone(),
            _ => program.description.clone(),
        },
        healthy: program.healthy(),
    }
}
