//! `install.sh`: shellcheck-clean POSIX sh that installs from source with cargo (for
//! real: `cargo install --locked --path` on this checkout, reusing this build's target
//! directory), or from a release tarball whose checksum it verifies.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::BIN;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn script() -> PathBuf {
    Path::new(ROOT).join("install.sh")
}

/// Runs install.sh with a clean environment plus `vars`; HOME is a temp dir.
fn install(home: &Path, vars: &[(&str, &std::ffi::OsStr)]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg(script())
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", home);
    if let Some(t) = std::env::var_os("RUSTUP_TOOLCHAIN") {
        cmd.env("RUSTUP_TOOLCHAIN", t);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run sh install.sh");
    eprintln!(
        "install.sh stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// cargo and rustup keep their state under the real HOME, which the script does not
/// get: point them at it.
fn toolchain_dir(var: &str, under_home: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(
        || Path::new(&std::env::var_os("HOME").expect("HOME")).join(under_home),
        PathBuf::from,
    )
}

fn version_of(bin: &Path) -> String {
    let out = Command::new(bin).arg("--version").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn is_shellcheck_clean() {
    let Ok(out) = Command::new("shellcheck")
        .args(["-s", "sh"])
        .arg(script())
        .output()
    else {
        panic!(
            "shellcheck must be installed to run this test (apt-get install shellcheck; \
             CI installs it in .ci/run)"
        );
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // dash is the strictest common POSIX sh: the script must at least parse there.
    if Path::new("/bin/dash").exists() {
        let st = Command::new("/bin/dash")
            .arg("-n")
            .arg(script())
            .status()
            .unwrap();
        assert!(st.success());
    }
}

/// The real source build: `cargo install --locked --path` on this checkout into a temp
/// root, then into `AGENT_OFFLOAD_INSTALL_DIR`. `--debug` with this test build's target
/// directory makes cargo reuse what `cargo test` has just compiled instead of an LTO
/// release build (minutes on a small machine).
#[test]
fn builds_from_source_into_the_install_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my bin");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let out = install(
        tmp.path(),
        &[
            ("AGENT_OFFLOAD_INSTALL_DIR", dir.as_os_str()),
            ("AGENT_OFFLOAD_CARGO_ARGS", "--debug".as_ref()),
            ("CARGO_TARGET_DIR", target_dir.as_os_str()),
            (
                "CARGO_HOME",
                toolchain_dir("CARGO_HOME", ".cargo").as_os_str(),
            ),
            (
                "RUSTUP_HOME",
                toolchain_dir("RUSTUP_HOME", ".rustup").as_os_str(),
            ),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let installed = dir.join("agent-offload");
    assert_eq!(version_of(&installed), version_of(Path::new(BIN)));
    // One line says why it builds and that cargo's progress follows; then cargo's own
    // progress (issue 21: one opening line, then minutes of silence).
    assert!(
        stderr.contains(
            "install.sh: no release binary to download (no release location is configured \
             yet): building from source in "
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("placeholder"), "{stderr}");
    assert!(stderr.contains("Finished `dev` profile"), "{stderr}");
    // Not cargo's advice to put the temporary install root on PATH.
    assert!(!stderr.contains("be sure to add"), "{stderr}");
    assert!(stderr.contains("is not on your PATH"), "{stderr}");
    // Nothing left behind but the binary.
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

/// A release "published" on disk: the tarball and its .sha256 under the URL layout
/// install.sh expects.
fn fake_release(root: &Path, version: &str, corrupt: bool) -> PathBuf {
    let triple = {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "x86_64",
            "aarch64" => "aarch64",
            other => panic!("no release triple for {other}"),
        };
        format!("{arch}-unknown-linux-musl")
    };
    let repo = root.join("forge/me/agent-offload");
    let dl = repo.join(format!("releases/download/v{version}"));
    std::fs::create_dir_all(&dl).unwrap();
    let stage = root.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(BIN, stage.join("agent-offload")).unwrap();
    let asset = format!("agent-offload-{triple}.tar.gz");
    let st = Command::new("tar")
        .arg("-czf")
        .arg(dl.join(&asset))
        .arg("-C")
        .arg(&stage)
        .arg("agent-offload")
        .status()
        .unwrap();
    assert!(st.success());
    let sum = Command::new("sha256sum")
        .arg(dl.join(&asset))
        .output()
        .unwrap();
    let mut line = String::from_utf8(sum.stdout).unwrap();
    if corrupt {
        line.replace_range(0..1, if line.starts_with('0') { "1" } else { "0" });
    }
    std::fs::write(dl.join(format!("{asset}.sha256")), line).unwrap();
    repo
}

#[test]
fn installs_a_release_after_checking_its_checksum() {
    if std::env::consts::OS != "linux" {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = fake_release(tmp.path(), "9.8.7", false);
    let dir = tmp.path().join("bin");
    let url = format!("file://{}", repo.display());
    let out = install(
        tmp.path(),
        &[
            ("AGENT_OFFLOAD_INSTALL_DIR", dir.as_os_str()),
            ("AGENT_OFFLOAD_REPO", url.as_ref()),
            ("AGENT_OFFLOAD_VERSION", "9.8.7".as_ref()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("checksum verified"), "{stderr}");
    assert!(!stderr.contains("building from source"), "{stderr}");
    assert_eq!(
        version_of(&dir.join("agent-offload")),
        version_of(Path::new(BIN))
    );
}

#[test]
fn a_checksum_mismatch_installs_nothing() {
    if std::env::consts::OS != "linux" {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = fake_release(tmp.path(), "9.8.7", true);
    let dir = tmp.path().join("bin");
    let url = format!("file://{}", repo.display());
    let out = install(
        tmp.path(),
        &[
            ("AGENT_OFFLOAD_INSTALL_DIR", dir.as_os_str()),
            ("AGENT_OFFLOAD_REPO", url.as_ref()),
            ("AGENT_OFFLOAD_VERSION", "9.8.7".as_ref()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(!dir.join("agent-offload").exists());
}

/// PATH without any directory that has an agent-offload in it (this machine's own copy
/// would otherwise be reported too), after `first`.
fn path_without_copies(first: &[&Path]) -> std::ffi::OsString {
    let real = std::env::var_os("PATH").unwrap_or_default();
    let rest = std::env::split_paths(&real).filter(|d| !d.join("agent-offload").exists());
    std::env::join_paths(first.iter().map(|p| p.to_path_buf()).chain(rest)).unwrap()
}

/// Another agent-offload on PATH (`cargo install` into ~/.cargo/bin, say) is named,
/// and which of the two runs: two copies on PATH were issue 21's second complaint.
#[test]
fn another_copy_on_path_is_named() {
    if std::env::consts::OS != "linux" {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = fake_release(tmp.path(), "9.8.7", false);
    let dir = tmp.path().join("bin");
    let before = tmp.path().join("cargo bin");
    let after = tmp.path().join("later");
    for d in [&before, &after] {
        std::fs::create_dir_all(d).unwrap();
        crate::harness::write_executable(
            &d.join("agent-offload"),
            "#!/bin/sh\necho agent-offload 0.0.1\n",
        );
    }
    let url = format!("file://{}", repo.display());
    let run = |path: &[&Path]| {
        let out = install(
            tmp.path(),
            &[
                ("AGENT_OFFLOAD_INSTALL_DIR", dir.as_os_str()),
                ("AGENT_OFFLOAD_REPO", url.as_ref()),
                ("AGENT_OFFLOAD_VERSION", "9.8.7".as_ref()),
                ("PATH", &path_without_copies(path)),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let first = before.join("agent-offload");
    let stderr = run(&[&before, &dir, &after]);
    assert!(
        stderr.contains(&format!(
            "install.sh: warning: {} (agent-offload 0.0.1) comes first on your PATH: \
             `agent-offload` runs it, not the copy just installed",
            first.display()
        )),
        "{stderr}"
    );
    let later = after.join("agent-offload");
    assert!(
        stderr.contains(&format!(
            "install.sh: another agent-offload is on your PATH: {} (agent-offload 0.0.1)",
            later.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("keep one copy"), "{stderr}");
    // The install directory itself, on PATH twice, is not another copy.
    let stderr = run(&[&dir, &dir]);
    assert!(!stderr.contains("another agent-offload"), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}
