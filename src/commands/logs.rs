//! `agent-offload logs RUN [-f]`: the run's output log.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use super::Env;
use crate::cli::LogsArgs;
use crate::run;

pub fn logs(args: &LogsArgs, env: Env<'_>) -> Result<u8> {
    let root = run::runs_root(env)?;
    let run_dir = run::resolve(&root, &args.run)?;
    let path = run_dir.log();
    let mut stdout = std::io::stdout().lock();
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut copy = |file: &mut std::fs::File| -> Result<()> {
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        stdout.write_all(&buf)?;
        stdout.flush()?;
        Ok(())
    };
    if let Some(f) = file.as_mut() {
        copy(f)?;
    }
    if !args.follow {
        return Ok(0);
    }
    // Follow until the run is over: a poll is plenty for a person watching a log.
    loop {
        let over = run::refresh(&run_dir).is_ok_and(|m| m.status.is_final());
        if file.is_none() {
            file = std::fs::File::open(&path).ok();
        }
        if let Some(f) = file.as_mut() {
            let pos = f.stream_position().unwrap_or(0);
            f.seek(SeekFrom::Start(pos))?;
            copy(f)?;
        }
        if over {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
