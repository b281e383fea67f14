# agent-offload's development recipes; `just` alone lists them.
# .ci/run stays the source of truth for CI: `check` runs its gates, fixing what it can
# first; `package` and `lint-workflows` run its release checks.

set positional-arguments

[private]
default:
    @just --list --unsorted

# format, apply clippy's fixes, build, test, then clippy -D warnings as CI does (the
# end-to-end target too: --all-targets skips it, as it is not part of `cargo test`)
check:
    cargo fmt --all
    cargo clippy --locked --all-targets --fix --allow-dirty --allow-staged
    cargo build --locked --all-targets
    cargo test --locked
    cargo clippy --locked --all-targets -- -D warnings
    cargo clippy --locked --test real_agents -- -D warnings

# the end-to-end suite against the real agent CLIs (e2e/run.sh); extra words go to it
e2e *args:
    ./e2e/run.sh "$@"

# the benchmarks (python3 bench/bench.py [--quick] [group]): figures and ratios
bench *args:
    python3 bench/bench.py "$@"

# regenerate docs/screenshot.png from a real run in a private tmux server
screenshot *args:
    docs/screenshot/make.sh "$@"

# install this checkout's agent-offload as the README does (install.sh: ~/.local/bin)
install:
    sh install.sh

# the published crate: its file list against .ci/package-files, then built on its own
package:
    .ci/package --allow-dirty

# lint the GitHub Actions workflows with actionlint (installed on first use), as CI does
lint-workflows:
    .ci/actionlint
    .ci/release-notes-test
