# Homebrew formula for agent-offload, using the same release artifacts as install.sh:
#   <repo>/releases/download/vX.Y.Z/agent-offload-<target>.tar.gz (+ .sha256)
#
# The forge is not decided yet: REPO (the placeholder also in Cargo.toml and install.sh)
# and the sha256 values are placeholders. At release
# time, set REPO, bump version, and paste each tarball's .sha256 content below; then
#   brew install --formula ./packaging/homebrew/agent-offload.rb
# or publish it in a tap (<owner>/homebrew-tap).
class AgentOffload < Formula
  REPO = "https://github.com/agent-offload/agent-offload".freeze

  desc "Hand a task to another coding agent CLI and wait for its summary"
  homepage REPO
  version "0.1.0"
  license "MIT"

  on_macos do
    on_arm do
      url "#{REPO}/releases/download/v#{version}/agent-offload-aarch64-apple-darwin.tar.gz"
      sha256 "0000000000000000000000000000000000000000000000000000000000000000"
    end
    on_intel do
      url "#{REPO}/releases/download/v#{version}/agent-offload-x86_64-apple-darwin.tar.gz"
      sha256 "0000000000000000000000000000000000000000000000000000000000000000"
    end
  end

  on_linux do
    on_arm do
      url "#{REPO}/releases/download/v#{version}/agent-offload-aarch64-unknown-linux-musl.tar.gz"
      sha256 "0000000000000000000000000000000000000000000000000000000000000000"
    end
    on_intel do
      url "#{REPO}/releases/download/v#{version}/agent-offload-x86_64-unknown-linux-musl.tar.gz"
      sha256 "0000000000000000000000000000000000000000000000000000000000000000"
    end
  end

  head do
    url "#{REPO}.git", branch: "main"
    depends_on "rust" => :build
  end

  depends_on "tmux" => :recommended

  def install
    if build.head?
      system "cargo", "install", "--locked", *std_cargo_args
    else
      bin.install "agent-offload"
    end
    generate_completions_from_executable(bin/"agent-offload", "completions")
    # Every page: agent-offload.1 and one per subcommand (agent-offload-run.1, ...),
    # which agent-offload.1's SUBCOMMANDS section cites.
    system bin/"agent-offload", "man", "--dir", "man1"
    man1.install Dir["man1/*.1"]
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/agent-offload --version")
    assert_match "schema", shell_output("#{bin}/agent-offload config schema")
    assert_path_exists man1/"agent-offload-run.1"
  end
end
