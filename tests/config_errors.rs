//! The configuration corpus: every file in `tests/configs/invalid/` must fail
//! with the errors its `# expect:` lines name, at the right positions; every
//! config in `tests/configs/valid/` and `conf.d/` must load with the
//! documented values.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use svinit::config::{self, ConfigErrors};
use svinit::model::{
    Config, Kind, LogFormat, Output, ProbeCheck, ProgramSpec, RestartPolicy, SignalName,
};

/// `tests/configs/…`.
fn configs(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs")
        .join(path)
}

/// The fixture etc dir with passwd and group.
fn etc() -> PathBuf {
    configs("etc")
}

fn load(path: &Path) -> Result<Config, ConfigErrors> {
    config::load_with_etc(path, &etc())
}

fn load_ok(path: &Path) -> Config {
    match load(path) {
        Ok(config) => config,
        Err(errors) => panic!("{} should load:\n{errors}", path.display()),
    }
}

fn program<'c>(config: &'c Config, name: &str) -> &'c ProgramSpec {
    config
        .programs
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no program {name}"))
}

fn names(config: &Config) -> Vec<&str> {
    config.programs.iter().map(|p| p.name.as_str()).collect()
}

/// One `# expect: [FILE]:LINE:COL MESSAGE` line: the text that must appear
/// (FILE defaults to the case file; other files are relative to `invalid/`).
fn expectation(case: &Path, line: &str) -> (String, String) {
    let rest = line.trim_start_matches("# expect:").trim();
    let (position, message) = rest.split_once(' ').unwrap_or((rest, ""));
    let location = if position.contains(".toml:") {
        format!("{}:", configs("invalid").join(position).display())
    } else {
        format!("{}:{position}:", case.display())
    };
    (location, message.trim().to_owned())
}

#[test]
fn every_invalid_case_fails_with_its_message_at_its_position() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(configs("invalid"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "the corpus shrank: {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).unwrap();
        let expects: Vec<_> = text
            .lines()
            .take_while(|line| line.starts_with("# expect:"))
            .map(|line| expectation(case, line))
            .collect();
        assert!(
            !expects.is_empty(),
            "{} has no # expect: line",
            case.display()
        );
        let output = match load(case) {
            Ok(_) => {
                failures.push(format!("{}: loaded without error", case.display()));
                continue;
            }
            Err(errors) => errors.to_string(),
        };
        for (location, message) in expects {
            let found = output
                .lines()
                .any(|line| line.starts_with(&location) && line.contains(&message));
            if !found {
                failures.push(format!(
                    "{}: expected `{location}` with `{message}`, got:\n{output}",
                    case.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_missing_file_is_named() {
    let path = configs("does-not-exist.toml");
    let errors = load(&path).unwrap_err();
    assert_eq!(errors.errors.len(), 1);
    let text = errors.to_string();
    assert!(
        text.starts_with(&format!("{}: cannot read", path.display())),
        "{text}"
    );
}

#[test]
fn errors_display_as_file_line_column_key_message() {
    let errors = load(&configs("invalid/bad_signal.toml")).unwrap_err();
    let error = &errors.errors[0];
    assert_eq!((error.line, error.column), (4, 15));
    assert_eq!(error.key.as_deref(), Some("program.a.stop_signal"));
    assert!(error
        .to_string()
        .ends_with("bad_signal.toml:4:15: program.a.stop_signal: invalid signal \"TERMINATE\""));
}

#[test]
fn defaults_follow_the_spec_table() {
    let config = load_ok(&configs("valid/defaults.toml"));
    assert_eq!(config.supervisor, Default::default());
    let app = program(&config, "app");
    assert_eq!(app.program, "app");
    assert_eq!(app.instance, None);
    assert_eq!(app.command, ["app", "--serve"]);
    assert_eq!(app.directory, PathBuf::from("/"));
    assert_eq!(app.user, None);
    assert_eq!(
        app.environment.get("SVINIT_PROGRAM").map(String::as_str),
        Some("app")
    );
    assert_eq!(
        app.environment.get("SVINIT_INSTANCE").map(String::as_str),
        Some("")
    );
    assert_eq!(app.environment.len(), 2);
    assert_eq!(app.umask, None);
    assert!(app.limits.is_empty());
    assert_eq!(app.kind, Kind::Service);
    assert!(app.autostart);
    assert_eq!(app.restart, RestartPolicy::Always);
    assert_eq!(app.exit_codes, [0]);
    assert_eq!(app.start_secs, Duration::from_secs(1));
    assert_eq!(app.start_retries, 3);
    assert_eq!(app.backoff, Duration::from_secs(1));
    assert_eq!(app.stop_signal, Signal::SIGTERM);
    assert_eq!(app.stop_timeout, Duration::from_secs(5));
    assert!(app.stop_group);
    assert_eq!(app.priority, 100);
    assert!(app.depends_on.is_empty());
    assert_eq!(app.ready, None);
    assert_eq!(app.health, None);
    assert!(!app.critical);
    assert_eq!(app.stdout, Output::Console);
    assert_eq!(app.stderr, Output::Console);
    assert!(
        app.defined_at.ends_with("defaults.toml:5"),
        "{}",
        app.defined_at
    );
}

#[test]
fn a_full_config_resolves_every_key() {
    let config = load_ok(&configs("valid/full.toml"));
    let supervisor = &config.supervisor;
    assert_eq!(supervisor.socket, PathBuf::from("/tmp/svinit-test.sock"));
    assert_eq!(supervisor.socket_mode, 0o660);
    assert_eq!(supervisor.shutdown_timeout, Duration::from_secs(20));
    assert_eq!(supervisor.log_format, LogFormat::Json);
    assert_eq!(supervisor.log_buffer_bytes, 128 * 1024);
    assert_eq!(
        supervisor.forward.get(&SignalName(Signal::SIGHUP as i32)),
        Some(&vec!["nginx".to_owned()])
    );

    let redis = program(&config, "redis");
    let user = redis.user.as_ref().unwrap();
    assert_eq!(
        (user.uid, user.gid, user.groups.as_slice()),
        (999, 999, &[999][..])
    );
    assert_eq!(user.home, PathBuf::from("/var/lib/redis"));
    assert_eq!(
        redis.ready.as_ref().unwrap().check,
        ProbeCheck::Tcp("127.0.0.1:6379".into())
    );
    assert_eq!(
        redis.ready.as_ref().unwrap().timeout,
        Duration::from_secs(60)
    );
    let nofile = redis
        .limits
        .iter()
        .find(|l| l.resource == libc::RLIMIT_NOFILE as i32)
        .unwrap();
    assert_eq!((nofile.soft, nofile.hard), (65536, 65536));
    let stack = redis
        .limits
        .iter()
        .find(|l| l.resource == libc::RLIMIT_STACK as i32)
        .unwrap();
    assert_eq!((stack.soft, stack.hard), (8388608, u64::MAX));

    let nginx = program(&config, "nginx");
    assert_eq!(nginx.command, ["nginx", "-g", "daemon off;"]);
    assert_eq!(nginx.stop_signal, Signal::SIGQUIT);
    assert_eq!(nginx.depends_on, ["registry", "controller"]);
    let user = nginx.user.as_ref().unwrap();
    assert_eq!((user.uid, user.gid), (33, 998));
    assert_eq!(user.groups, [998, 4]);
    let ready = nginx.ready.as_ref().unwrap();
    assert_eq!(ready.timeout, Duration::from_secs(30));
    assert_eq!(ready.interval, Duration::from_millis(500));
    let health = nginx.health.as_ref().unwrap();
    assert_eq!(health.retries, 5);
    assert_eq!(health.timeout, Duration::from_secs(5));
    assert_eq!(health.interval, Duration::from_secs(10));
    assert!(matches!(&health.check, ProbeCheck::Exec(argv) if argv[0] == "curl"));
    assert_eq!(nginx.stderr, Output::Stdout);

    let registry = program(&config, "registry");
    let user = registry.user.as_ref().unwrap();
    assert_eq!((user.user_name.as_str(), user.uid), ("registry", 1001));
    assert_eq!(user.groups, [1001, 998], "root's group is dropped");
    assert_eq!(registry.environment["WORKERS"], "4");
    assert_eq!(registry.environment["NAME"], "registry");
    assert_eq!(registry.umask, Some(0o27));
    assert_eq!(
        registry.stdout,
        Output::File {
            path: PathBuf::from("/var/log/registry.log"),
            max_bytes: 10_000_000,
            backups: 3
        }
    );

    let controller = program(&config, "controller");
    assert!(controller.critical);
    assert_eq!(controller.restart, RestartPolicy::OnFailure);
    assert_eq!(controller.exit_codes, [0, 2]);
    assert_eq!(controller.start_secs, Duration::from_secs(5));
    assert_eq!(controller.start_retries, 10);
    assert_eq!(controller.backoff, Duration::from_millis(500));
    assert_eq!(controller.stop_timeout, Duration::from_secs(60));
    assert!(!controller.stop_group);
    assert_eq!(controller.ready.as_ref().unwrap().check, ProbeCheck::Notify);

    let migrate = program(&config, "migrate");
    assert_eq!(migrate.kind, Kind::Oneshot);
    assert_eq!(
        migrate.restart,
        RestartPolicy::Never,
        "a oneshot defaults to never"
    );

    let stream = program(&config, "stream:1");
    assert_eq!(stream.program, "stream");
    assert_eq!(stream.instance, Some(1));
    assert_eq!(
        stream.command,
        ["dce-stream", "--id", "1", "--name", "stream"]
    );
    assert_eq!(stream.environment["SVINIT_INSTANCE"], "1");
    assert_eq!(stream.environment["SVINIT_PROGRAM"], "stream");
    assert_eq!(stream.health.as_ref().unwrap().check, ProbeCheck::Fd(3));
    assert_eq!(stream.stdout, Output::Null);

    let once = program(&config, "once");
    assert_eq!(once.instance, None);
    assert!(!once.autostart);
    assert_eq!(once.stdout, Output::Passthrough);

    // Priority first, then dependencies, then names.
    assert_eq!(
        names(&config),
        [
            "redis",
            "migrate",
            "controller",
            "once",
            "registry",
            "nginx",
            "stream:0",
            "stream:1"
        ]
    );
}

#[test]
fn a_directory_config_reads_every_toml_and_its_includes() {
    let config = load_ok(&configs("valid/dir"));
    assert_eq!(config.supervisor.shutdown_timeout, Duration::from_secs(3));
    let files: Vec<String> = config
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["10-main.toml", "worker.toml", "20-api.toml"]);
    // api has priority 200 but web depends on it.
    assert_eq!(names(&config), ["worker", "api", "web"]);
}

#[test]
fn includes_are_followed_once_and_empty_globs_are_fine() {
    let config = load_ok(&configs("valid/include/svinit.toml"));
    assert_eq!(config.files.len(), 4);
    assert_eq!(names(&config), ["alpha", "beta", "delta", "gamma", "main"]);
    assert!(program(&config, "gamma")
        .defined_at
        .ends_with("conf.d/b.toml:1"));
}

#[test]
fn conf_d_examples_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf.d");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            let config = load_ok(&path);
            assert!(!config.programs.is_empty(), "{}", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no examples in conf.d/");
    // And all together, as one directory.
    load_ok(&dir);
}

#[test]
fn describe_prints_one_block_per_instance() {
    let config = load_ok(&configs("valid/full.toml"));
    let text = config::describe(&config);
    assert!(text.contains("[program stream:0]"), "{text}");
    assert!(text.contains("[program stream:1]"));
    assert!(text.contains("stop_signal      QUIT"), "{text}");
    assert!(text.contains("nofile=65536"), "{text}");
    assert_eq!(text.matches("[program ").count(), config.programs.len());
}

/// The rows of the defaults tables in docs/config.md: (key, default) with
/// the backticks removed, for rows whose default is written in backticks.
fn documented_defaults() -> Vec<(String, String)> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/config.md");
    let text = std::fs::read_to_string(docs).unwrap();
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (key, default) = (cells.get(1)?, cells.get(2)?);
            let default = default.strip_prefix('`')?.strip_suffix('`')?;
            Some((key.to_string(), default.to_owned()))
        })
        .collect()
}

#[test]
fn docs_defaults_match_the_code() {
    let config = load_ok(&configs("valid/defaults.toml"));
    let text = config::describe(&config).replace("SVINIT_PROGRAM=app", "SVINIT_PROGRAM=NAME");
    let rows = documented_defaults();
    assert!(rows.len() > 25, "{rows:?}");
    for (key, default) in rows {
        if key == "include" || key == "instances" {
            continue; // not shown as such by describe; tested by the corpus above
        }
        let row = format!("  {key:<16} {default}\n");
        assert!(
            text.contains(&row),
            "docs say `{key}` defaults to `{default}`:\n{text}"
        );
    }
}

#[test]
fn a_file_including_itself_is_read_once() {
    let config = load_ok(&configs("valid/selfinclude/main.toml"));
    assert_eq!(config.files.len(), 2);
    assert_eq!(names(&config), ["main", "other"]);
}
