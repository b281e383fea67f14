#!/usr/bin/env python3
"""Takes docs/screenshot.png: a real run of the demo in tmux, drawn to an image.

It starts a private tmux server (its own socket, no config file) with one window of a
fixed size (160x20), attaches a real tmux client to it in a pseudo-terminal, and feeds what
that client draws into pyte, a terminal emulator: the picture is exactly what a
person would see, borders and status line included. In the left pane a shell runs
the quick start's command; agent-offload opens the demo agent in a pane on the right.
Once the demo agent shows its third step the screen is drawn with Pillow; then the
run is left to finish and the tmux server is killed.

Run it through docs/screenshot/make.sh, which builds agent-offload and installs pyte
and Pillow in a virtual environment. Arguments: see --help.
"""

import argparse
import fcntl
import os
import pty
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

import pyte
from PIL import Image, ImageDraw, ImageFont

COLS, ROWS = 160, 20
# The caller's pane stands in for a host agent: a comment, then the command it runs
# (each shorter than the pane will be once split, so that nothing wraps or scrolls).
COMMENT = "# a host agent delegates with one blocking command:"
COMMAND = 'agent-offload --config examples/demo.yaml "add a --verbose flag"'
# What the screen shows when the picture is taken: the demo agent at its third step.
MARKER = "[3/4] editing the files"
# What it shows when the run is over: the summary, printed in the caller's pane.
FINISHED = "Checks run: none"

# A dark palette for pyte's colour names (SGR 30-37 and 90-97).
PALETTE = {
    "black": "#282c34",
    "red": "#e06c75",
    "green": "#98c379",
    "brown": "#e5c07b",
    "blue": "#61afef",
    "magenta": "#c678dd",
    "cyan": "#56b6c2",
    "white": "#dcdfe4",
    "brightblack": "#7f848e",
    "brightred": "#ef8891",
    "brightgreen": "#b5e08f",
    "brightbrown": "#f0d197",
    "brightblue": "#82c1f5",
    "brightmagenta": "#d69ae8",
    "brightcyan": "#74cdd8",
    "brightwhite": "#ffffff",
}
DEFAULT_FG = "#dcdfe4"
DEFAULT_BG = "#1e2127"
FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
    "/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
    "/Library/Fonts/DejaVuSansMono.ttf",
    "/System/Library/Fonts/Menlo.ttc",
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True, help="the agent-offload binary to run")
    p.add_argument("--repo", required=True, help="the checkout (examples/ is read there)")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--font", help="a monospace TrueType font (default: found with fc-match)")
    p.add_argument("--bold-font", help="its bold face (default: found beside it)")
    p.add_argument("--font-size", type=int, default=14)
    p.add_argument("--timeout", type=float, default=30, help="seconds to wait for each step")
    return p.parse_args()


def find_font(explicit, style):
    if explicit:
        return explicit
    if shutil.which("fc-match"):
        pattern = "monospace" + (":bold" if style == "bold" else "")
        out = subprocess.run(
            ["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True
        ).stdout.strip()
        if out and os.path.exists(out):
            return out
    for path in FONT_CANDIDATES:
        if style == "bold":
            path = path.replace("Mono.ttf", "Mono-Bold.ttf")
        if os.path.exists(path):
            return path
    sys.exit(f"screenshot: no monospace font found; give one with --{style}-font")


class Session:
    """A private tmux server with one 160x20 window, and a client attached to it in a
    pseudo-terminal whose output pyte interprets."""

    def __init__(self, args, tmp):
        self.socket = f"agent-offload-screenshot-{os.getpid()}"
        bindir = os.path.dirname(os.path.abspath(args.bin))
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "NO_COLOR")
        }
        self.env.update(
            PATH=f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            XDG_STATE_HOME=os.path.join(tmp, "state"),
            HOME=os.path.join(tmp, "home"),
            LANG="C.UTF-8",
            LC_ALL="C.UTF-8",
        )
        os.makedirs(self.env["HOME"])
        self.rcfile = os.path.join(tmp, "bashrc")
        with open(self.rcfile, "w") as f:
            f.write("PS1='\\[\\e[1;34m\\]agent-offload\\[\\e[0m\\] $ '\nunset HISTFILE\n")
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.lock = threading.Lock()
        self.client = None
        self.fd = None
        self.socket_path = None

    def tmux(self, *words):
        return subprocess.run(
            ["tmux", "-u", "-L", self.socket, "-f", "/dev/null", *words],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def start(self, repo):
        shell = f"bash --noprofile --rcfile {self.rcfile} -i"
        self.tmux("new-session", "-d", "-s", "demo", "-x", str(COLS), "-y", str(ROWS),
                  "-c", repo, shell)
        self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()
        # A status line that does not change with the clock or the host name.
        self.tmux("set-option", "-g", "status-right", " tmux ")
        self.tmux("set-option", "-g", "status-left", "[host agent] ")
        self.tmux("set-option", "-g", "status-left-length", "20")
        pid, fd = pty.fork()
        if pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
            env = dict(self.env, TERM="xterm-256color")
            os.execvpe("tmux", ["tmux", "-u", "-L", self.socket, "attach", "-t", "demo"], env)
        self.client, self.fd = pid, fd
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.stream.feed(data)

    def text(self):
        with self.lock:
            return "\n".join(self.screen.display)

    def wait_for(self, needle, timeout, times=1):
        """Waits until the screen shows `needle` (at least `times` times)."""
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < times:
            if time.monotonic() > deadline:
                sys.exit(f"screenshot: {needle!r} did not appear in {timeout:.0f}s:\n{self.text()}")
            time.sleep(0.05)

    def snapshot(self):
        """The screen's cells and cursor, copied."""
        with self.lock:
            cells = [[self.screen.buffer[y][x] for x in range(COLS)] for y in range(ROWS)]
            cursor = (self.screen.cursor.x, self.screen.cursor.y, self.screen.cursor.hidden)
        return cells, cursor

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env,
                       capture_output=True)
        # kill-server leaves the socket file behind.
        if self.socket_path and os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        if self.client:
            try:
                os.kill(self.client, signal.SIGTERM)
            except ProcessLookupError:
                pass
            os.waitpid(self.client, 0)
        if self.fd is not None:
            os.close(self.fd)


def colour(name, default):
    if name == "default":
        return default
    if name in PALETTE:
        return PALETTE[name]
    if len(name) == 6:  # 256-colour and true-colour values come as hex.
        return "#" + name
    return default


# Box-drawing characters as the arms they have (up, down, left, right): drawn as lines
# through the cell so that borders join across rows whatever the font's line height.
BOX = {
    "│": "ud", "─": "lr", "┼": "udlr", "├": "udr", "┤": "udl", "┬": "dlr", "┴": "ulr",
    "┌": "dr", "┐": "dl", "└": "ur", "┘": "ul",
}


def render(cells, cursor, font_path, bold_path, size, out):
    font = ImageFont.truetype(font_path, size)
    bold = ImageFont.truetype(bold_path, size)
    ascent, descent = font.getmetrics()
    cw = round(font.getlength("M"))
    ch = ascent + descent + 2
    pad = 16
    img = Image.new("RGB", (COLS * cw + 2 * pad, ROWS * ch + 2 * pad), DEFAULT_BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(cells):
        for x, c in enumerate(row):
            fg = colour(c.fg, DEFAULT_FG)
            bg = colour(c.bg, DEFAULT_BG)
            if c.reverse:
                fg, bg = bg, fg
            x0, y0 = pad + x * cw, pad + y * ch
            if bg != DEFAULT_BG:
                draw.rectangle([x0, y0, x0 + cw - 1, y0 + ch - 1], fill=bg)
            if c.data in BOX:
                arms = BOX[c.data]
                mx, my = x0 + cw // 2, y0 + ch // 2
                if "u" in arms:
                    draw.line([mx, y0, mx, my], fill=fg)
                if "d" in arms:
                    draw.line([mx, my, mx, y0 + ch - 1], fill=fg)
                if "l" in arms:
                    draw.line([x0, my, mx, my], fill=fg)
                if "r" in arms:
                    draw.line([mx, my, x0 + cw - 1, my], fill=fg)
            elif c.data.strip():
                draw.text((x0, y0 + 1), c.data, font=bold if c.bold else font, fill=fg)
    cx, cy, hidden = cursor
    if not hidden and 0 <= cx < COLS and 0 <= cy < ROWS:
        x0, y0 = pad + cx * cw, pad + cy * ch
        draw.rectangle([x0, y0, x0 + cw - 1, y0 + ch - 1], fill=DEFAULT_FG)
    # A palette image: a few dozen colours, a fraction of the size of RGB.
    img.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


def main():
    args = parse_args()
    font = find_font(args.font, "regular")
    bold = find_font(args.bold_font, "bold")
    if not shutil.which("tmux"):
        sys.exit("screenshot: tmux is not on PATH")
    tmp = tempfile.mkdtemp(prefix="ao-shot-")
    session = Session(args, tmp)
    try:
        session.start(os.path.abspath(args.repo))
        session.wait_for("agent-offload $", args.timeout)
        session.tmux("send-keys", "-t", "demo:0.0", "-l", COMMENT)
        session.tmux("send-keys", "-t", "demo:0.0", "Enter")
        session.tmux("send-keys", "-t", "demo:0.0", "-l", COMMAND)
        session.tmux("send-keys", "-t", "demo:0.0", "Enter")
        # Twice: in the agent's pane, and in the caller's status line.
        session.wait_for(MARKER, args.timeout, times=2)
        cells, cursor = session.snapshot()
        session.wait_for(FINISHED, args.timeout)
    finally:
        session.close()
        shutil.rmtree(tmp, ignore_errors=True)
    render(cells, cursor, font, bold, args.font_size, args.out)
    print(f"screenshot: wrote {args.out} ({os.path.getsize(args.out) // 1024} KiB)")


if __name__ == "__main__":
    main()
