//! The portable backend: what any Unix offers. No event sources (the waiter polls),
//! `kill(pid, 0)` for liveness, and `ps` for the process table (one process spawned
//! per look, so callers look rarely).

use std::process::{Command, Stdio};

use rustix::io::Errno;
use rustix::process::{Pid, WaitId, WaitIdOptions, test_kill_process, waitid};

use super::ProcInfo;

/// Runs `ps` for the processes `which` selects (`-A`, or `-p PID`) and parses its rows.
/// `None` when ps cannot be run at all; an empty list when it selects nothing.
fn ps(which: &[&str]) -> Option<Vec<ProcInfo>> {
    let child = Command::new("ps")
        .args(which)
        .args([
            "-o", "pid=", "-o", "ppid=", "-o", "pgid=", "-o", "stat=", "-o", "lstart=",
        ])
        // Month names in English, times in UTC: the same text from every process.
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // ps lists itself; it is gone (and its pid free for reuse) by the time anyone acts
    // on the table, and it is our child like the orphans we adopt: leave it out.
    let own = i32::try_from(child.id()).ok();
    let out = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter_map(parse_row)
            .filter(|p| Some(p.pid) != own)
            .collect(),
    )
}

/// `  123     1   123 Ss   Mon Nov 30 18:11:04 2026`
fn parse_row(line: &str) -> Option<ProcInfo> {
    let mut f = line.split_ascii_whitespace();
    let pid = f.next()?.parse().ok()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    let stat = f.next()?;
    let _weekday = f.next()?;
    let month = month_number(f.next()?)?;
    let day: u64 = f.next()?.parse().ok()?;
    let mut clock = f.next()?.split(':').map(str::parse::<u64>);
    let (Some(Ok(h)), Some(Ok(m)), Some(Ok(s))) = (clock.next(), clock.next(), clock.next()) else {
        return None;
    };
    let year: u64 = f.next()?.parse().ok()?;
    // A number that orders like the start time, to the second: YYYYMMDDhhmmss.
    let start = ((((year * 100 + month) * 100 + day) * 100 + h) * 100 + m) * 100 + s;
    Some(ProcInfo {
        pid,
        ppid,
        pgrp,
        // ps has no portable session column (and getsid(2) is not asked: rustix panics
        // on the session 0 of kernel threads); the group and the parent chain suffice.
        session: None,
        start,
        zombie: stat.starts_with('Z'),
    })
}

fn month_number(name: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS
        .iter()
        .position(|m| *m == name)
        .and_then(|i| u64::try_from(i + 1).ok())
}

pub fn process(pid: i32) -> Option<ProcInfo> {
    // Most lookups are of processes that have just ended: answer those without ps.
    if !exists(pid) {
        return None;
    }
    ps(&["-p", &pid.to_string()])?
        .into_iter()
        .find(|p| p.pid == pid)
}

/// `ps -o time=`: the process's cumulative CPU time, `[[dd-]hh:]mm:ss`.
pub fn cpu_ms(pid: i32) -> Option<u64> {
    let out = Command::new("ps")
        .args(["-o", "time=", "-p", &pid.to_string()])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    parse_cpu_time(String::from_utf8_lossy(&out.stdout).trim())
}

/// `1-02:03:04`, `02:03:04`, `03:04` or `03:04.50` as milliseconds.
fn parse_cpu_time(text: &str) -> Option<u64> {
    let (days, rest) = match text.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().ok()?, r),
        None => (0, text),
    };
    let mut seconds = 0.0_f64;
    for part in rest.split(':') {
        seconds = seconds * 60.0 + part.parse::<f64>().ok()?;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (seconds * 1000.0) as u64;
    Some(days * 86_400_000 + ms)
}

pub fn processes() -> Option<Vec<ProcInfo>> {
    ps(&["-A"]).filter(|t| !t.is_empty())
}

/// `kill(pid, 0)`: the pid is in use (by a live process or a zombie).
fn exists(pid: i32) -> bool {
    let Some(p) = Pid::from_raw(pid) else {
        return false;
    };
    // EPERM: it exists, but belongs to someone else.
    !matches!(test_kill_process(p), Err(Errno::SRCH))
}

/// A pid in use that is not an exited child of ours. A zombie that is not our child is
/// taken as running: its parent (the tmux server, init) collects it within moments.
pub fn running(pid: i32) -> bool {
    if !exists(pid) {
        return false;
    }
    let Some(p) = Pid::from_raw(pid) else {
        return false;
    };
    // Our own child stays a zombie until we collect it: look without collecting.
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    !matches!(waitid(WaitId::Pid(p), options), Ok(Some(_)))
}

// Used as the native backend on systems other than Linux and macOS (not compiled in
// CI: keep it this small).
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod as_native {
    use std::os::fd::BorrowedFd;
    use std::path::Path;
    use std::time::Duration;

    pub const MECHANISMS: &str = "portable: a 100 ms poll, ps for the process table";

    pub fn boot_id() -> String {
        String::new()
    }

    pub fn running_image() -> Option<std::path::PathBuf> {
        None
    }

    pub fn adopt_orphans() -> bool {
        false
    }

    pub fn make_fifo(path: &Path, mode: u32) -> std::io::Result<()> {
        rustix::fs::mkfifoat(rustix::fs::CWD, path, rustix::fs::Mode::from_raw_mode(mode))
            .map_err(Into::into)
    }

    /// No exit watch: there is never one.
    pub enum ExitWatch {}

    impl ExitWatch {
        pub fn new(_pid: i32) -> Option<ExitWatch> {
            None
        }

        pub fn wait(&self, _timeout: Duration) {
            match *self {}
        }
    }

    pub struct DirWatch;
    pub type StartingWatch = DirWatch;

    impl DirWatch {
        pub fn start(_dir: &Path) -> anyhow::Result<DirWatch> {
            Ok(DirWatch)
        }

        pub fn start_inline(_dir: &Path) -> anyhow::Result<DirWatch> {
            Ok(DirWatch)
        }

        pub fn ready(self) -> anyhow::Result<DirWatch> {
            Ok(self)
        }

        pub fn watching(&self) -> bool {
            false
        }

        pub fn wait(
            &mut self,
            signal: BorrowedFd<'_>,
            _exit: Option<&ExitWatch>,
            timeout: Duration,
        ) {
            super::super::poll_readable(&[signal], timeout);
        }
    }
}
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub use as_native::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::inconsistent_digit_grouping)] // grouped as YYYY_MM_DD_hh_mm_ss
    fn ps_rows() {
        let p = parse_row("  123     1   120 Ss   Mon Nov  2 08:01:04 2026").unwrap();
        assert_eq!((p.pid, p.ppid, p.pgrp, p.zombie), (123, 1, 120, false));
        assert_eq!(p.start, 2026_11_02_08_01_04);
        assert!(
            parse_row("9 1 9 Z+ Tue Dec 31 23:59:59 2024")
                .unwrap()
                .zombie
        );
        assert!(parse_row("").is_none());
        assert!(parse_row("1 0 0 S Mon Foo 1 00:00:00 2026").is_none());
    }

    #[test]
    fn ps_sees_this_process() {
        let me = i32::try_from(std::process::id()).unwrap();
        let table = processes().expect("ps runs");
        let mine = table
            .iter()
            .find(|p| p.pid == me)
            .expect("this process is listed");
        assert!(!mine.zombie);
        assert_eq!(process(me).map(|p| p.start), Some(mine.start));
        assert!(running(me));
    }
}
