//! The per-program state machine: one enum, one transition function.
//!
//! ```text
//!            start                 spawned            start_secs (+ ready)
//!  Stopped ---------> (spawn) ----------> Starting ------------------> Running
//!   ^  ^                 |  spawn failed    |  exit (failed start)       |  exit
//!   |  |                 v                  v                            v
//!   |  |              Backoff <------- attempts <= start_retries     restart policy?
//!   |  |                 |  until           |  attempts > retries      | yes: spawn at once
//!   |  |                 +--> (spawn)       v                          | no:  Exited / Completed
//!   |  |                                  Fatal
//!   |  +-- exit -- Stopping <-- stop (stop_signal) -- Starting/Running
//!   |               | stop_timeout: SIGKILL, stay Stopping
//!   +-- stop ------ Backoff
//! ```
//!
//! [`Program::step`] is pure: it takes an event and the current time and
//! returns the actions for the supervisor loop to perform. Spawning is an
//! action whose outcome comes back as `Spawned` or `SpawnFailed`.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::model::{signal_name, Kind, ProgramSpec, RestartPolicy};
pub use crate::process::ExitHow;

/// Longest delay between failed starts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where a program is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not running, not wanted (or not yet started).
    Stopped,
    /// Spawned; not yet up for start_secs (or not yet ready).
    Starting {
        /// Main pid.
        pid: i32,
        /// When it was spawned.
        since: Instant,
        /// The readiness probe has passed (always true without a probe).
        ready: bool,
    },
    /// Up and counted as started.
    Running {
        /// Main pid.
        pid: i32,
        /// When it was spawned.
        since: Instant,
    },
    /// Waiting to retry after a failed start.
    Backoff {
        /// When to spawn again.
        until: Instant,
    },
    /// Stop signal sent; waiting for the exit.
    Stopping {
        /// Main pid.
        pid: i32,
        /// When SIGKILL is due (None once it has been sent).
        kill_at: Option<Instant>,
        /// When the process was spawned (for uptime).
        since: Instant,
    },
    /// A service that ended and will not be restarted.
    Exited {
        /// How it ended.
        how: ExitHow,
    },
    /// Could not be started (retries exhausted).
    Fatal,
    /// A oneshot that succeeded.
    Completed,
}

impl State {
    /// The state's name as shown by `svctl status`.
    pub fn name(&self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Starting { .. } => "starting",
            State::Running { .. } => "running",
            State::Backoff { .. } => "backoff",
            State::Stopping { .. } => "stopping",
            State::Exited { .. } => "exited",
            State::Fatal => "fatal",
            State::Completed => "completed",
        }
    }

    /// The main pid, when a process exists.
    pub fn pid(&self) -> Option<i32> {
        match self {
            State::Starting { pid, .. }
            | State::Running { pid, .. }
            | State::Stopping { pid, .. } => Some(*pid),
            _ => None,
        }
    }

    /// When the current process was spawned.
    pub fn since(&self) -> Option<Instant> {
        match self {
            State::Starting { since, .. }
            | State::Running { since, .. }
            | State::Stopping { since, .. } => Some(*since),
            _ => None,
        }
    }

    /// No process and none coming by itself.
    pub fn is_down(&self) -> bool {
        matches!(
            self,
            State::Stopped | State::Exited { .. } | State::Fatal | State::Completed
        )
    }
}

/// Something that happens to a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Start wanted (boot, svctl start, restart after stop).
    Start,
    /// Stop wanted (svctl stop, shutdown, removal).
    Stop,
    /// The loop spawned the process.
    Spawned(i32),
    /// The spawn failed; the text says why (OS error and path).
    SpawnFailed(String),
    /// The main process ended.
    Exit(ExitHow),
    /// The readiness probe passed.
    Ready,
    /// The readiness probe gave up.
    NotReady(String),
    /// The health check failed `retries` times in a row.
    Unhealthy(String),
    /// The program's deadline (see [`Program::deadline`]) has passed.
    Deadline,
}

/// What the loop must do after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Spawn the process, then report `Spawned` or `SpawnFailed`.
    Spawn,
    /// Send the stop signal (plus SIGCONT) to the process (group).
    SendStop(Signal),
    /// SIGKILL the process (group).
    Kill,
    /// Start the readiness probe for this pid.
    StartProbe,
}

/// One program instance: its spec, its state and its counters.
#[derive(Debug, Clone)]
pub struct Program {
    /// The resolved settings.
    pub spec: ProgramSpec,
    /// Current state.
    pub state: State,
    /// Whether it should be up (false after a user's stop).
    pub wanted: bool,
    /// Consecutive failed starts.
    pub failed_starts: u32,
    /// Restarts since svinit started.
    pub restarts: u32,
    /// How the last process ended.
    pub last_exit: Option<ExitHow>,
    /// Human text for status: why it is in this state.
    pub description: String,
    /// The last STATUS= text the program sent over sd_notify.
    pub notify_status: Option<String>,
    /// Whether a user asked for this stop (so it is not a failure).
    stop_requested: bool,
}

/// What one step asks the loop to do, in order.
pub type Actions = Vec<Action>;

impl Program {
    /// A program that has not been started.
    pub fn new(spec: ProgramSpec) -> Program {
        let wanted = spec.autostart;
        Program {
            spec,
            state: State::Stopped,
            wanted,
            failed_starts: 0,
            restarts: 0,
            last_exit: None,
            description: String::new(),
            notify_status: None,
            stop_requested: false,
        }
    }

    /// When the loop must send [`Event::Deadline`], if ever.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Starting { since, ready, .. } => match self.spec.kind {
                Kind::Oneshot => None,
                Kind::Service => {
                    let up = *since + self.spec.start_secs;
                    // Without readiness the deadline is start_secs; with a
                    // pending probe the probe's own verdict moves us on.
                    if *ready {
                        Some(up)
                    } else {
                        None
                    }
                }
            },
            State::Backoff { until } => Some(*until),
            State::Stopping { kill_at, .. } => *kill_at,
            _ => None,
        }
    }

    /// Whether the program is where it should be (svctl status exit 3 otherwise).
    pub fn healthy(&self) -> bool {
        if !self.wanted {
            return self.state.is_down() || matches!(self.state, State::Stopping { .. });
        }
        match self.spec.kind {
            Kind::Service => matches!(self.state, State::Running { .. }),
            Kind::Oneshot => matches!(self.state, State::Completed),
        }
    }

    /// Whether dependents may start: running and ready, or completed.
    pub fn satisfies_dependents(&self) -> bool {
        match self.spec.kind {
            Kind::Service => matches!(self.state, State::Running { .. }),
            Kind::Oneshot => matches!(self.state, State::Completed),
        }
    }

    /// Whether an exit calls for another run under the restart policy.
    fn policy_restarts(&self, how: ExitHow) -> bool {
        match self.spec.restart {
            RestartPolicy::Always => true,
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => !self.is_success(how),
        }
    }

    /// Whether an exit counts as success.
    pub fn is_success(&self, how: ExitHow) -> bool {
        matches!(how, ExitHow::Code(code) if self.spec.exit_codes.contains(&code))
    }

    /// Delay before the next try after `failed_starts` failures.
    fn backoff_delay(&self) -> Duration {
        let doublings = self.failed_starts.saturating_sub(1).min(16);
        self.spec
            .backoff
            .saturating_mul(1u32 << doublings)
            .min(MAX_BACKOFF)
    }

    /// A start failed (spawn error, early exit, readiness timeout): back off or give up.
    fn failed_start(&mut self, now: Instant) -> State {
        self.failed_starts += 1;
        if self.failed_starts > self.spec.start_retries {
            self.description = format!(
                "gave up after {} attempts: {}",
                self.failed_starts, self.description
            );
            State::Fatal
        } else {
            State::Backoff {
                until: now + self.backoff_delay(),
            }
        }
    }

    /// Apply one event at time `now`; returns the actions for the loop.
    pub fn step(&mut self, event: Event, now: Instant) -> Actions {
        let mut actions = Vec::new();
        let next = match (&self.state, event) {
            // ---- start wanted
            (
                State::Stopped | State::Exited { .. } | State::Fatal | State::Completed,
                Event::Start,
            ) => {
                self.wanted = true;
                self.stop_requested = false;
                self.failed_starts = 0;
                actions.push(Action::Spawn);
                None
            }
            (State::Backoff { .. }, Event::Start) => {
                self.wanted = true;
                actions.push(Action::Spawn);
                None
            }
            (State::Starting { .. } | State::Running { .. }, Event::Start) => {
                self.wanted = true;
                None
            }
            (State::Stopping { .. }, Event::Start) => {
                // Restarted once the exit arrives.
                self.wanted = true;
                None
            }

            // ---- spawn outcome
            (_, Event::Spawned(pid)) => {
                let ready = self.spec.ready.is_none();
                if !ready {
                    actions.push(Action::StartProbe);
                }
                // The description keeps the last exit or restart reason.
                Some(State::Starting {
                    pid,
                    since: now,
                    ready,
                })
            }
            (_, Event::SpawnFailed(reason)) => {
                self.description = reason;
                Some(self.failed_start(now))
            }

            // ---- readiness
            (State::Starting { pid, since, .. }, Event::Ready) => {
                let (pid, since) = (*pid, *since);
                if self.spec.kind == Kind::Service && now >= since + self.spec.start_secs {
                    self.failed_starts = 0;
                    Some(State::Running { pid, since })
                } else {
                    Some(State::Starting {
                        pid,
                        since,
                        ready: true,
                    })
                }
            }
            (State::Starting { pid, since, .. }, Event::NotReady(reason)) => {
                // Treated as a failed start: stop it; the exit then backs off.
                let (pid, since) = (*pid, *since);
                self.description = format!("not ready: {reason}");
                Some(self.begin_stop(pid, since, now, &mut actions))
            }
            (
                State::Stopped
                | State::Running { .. }
                | State::Backoff { .. }
                | State::Stopping { .. }
                | State::Exited { .. }
                | State::Fatal
                | State::Completed,
                Event::Ready | Event::NotReady(_),
            ) => None,

            // ---- health
            (State::Running { pid, since }, Event::Unhealthy(reason)) => {
                // Restarted like a user's restart: at once, not a failed start.
                let (pid, since) = (*pid, *since);
                self.description = format!("restarted: {reason}");
                self.stop_requested = true;
                self.restarts += 1;
                Some(self.begin_stop(pid, since, now, &mut actions))
            }
            (
                State::Stopped
                | State::Starting { .. }
                | State::Backoff { .. }
                | State::Stopping { .. }
                | State::Exited { .. }
                | State::Fatal
                | State::Completed,
                Event::Unhealthy(_),
            ) => None,

            // ---- deadlines
            (State::Starting { pid, since, ready }, Event::Deadline) => {
                if *ready && self.spec.kind == Kind::Service && now >= *since + self.spec.start_secs
                {
                    self.failed_starts = 0;
                    Some(State::Running {
                        pid: *pid,
                        since: *since,
                    })
                } else {
                    None
                }
            }
            (State::Backoff { until }, Event::Deadline) => {
                if now >= *until && self.wanted {
                    actions.push(Action::Spawn);
                }
                None
            }
            (
                State::Stopping {
                    pid,
                    kill_at,
                    since,
                },
                Event::Deadline,
            ) => match kill_at {
                Some(at) if now >= *at => {
                    actions.push(Action::Kill);
                    self.description = format!(
                        "did not stop within {:?} of {}, sent KILL",
                        self.spec.stop_timeout,
                        signal_name(self.spec.stop_signal)
                    );
                    Some(State::Stopping {
                        pid: *pid,
                        kill_at: None,
                        since: *since,
                    })
                }
                _ => None,
            },
            (
                State::Stopped
                | State::Running { .. }
                | State::Exited { .. }
                | State::Fatal
                | State::Completed,
                Event::Deadline,
            ) => None,

            // ---- stop wanted
            (State::Starting { pid, since, .. } | State::Running { pid, since }, Event::Stop) => {
                let (pid, since) = (*pid, *since);
                self.wanted = false;
                self.stop_requested = true;
                Some(self.begin_stop(pid, since, now, &mut actions))
            }
            (State::Backoff { .. }, Event::Stop) => {
                self.wanted = false;
                Some(State::Stopped)
            }
            (State::Stopping { .. }, Event::Stop) => {
                self.wanted = false;
                None
            }
            (
                State::Stopped | State::Exited { .. } | State::Fatal | State::Completed,
                Event::Stop,
            ) => {
                self.wanted = false;
                None
            }

            // ---- the process ended
            (State::Stopping { .. }, Event::Exit(how)) => {
                self.last_exit = Some(how);
                let user_stop = std::mem::take(&mut self.stop_requested);
                if self.wanted {
                    // A restart (stop then start), or a readiness failure.
                    if user_stop {
                        actions.push(Action::Spawn);
                        Some(State::Stopped)
                    } else {
                        Some(self.failed_start(now))
                    }
                } else {
                    if self.description.is_empty() || user_stop {
                        self.description = how.describe();
                    }
                    Some(State::Stopped)
                }
            }
            (State::Starting { .. }, Event::Exit(how)) => {
                self.last_exit = Some(how);
                Some(self.exited(how, now, true, &mut actions))
            }
            (State::Running { .. }, Event::Exit(how)) => {
                self.last_exit = Some(how);
                Some(self.exited(how, now, false, &mut actions))
            }
            (
                State::Stopped
                | State::Backoff { .. }
                | State::Exited { .. }
                | State::Fatal
                | State::Completed,
                Event::Exit(_),
            ) => None,
        };
        if let Some(next) = next {
            self.state = next;
        }
        actions
    }

    /// Send the stop signal; SIGKILL follows after stop_timeout.
    fn begin_stop(&self, pid: i32, since: Instant, now: Instant, actions: &mut Actions) -> State {
        actions.push(Action::SendStop(self.spec.stop_signal));
        State::Stopping {
            pid,
            kill_at: Some(now + self.spec.stop_timeout),
            since,
        }
    }

    /// The main process ended on its own. `was_starting` is set when it
    /// had not yet counted as started.
    fn exited(
        &mut self,
        how: ExitHow,
        now: Instant,
        was_starting: bool,
        actions: &mut Actions,
    ) -> State {
        self.description = how.describe();
        if self.spec.kind == Kind::Oneshot && self.is_success(how) {
            self.failed_starts = 0;
            self.description = format!("completed ({})", how.describe());
            return State::Completed;
        }
        if !self.policy_restarts(how) || !self.wanted {
            return State::Exited { how };
        }
        if was_starting || self.spec.kind == Kind::Oneshot {
            self.failed_start(now)
        } else {
            // Up longer than start_secs: restart at once, no backoff.
            self.restarts += 1;
            actions.push(Action::Spawn);
            State::Stopped
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{Output, Probe, ProbeCheck};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn spec(kind: Kind, restart: RestartPolicy) -> ProgramSpec {
        ProgramSpec {
            name: "p".into(),
            program: "p".into(),
            instance: None,
            command: vec!["true".into()],
            directory: PathBuf::from("/"),
            user: None,
            environment: BTreeMap::new(),
            umask: None,
            limits: Vec::new(),
            kind,
            autostart: true,
            restart,
            exit_codes: vec![0],
            start_secs: Duration::from_secs(1),
            start_retries: 3,
            backoff: Duration::from_secs(1),
            stop_signal: Signal::SIGTERM,
            stop_timeout: Duration::from_secs(5),
            stop_group: true,
            priority: 100,
            depends_on: Vec::new(),
            ready: None,
            health: None,
            critical: false,
            stdout: Output::Console,
            stderr: Output::Console,
            defined_at: "test:1".into(),
        }
    }

    fn service() -> Program {
        Program::new(spec(Kind::Service, RestartPolicy::Always))
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A program brought to Running at t0+1s.
    fn running(t0: Instant) -> Program {
        let mut p = service();
        assert_eq!(p.step(Event::Start, t0), vec![Action::Spawn]);
        assert!(p.step(Event::Spawned(10), t0).is_empty());
        assert_eq!(p.deadline(), Some(t0 + secs(1)));
        p.step(Event::Deadline, t0 + secs(1));
        assert_eq!(p.state, State::Running { pid: 10, since: t0 });
        p
    }

    #[test]
    fn a_service_becomes_running_after_start_secs() {
        let t0 = Instant::now();
        let mut p = service();
        p.step(Event::Start, t0);
        p.step(Event::Spawned(10), t0);
        // Too early: still starting.
        p.step(Event::Deadline, t0 + Duration::from_millis(500));
        assert_eq!(p.state.name(), "starting");
        assert!(!p.healthy());
        p.step(Event::Deadline, t0 + secs(1));
        assert_eq!(p.state.name(), "running");
        assert!(p.healthy());
    }

    #[test]
    fn a_crash_after_start_secs_restarts_at_once() {
        let t0 = Instant::now();
        let mut p = running(t0);
        let actions = p.step(Event::Exit(ExitHow::Signal(Signal::SIGKILL)), t0 + secs(5));
        assert_eq!(actions, vec![Action::Spawn]);
        assert_eq!(p.restarts, 1);
        assert_eq!(p.failed_starts, 0);
        p.step(Event::Spawned(11), t0 + secs(5));
        assert_eq!(p.state.pid(), Some(11));
    }

    #[test]
    fn failed_starts_back_off_doubling_then_fatal() {
        let t0 = Instant::now();
        let mut p = service();
        p.step(Event::Start, t0);
        let mut now = t0;
        let mut delays = Vec::new();
        for attempt in 0..4 {
            p.step(Event::Spawned(20 + attempt), now);
            p.step(Event::Exit(ExitHow::Code(1)), now);
            match p.state {
                State::Backoff { until } => {
                    delays.push(until - now);
                    now = until;
                    assert_eq!(p.step(Event::Deadline, now), vec![Action::Spawn]);
                }
                State::Fatal => break,
                ref other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(delays, vec![secs(1), secs(2), secs(4)]);
        assert_eq!(p.state, State::Fatal);
        assert!(
            p.description.contains("gave up after 4 attempts"),
            "{}",
            p.description
        );
        // A user's start gives it a fresh set of attempts.
        assert_eq!(p.step(Event::Start, now), vec![Action::Spawn]);
        assert_eq!(p.failed_starts, 0);
    }

    #[test]
    fn backoff_is_capped_at_thirty_seconds() {
        let mut p = service();
        p.spec.start_retries = 100;
        p.failed_starts = 10;
        assert_eq!(p.backoff_delay(), MAX_BACKOFF);
    }

    #[test]
    fn a_spawn_failure_is_a_failed_start_with_its_reason() {
        let t0 = Instant::now();
        let mut p = service();
        p.step(Event::Start, t0);
        p.step(
            Event::SpawnFailed("cannot run `x`: No such file".into()),
            t0,
        );
        assert_eq!(p.state.name(), "backoff");
        assert!(p.description.contains("No such file"));
    }

    #[test]
    fn restart_policies_decide_on_exit() {
        let t0 = Instant::now();
        for (policy, how, restarts) in [
            (RestartPolicy::Always, ExitHow::Code(0), true),
            (RestartPolicy::Never, ExitHow::Code(1), false),
            (RestartPolicy::OnFailure, ExitHow::Code(0), false),
            (RestartPolicy::OnFailure, ExitHow::Code(2), true),
            (
                RestartPolicy::OnFailure,
                ExitHow::Signal(Signal::SIGTERM),
                true,
            ),
        ] {
            let mut p = running(t0);
            p.spec.restart = policy;
            let actions = p.step(Event::Exit(how), t0 + secs(9));
            assert_eq!(
                actions.contains(&Action::Spawn),
                restarts,
                "{policy:?} {how:?}"
            );
            if !restarts {
                assert_eq!(p.state, State::Exited { how });
            }
        }
    }

    #[test]
    fn a_oneshot_completes_or_fails() {
        let t0 = Instant::now();
        let mut ok = Program::new(spec(Kind::Oneshot, RestartPolicy::Never));
        ok.step(Event::Start, t0);
        ok.step(Event::Spawned(5), t0);
        assert_eq!(ok.deadline(), None, "start_secs does not apply");
        assert!(!ok.satisfies_dependents());
        ok.step(Event::Exit(ExitHow::Code(0)), t0);
        assert_eq!(ok.state, State::Completed);
        assert!(ok.satisfies_dependents() && ok.healthy());

        let mut bad = Program::new(spec(Kind::Oneshot, RestartPolicy::Never));
        bad.step(Event::Start, t0);
        bad.step(Event::Spawned(6), t0);
        bad.step(Event::Exit(ExitHow::Code(3)), t0);
        assert_eq!(
            bad.state,
            State::Exited {
                how: ExitHow::Code(3)
            }
        );
        assert!(!bad.satisfies_dependents() && !bad.healthy());

        let mut retried = Program::new(spec(Kind::Oneshot, RestartPolicy::OnFailure));
        retried.step(Event::Start, t0);
        retried.step(Event::Spawned(7), t0);
        retried.step(Event::Exit(ExitHow::Code(3)), t0);
        assert_eq!(retried.state.name(), "backoff");
    }

    #[test]
    fn stop_sends_the_stop_signal_then_kill_after_the_timeout() {
        let t0 = Instant::now();
        let mut p = running(t0);
        assert_eq!(
            p.step(Event::Stop, t0 + secs(2)),
            vec![Action::SendStop(Signal::SIGTERM)]
        );
        assert_eq!(p.deadline(), Some(t0 + secs(7)));
        assert!(p.step(Event::Deadline, t0 + secs(6)).is_empty());
        assert_eq!(p.step(Event::Deadline, t0 + secs(7)), vec![Action::Kill]);
        assert_eq!(p.deadline(), None);
        assert!(p
            .step(Event::Exit(ExitHow::Signal(Signal::SIGKILL)), t0 + secs(7))
            .is_empty());
        assert_eq!(p.state, State::Stopped);
        assert!(!p.wanted);
        assert!(p.healthy(), "a user's stop is the wanted state");
    }

    #[test]
    fn a_user_stop_is_never_a_failure_and_restart_respawns() {
        let t0 = Instant::now();
        let mut p = running(t0);
        p.step(Event::Stop, t0 + secs(2));
        p.step(Event::Start, t0 + secs(2));
        let actions = p.step(Event::Exit(ExitHow::Code(143)), t0 + secs(3));
        assert_eq!(actions, vec![Action::Spawn]);
        assert_eq!(p.failed_starts, 0);
        assert_eq!(p.restarts, 0);
    }

    #[test]
    fn stop_during_backoff_cancels_the_retry() {
        let t0 = Instant::now();
        let mut p = service();
        p.step(Event::Start, t0);
        p.step(Event::SpawnFailed("x".into()), t0);
        assert!(p.step(Event::Stop, t0).is_empty());
        assert_eq!(p.state, State::Stopped);
        assert_eq!(p.deadline(), None);
    }

    #[test]
    fn readiness_gates_running_and_a_timeout_is_a_failed_start() {
        let t0 = Instant::now();
        let mut p = service();
        p.spec.ready = Some(Probe {
            check: ProbeCheck::Tcp("127.0.0.1:1".into()),
            timeout: secs(3),
            interval: secs(1),
            retries: 3,
        });
        p.step(Event::Start, t0);
        assert_eq!(p.step(Event::Spawned(9), t0), vec![Action::StartProbe]);
        assert_eq!(p.deadline(), None);
        p.step(Event::Ready, t0 + secs(2));
        assert_eq!(p.state.name(), "running");

        let mut slow = service();
        slow.spec.ready = p.spec.ready.clone();
        slow.step(Event::Start, t0);
        slow.step(Event::Spawned(9), t0);
        let actions = slow.step(Event::NotReady("timed out".into()), t0 + secs(3));
        assert_eq!(actions, vec![Action::SendStop(Signal::SIGTERM)]);
        slow.step(Event::Exit(ExitHow::Code(143)), t0 + secs(3));
        assert_eq!(slow.state.name(), "backoff");
        assert!(slow.description.contains("not ready"));
    }

    #[test]
    fn events_that_do_not_apply_change_nothing() {
        let t0 = Instant::now();
        let ignored = [
            Event::Ready,
            Event::NotReady("x".into()),
            Event::Deadline,
            Event::Exit(ExitHow::Code(0)),
        ];
        let fatal = {
            let mut p = service();
            p.state = State::Fatal;
            p
        };
        for base in [service(), fatal] {
            for event in ignored.clone() {
                let mut p = base.clone();
                assert!(p.step(event.clone(), t0).is_empty(), "{event:?}");
                assert_eq!(p.state, base.state);
            }
        }
        let mut p = running(t0);
        assert!(p.step(Event::Start, t0).is_empty());
        assert!(p.step(Event::Ready, t0).is_empty());
    }
}
