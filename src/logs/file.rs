//! Rotating log file: raw lines (no prefix), rotated by size, reopened on
//! SIGUSR1 for an external logrotate.
//!
//! Writes happen on the relay task, synchronously: a write to a local file
//! lands in the page cache and returns in microseconds, one write per pipe
//! read; a thread (or a queue) per file would cost memory for every program
//! to protect against storage that stalls (NFS), which container logs
//! rarely sit on. Only that program's relay waits meanwhile, never a
//! console write.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One log file and its rotation policy.
#[derive(Debug)]
pub struct FileSink {
    /// The live file; older ones are `path.1` … `path.N`.
    path: PathBuf,
    /// Rotate before the file would grow past this; 0 never rotates.
    max_bytes: u64,
    /// How many rotated files are kept.
    backups: u32,
    /// The open file; None after a failure (retried on the next write).
    file: Option<File>,
    /// Current size of the live file, to decide rotation without a stat per
    /// write.
    size: u64,
    /// A failure was already reported; report again only after a success,
    /// so a missing directory does not log once per line.
    failing: bool,
}

impl FileSink {
    /// Open (append, create) `path`; a failure is logged and retried on the
    /// next write.
    pub fn open(path: &Path, max_bytes: u64, backups: u32) -> FileSink {
        let mut sink = FileSink {
            path: path.to_path_buf(),
            max_bytes,
            backups,
            file: None,
            size: 0,
            failing: false,
        };
        sink.ensure_open();
        sink
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append raw bytes, rotating at line boundaries so that no file grows
    /// past `max_bytes` (unless one line alone is longer).
    pub fn write(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = self.room();
            let take = if data.len() as u64 <= room {
                data.len()
            } else if let Some(i) = memchr::memrchr(b'\n', &data[..room_len(room, data)]) {
                // The whole lines that fit.
                i + 1
            } else if self.size > 0 {
                // Not even one line fits: start a fresh file first.
                self.rotate();
                continue;
            } else {
                // One line longer than max_bytes in an empty file: write it
                // whole rather than cut it.
                memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1)
            };
            self.append(&data[..take]);
            data = &data[take..];
            if !data.is_empty() {
                self.rotate();
            }
        }
    }

    /// Close and reopen the path (after an external rotation).
    pub fn reopen(&mut self) {
        self.file = None;
        self.ensure_open();
    }

    /// Bytes that fit before rotation is due.
    fn room(&self) -> u64 {
        if self.max_bytes == 0 {
            u64::MAX
        } else {
            self.max_bytes.saturating_sub(self.size)
        }
    }

    /// Write to the open file (opening it if needed); on failure the bytes
    /// are dropped and the error reported once.
    fn append(&mut self, data: &[u8]) {
        self.ensure_open();
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file.write_all(data) {
            Ok(()) => {
                self.size += data.len() as u64;
                self.failing = false;
            }
            Err(error) => {
                self.report("cannot write log file", &error);
                // Reopen next time: the file may have been removed or the
                // disk remounted.
                self.file = None;
            }
        }
    }

    /// path → path.1 → … → path.N (the oldest removed), then a fresh file.
    fn rotate(&mut self) {
        self.file = None;
        let numbered = |i: u32| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{i}"));
            PathBuf::from(name)
        };
        let result = if self.backups == 0 {
            std::fs::remove_file(&self.path)
        } else {
            ignore_missing(std::fs::remove_file(numbered(self.backups)))
                .and_then(|()| {
                    (1..self.backups).rev().try_for_each(|i| {
                        ignore_missing(std::fs::rename(numbered(i), numbered(i + 1)))
                    })
                })
                .and_then(|()| std::fs::rename(&self.path, numbered(1)))
        };
        if let Err(error) = ignore_missing(result) {
            self.report("cannot rotate log file", &error);
        }
        // Even if the rename failed, start counting afresh: appending to the
        // old file beats stalling or losing output.
        self.size = 0;
        self.ensure_open();
    }

    /// Open the file if it is not open.
    fn ensure_open(&mut self) {
        if self.file.is_some() {
            return;
        }
        let opened = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|file| {
                let size = file.metadata()?.len();
                Ok((file, size))
            });
        match opened {
            Ok((file, size)) => {
                self.file = Some(file);
                self.size = size;
                self.failing = false;
            }
            Err(error) => self.report("cannot open log file", &error),
        }
    }

    /// Log a failure once until the next success.
    fn report(&mut self, what: &str, error: &io::Error) {
        if !self.failing {
            self.failing = true;
            tracing::warn!(path = %self.path.display(), "{what} {}: {error}", self.path.display());
        }
    }
}

/// How many bytes of `data` fit in `room` (room < data.len()).
fn room_len(room: u64, data: &[u8]) -> usize {
    usize::try_from(room).map_or(data.len(), |r| r.min(data.len()))
}

/// A missing file is fine when removing or renaming optional backups.
fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    fn numbered(path: &Path, i: u32) -> PathBuf {
        PathBuf::from(format!("{}.{i}", path.display()))
    }

    #[test]
    fn appends_and_rotates_at_line_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "old\n").unwrap();
        let mut sink = FileSink::open(&path, 10, 2);
        sink.write(b"1234\n"); // 4 + 5 = 9
        assert_eq!(read(&path), "old\n1234\n");
        sink.write(b"ab\ncd\n"); // "ab\n" would make 12: rotate first
        assert_eq!(read(&numbered(&path, 1)), "old\n1234\n");
        assert_eq!(read(&path), "ab\ncd\n");
        // One write spanning several files, split between lines.
        sink.write(b"eeee\nffff\ngggg\nhhhh\n");
        assert_eq!(read(&path), "gggg\nhhhh\n");
        assert_eq!(read(&numbered(&path, 1)), "eeee\nffff\n");
        assert_eq!(read(&numbered(&path, 2)), "ab\ncd\n");
        // Only `backups` old files are kept.
        assert!(!numbered(&path, 3).exists());
        assert_eq!(sink.path(), path.as_path());
    }

    #[test]
    fn a_line_longer_than_the_limit_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.log");
        let mut sink = FileSink::open(&path, 4, 1);
        sink.write(b"abcdefgh\nij\n");
        assert_eq!(read(&numbered(&path, 1)), "abcdefgh\n");
        assert_eq!(read(&path), "ij\n");
    }

    #[test]
    fn zero_backups_truncates_and_zero_max_never_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut sink = FileSink::open(&path, 4, 0);
        sink.write(b"abc\n");
        sink.write(b"def\n");
        assert_eq!(read(&path), "def\n");
        assert!(!numbered(&path, 1).exists());

        let path = dir.path().join("b.log");
        let mut sink = FileSink::open(&path, 0, 3);
        for _ in 0..100 {
            sink.write(b"0123456789\n");
        }
        assert_eq!(read(&path).len(), 1100);
    }

    #[test]
    fn reopen_follows_an_external_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.log");
        let mut sink = FileSink::open(&path, 0, 0);
        sink.write(b"before\n");
        std::fs::rename(&path, dir.path().join("r.log.moved")).unwrap();
        sink.write(b"still old\n");
        sink.reopen();
        sink.write(b"after\n");
        assert_eq!(read(&path), "after\n");
        assert_eq!(read(&dir.path().join("r.log.moved")), "before\nstill old\n");
    }

    #[test]
    fn a_missing_directory_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/x.log");
        let mut sink = FileSink::open(&path, 10, 1);
        sink.write(b"dropped\n");
        assert!(!path.exists());
        // The directory appears later: the next write opens the file.
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        sink.write(b"kept\n");
        assert_eq!(read(&path), "kept\n");
    }
}
