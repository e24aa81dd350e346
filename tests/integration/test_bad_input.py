"""Bad input at start: each gets one clear error line naming the problem and a
non-zero exit, never a crash."""
import os
import socket
import subprocess
import tempfile

from relay_harness import LIGHT, Checks, parse_args


def run(binary, args, timeout=30):
    r = subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def error_lines(stderr):
    return [l for l in stderr.splitlines() if "error" in l.lower()]


def main():
    args = parse_args()
    c = Checks()
    b = args.binary
    config = os.path.join(args.source_dir, "config", "relay.toml")
    tmp = tempfile.mkdtemp(prefix="bad-input-")
    light = []
    for o in LIGHT:
        light += ["--set", o]

    def expect_failure(label, argv, needle, code=None):
        rc, out, err = run(b, argv)
        c.check(rc > 0, f"{label}: non-zero exit without a crash (rc {rc})")
        if code is not None:
            c.check(rc == code, f"{label}: exit code {code} (got {rc})")
        lines = error_lines(err)
        c.check(len(lines) == 1 and needle in lines[0], f"{label}: one error line naming '{needle}': {err.strip()[-600:]!r}")
        c.check("Segmentation" not in err and "terminate called" not in err, f"{label}: no crash text")

    expect_failure("missing config", ["--config", os.path.join(tmp, "nope.toml")], "cannot read config file", 2)
    bad = os.path.join(tmp, "bad.toml")
    with open(bad, "w") as f:
        f.write('[edge]\nlisten = "127.0.0.1:8080"\nthreds = 4\n')
    expect_failure("unknown key", ["--config", bad], "bad.toml:3", 2)
    with open(bad, "w") as f:
        f.write('[hls]\nlive_window = "six"\n')
    expect_failure("wrong type", ["--config", bad], "bad.toml:2", 2)
    with open(bad, "w") as f:
        f.write('[edge]\nthreads = 0\n')
    expect_failure("out of range", ["--config", bad], "edge.threads", 2)
    with open(bad, "w") as f:
        f.write('[edge\nthreads = 1\n')
    expect_failure("syntax error", ["--config", bad], "bad.toml:1", 2)
    expect_failure("bad --set", ["--config", config, "--set", "edge.threds=4"], "edge.threds", 2)
    expect_failure("unknown argument", ["--config", config, "--frobnicate"], "--frobnicate", 2)

    rc, out, err = run(b, ["--config", config, "--check-config"])
    c.check(rc == 0 and "ok" in out, f"--check-config accepts the shipped config ({rc}: {out} {err})")

    port = ["--set", "edge.listen=127.0.0.1:0"]
    expect_failure("missing source file", ["--config", config] + light + port +
                   ["--set", f"ingest.source=file://{tmp}/missing.mp4"], "missing.mp4")
    notmedia = os.path.join(tmp, "notes.mp4")
    with open(notmedia, "w") as f:
        f.write("this is not a video\n" * 100)
    expect_failure("undecodable source file", ["--config", config] + light + port +
                   ["--set", f"ingest.source=file://{notmedia}"], "cannot open ingest.source")

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        expect_failure("port in use", ["--config", config] + light + ["--set", f"edge.listen=127.0.0.1:{busy}"],
                       "Address already in use")
    c.finish()


if __name__ == "__main__":
    main()
