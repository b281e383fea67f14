//! Advisory locks that order cooperating agent-offload processes: the lock on one run
//! (its outcome is decided and recorded once), and the lock that places panes one at a
//! time. None may hang on another: every wait for a lock is bounded.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, Mode, OFlags, flock};

use crate::store::dir::RunDir;

/// An exclusive lock on a run, held while its outcome is decided and recorded, and
/// while other processes update its `run.json`. It is a `flock` on the run directory
/// itself (no lock file to leave behind). Blocking, bounded: whoever holds it finishes
/// within the stop grace period.
pub struct RunLock {
    _dir: Option<OwnedFd>,
}

fn open_dir(run: &RunDir) -> Option<OwnedFd> {
    rustix::fs::open(
        &run.path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

impl RunLock {
    pub fn take(run: &RunDir) -> RunLock {
        let dir = open_dir(run);
        if let Some(fd) = &dir {
            lock_exclusive(fd, Duration::from_secs(30));
        }
        RunLock { _dir: dir }
    }

    /// Whether some process holds the lock right now.
    pub fn is_held(run: &RunDir) -> bool {
        let Some(fd) = open_dir(run) else {
            return false;
        };
        flock(&fd, FlockOperation::NonBlockingLockShared).is_err()
    }
}

/// Takes an exclusive `flock` on `fd`, waiting at most `limit` (then going on without
/// it: these locks order cooperating agent-offload processes, and none may hang on
/// another).
pub fn lock_exclusive(fd: &impl AsFd, limit: Duration) {
    let start = Instant::now();
    while flock(fd, FlockOperation::NonBlockingLockExclusive).is_err() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(2));
    }
}
