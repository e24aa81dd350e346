"""A strict reader of the Prometheus text exposition format (version 0.0.4), for
the tests of /metrics. Debian's python3-prometheus-client parses the same text as
a second opinion that must agree with it, and `promtool check metrics` is run as
well where Debian's prometheus package put it on PATH."""
import math
import re
import shutil
import subprocess

from prometheus_client.parser import text_string_to_metric_families

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class FormatError(AssertionError):
    pass


def _value(text, where):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise FormatError(f"{where}: '{text}' is not a sample value")
    return float(text)


def _labels(text, where):
    """Parses 'a="x",b="y"' (the part between braces) strictly; returns a tuple of pairs."""
    out, i = [], 0
    while i < len(text):
        m = re.match(r"([^=]*)=\"", text[i:])
        if not m or not LABEL_RE.match(m.group(1)) or m.group(1).startswith("__"):
            raise FormatError(f"{where}: bad label at '{text[i:]}'")
        name = m.group(1)
        i += m.end()
        value = []
        while True:
            if i >= len(text):
                raise FormatError(f"{where}: unterminated label value")
            ch = text[i]
            if ch == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise FormatError(f"{where}: bad escape \\{nxt}")
                value.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif ch == '"':
                i += 1
                break
            elif ch == "\n":
                raise FormatError(f"{where}: newline in a label value")
            else:
                value.append(ch)
                i += 1
        if any(n == name for n, _ in out):
            raise FormatError(f"{where}: label {name} twice")
        out.append((name, "".join(value)))
        if i < len(text):
            if text[i] != ",":
                raise FormatError(f"{where}: expected ',' at '{text[i:]}'")
            i += 1
    return tuple(sorted(out))


def parse(text):
    """{(name, labels tuple): value} from an exposition text, checking every rule
    of the format this relay relies on; raises FormatError at the first problem."""
    if not text.endswith("\n"):
        raise FormatError("the text does not end with a newline")
    families = {}   # name -> {"type", "help", "done"}
    current = None
    samples = {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}"
        if line == "":
            raise FormatError(f"{where}: empty line")
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) ?(.*)", line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    raise FormatError(f"{where}: malformed '{line}'")
                continue
            kind, name, rest = m.groups()
            if not NAME_RE.match(name):
                raise FormatError(f"{where}: bad metric name {name}")
            fam = families.setdefault(name, {"type": None, "help": None, "samples": 0})
            if fam["samples"]:
                raise FormatError(f"{where}: {kind} for {name} after its samples")
            if kind == "TYPE":
                if fam["type"] or rest not in TYPES:
                    raise FormatError(f"{where}: TYPE of {name} repeated or unknown ({rest})")
                fam["type"] = rest
            else:
                if fam["help"] is not None:
                    raise FormatError(f"{where}: HELP of {name} repeated")
                if re.search(r"\\[^\\n]", rest.replace("\\\\", "")):
                    raise FormatError(f"{where}: bad escape in HELP")
                fam["help"] = rest
            if current is not None and current != name and families[current]["samples"]:
                families[current]["closed"] = True
            current = name
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?", line)
        if not m:
            raise FormatError(f"{where}: malformed sample '{line}'")
        name, _, label_text, value_text, _ts = m.groups()
        family = name
        for suffix in ("_sum", "_count", "_bucket"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and base in families and families[base]["type"] in ("summary", "histogram"):
                family = base
        fam = families.get(family)
        if fam is None or fam["type"] is None:
            raise FormatError(f"{where}: sample of {name} without a TYPE line before it")
        if fam.get("closed") or current != family:
            raise FormatError(f"{where}: samples of {family} are not together")
        if fam["type"] == "summary" and family == name and "quantile" not in (label_text or ""):
            raise FormatError(f"{where}: summary sample {name} without a quantile")
        labels = _labels(label_text or "", where)
        value = _value(value_text, where)
        if fam["type"] == "counter":
            if not name.endswith("_total"):
                raise FormatError(f"{where}: counter {name} does not end in _total")
            if not value >= 0:
                raise FormatError(f"{where}: counter {name} is {value}")
        key = (name, labels)
        if key in samples:
            raise FormatError(f"{where}: {name}{dict(labels)} twice")
        samples[key] = value
        fam["samples"] += 1
    for name, fam in families.items():
        if not fam["samples"]:
            raise FormatError(f"{name} has HELP/TYPE but no sample")
    _agree_with_prometheus_client(text, families, samples)
    return samples


def _same_value(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def _agree_with_prometheus_client(text, families, samples):
    """prometheus_client's parser reads the text into the same families (name, type,
    HELP) and the same samples (name, labels, value), or FormatError says where not.
    Its parser is laxer than this module's, so it is a second opinion, not the check."""
    try:
        parsed = list(text_string_to_metric_families(text))
    except Exception as e:  # its parser raises ValueError, IndexError... on bad lines
        raise FormatError(f"prometheus_client cannot parse the text: {e!r}") from e
    theirs = {}
    their_samples = {}
    for family in parsed:
        if family.name in theirs:
            raise FormatError(f"prometheus_client: family {family.name} in two places")
        theirs[family.name] = (family.type, family.documentation)
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in their_samples:
                raise FormatError(f"prometheus_client: {s.name}{s.labels} twice")
            their_samples[key] = s.value
    ours = {}
    for name, fam in families.items():
        # prometheus_client names a counter family without _total and calls untyped unknown.
        their_name = name[:-len("_total")] if fam["type"] == "counter" and name.endswith("_total") else name
        help_text = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), fam["help"] or "")
        ours[their_name] = ("unknown" if fam["type"] == "untyped" else fam["type"], help_text.strip())
    if ours != theirs:
        diff = sorted(set(ours.items()) ^ set(theirs.items()))
        raise FormatError(f"prometheus_client reads other families (ours vs theirs differ in): {diff[:5]}")
    if samples.keys() != their_samples.keys():
        diff = sorted(samples.keys() ^ their_samples.keys())
        raise FormatError(f"prometheus_client reads other samples (in one only): {diff[:5]}")
    for key, v in samples.items():
        if not _same_value(v, their_samples[key]):
            raise FormatError(f"prometheus_client reads {key[0]}{dict(key[1])} as {their_samples[key]}, not {v}")


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def promtool_problems(text):
    """What `promtool check metrics` says about the text, or None without promtool."""
    promtool = shutil.which("promtool")
    if not promtool:
        return None
    out = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    return "" if out.returncode == 0 else (out.stdout + out.stderr).strip()
