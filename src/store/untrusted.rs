//! The one way a file the agent can write is read (see `run::read` for why): look
//! before opening (`lstat`: only a regular file is opened at all), open without
//! following a symbolic link and without blocking, `fstat` what was opened, read a
//! bounded amount. Used for the run directory and for the agent CLIs' own files (their
//! transcripts), so it sits below both.

use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use rustix::fs::{Mode, OFlags};

/// Why a file of the run directory was not read.
#[derive(Debug)]
pub enum Refused {
    Missing,
    /// Something other than a regular file is there: what, in words ("a FIFO").
    NotAFile(&'static str),
    Io(std::io::Error),
}

/// What is at a path of the run directory, as `lstat` sees it (a symbolic link is
/// not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Missing,
    /// A regular file, with what tells whether it is still being written.
    File(Stamp),
    /// Something other than a regular file: what, in words ("a FIFO").
    Other(&'static str),
}

/// A regular file's identity, size and times: when none of them changes, nothing
/// wrote to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub ino: u64,
    pub size: u64,
    /// Last write (seconds, nanoseconds).
    mtime: (i64, i64),
    /// Last change of the data or the inode (a rename, a `chmod`).
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// Whether the inode changed after its last write: a rename (or `chmod`, `link`)
    /// came after the writing. A file written in place has `ctime == mtime`, as every
    /// write sets both to the same instant.
    pub fn changed_after_write(&self) -> bool {
        self.ctime > self.mtime
    }

    /// Whether the last write is at least `quiet` in the past, by the file's own clock.
    pub fn written_before(&self, quiet: Duration) -> bool {
        let (secs, nanos) = self.mtime;
        let (Ok(secs), Ok(nanos)) = (u64::try_from(secs), u32::try_from(nanos)) else {
            return false;
        };
        let Some(written) = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos)) else {
            return false;
        };
        SystemTime::now()
            .duration_since(written)
            .is_ok_and(|age| age >= quiet)
    }
}

/// What kind of file `t` is, in words, unless it is a regular file.
fn kind(t: std::fs::FileType) -> Option<&'static str> {
    Some(if t.is_file() {
        return None;
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    })
}

/// What is at `path`, without following a symbolic link or opening anything.
pub fn entry(path: &Path) -> Entry {
    match std::fs::symlink_metadata(path) {
        Ok(m) => match kind(m.file_type()) {
            None => Entry::File(Stamp::of(&m)),
            Some(k) => Entry::Other(k),
        },
        // Unreadable counts as missing: the run directory is ours, so it only happens
        // when something removed it, and then there is no summary either.
        Err(_) => Entry::Missing,
    }
}

/// The one way a file the agent can write is opened: only a regular file, never
/// through a symbolic link, never blocking. Returns it with its size.
pub fn open_untrusted(path: &Path) -> Result<(File, u64), Refused> {
    match entry(path) {
        Entry::Missing => return Err(Refused::Missing),
        Entry::Other(k) => return Err(Refused::NotAFile(k)),
        Entry::File(_) => {}
    }
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOENT => Refused::Missing,
        // O_NOFOLLOW met a symbolic link (swapped in since the look): ELOOP, or
        // EMLINK on FreeBSD.
        rustix::io::Errno::LOOP | rustix::io::Errno::MLINK => Refused::NotAFile("a symbolic link"),
        e => Refused::Io(e.into()),
    })?;
    let file = File::from(fd);
    // What was opened, not what was looked at: a FIFO or a directory swapped in since
    // the look is refused here.
    let meta = file.metadata().map_err(Refused::Io)?;
    match kind(meta.file_type()) {
        None => Ok((file, meta.len())),
        Some(k) => Err(Refused::NotAFile(k)),
    }
}

/// The whole of a file the agent could have replaced (`run.json` lives in its
/// directory too), through [`open_untrusted`], refused past `limit` bytes.
pub fn read_whole(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let (file, size) = open_untrusted(path).map_err(|r| match r {
        Refused::Missing => std::io::Error::from(std::io::ErrorKind::NotFound),
        Refused::NotAFile(kind) => std::io::Error::other(format!("{kind}, not a regular file")),
        Refused::Io(e) => e,
    })?;
    if size > limit {
        return Err(std::io::Error::other(format!(
            "{size} bytes, more than the {limit} expected"
        )));
    }
    // The size seen, not the limit: the buffer is allocated (and zeroed) up front.
    read_at_most(&file, 0, size)
}

/// Reads at most `len` bytes of `file` from `offset` (fewer at its end).
pub fn read_at_most(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    // The buffer is allocated up front: no larger than what the file holds now.
    let there = file.metadata()?.len().saturating_sub(offset);
    let len = usize::try_from(len.min(there)).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let at = offset.saturating_add(got as u64);
        match file.read_at(&mut buf[got..], at) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}
