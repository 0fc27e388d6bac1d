"""Security basics read from the sources themselves: SQL only with bound parameters, and
nothing bound to every interface. (The UI servers' sockets are checked live in the browser
test; loading models without unpickling in the lifecycle tests.)"""

import re
from pathlib import Path

from bat_pipeline.home import PROJECT_ROOT

SOURCES = sorted((PROJECT_ROOT / "bat_pipeline").rglob("*.py"))
#: SQL text built from values: f-strings, %-formatting or .format() inside a DuckDB call
BUILT_SQL = re.compile(
    r"\.(execute|sql|query)\(\s*(f[\"']|[\"'][^\"']*[\"']\s*%|[\"'][^\"']*[\"']\.format\()"
)


def offending_lines(pattern: re.Pattern[str], paths: list[Path]) -> list[str]:
    hits = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    return hits


def test_sql_is_never_built_from_values():
    assert offending_lines(BUILT_SQL, SOURCES) == []
    # the pattern itself catches what it must
    assert BUILT_SQL.search('con.execute(f"select * from {table}")')
    assert BUILT_SQL.search("con.sql('select %s' % value)")


def test_nothing_binds_every_interface():
    configs = [PROJECT_ROOT / name for name in ("Makefile", "workspace.yaml", "dagster.yaml")]
    paths = SOURCES + [p for p in configs if p.exists()]
    assert offending_lines(re.compile(r"0\.0\.0\.0|host\s*=\s*[\"']::[\"']"), paths) == []


#: what a credential looks like in a file or a log line: cloud keys, private keys, tokens,
#: passwords assigned a literal, and URLs with a password in them
SECRET = re.compile(
    r"AKIA[0-9A-Z]{16}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\b(gh[pousr]_[A-Za-z0-9]{30,}|xox[abp]-[A-Za-z0-9-]{20,}|sk-[A-Za-z0-9]{32,})"
    r"|(password|passwd|secret|api[_-]?key|token)\s*[:=]\s*[\"'][^\"'\s]{6,}[\"']"
    r"|[a-z][a-z0-9+.-]*://[^/\s:@\"']+:(?!\*\*\*@)[^/\s@\"']+@",
    re.IGNORECASE,
)


def tracked_files() -> list[Path]:
    import subprocess

    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    paths = [PROJECT_ROOT / name.decode() for name in names if name]
    return [p for p in paths if p.is_file() and p.stat().st_size < 2_000_000]


def test_no_secrets_in_the_repository():
    hits = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary files (images) hold no text secrets
            continue
        hits += [
            f"{path.relative_to(PROJECT_ROOT)}: {m.group(0)[:12]}…"
            for m in SECRET.finditer(text)
            if m.group(0) not in SECRET_PATTERN_SAMPLES
        ]
    assert hits == []
    for sample in SECRET_PATTERN_SAMPLES:  # the pattern itself catches what it must
        assert SECRET.search(sample), sample


#: one credential of each kind, made up, that the pattern must catch (and this file may hold)
SECRET_PATTERN_SAMPLES = (
    "AKIA" + "ABCDEFGHIJKLMNOP",
    "-----BEGIN RSA " + "PRIVATE KEY-----",
    "password: 'hunter22'",
    "postgresql://bat:s3cret" + "@127.0.0.1/mlflow",
)


def test_passwords_of_urls_are_never_printed_or_logged():
    import logging

    from bat_pipeline.defs.loggers import _NoTraceFormatter
    from bat_pipeline.errors import redacted

    uri = "postgresql://bat:" + "s3cret-pw@127.0.0.1:5432/mlflow"
    assert redacted(f"cannot reach {uri}: refused") == (
        "cannot reach postgresql://bat:***@127.0.0.1:5432/mlflow: refused"
    )
    assert redacted("http://127.0.0.1:5000/#/models") == "http://127.0.0.1:5000/#/models"
    record = logging.LogRecord("bat", logging.ERROR, __file__, 1, f"tracking {uri}", None, None)
    line = _NoTraceFormatter("%(message)s").format(record)  # the run log on the terminal
    assert "s3cret-pw" not in line and "bat:***@" in line


def test_the_ui_servers_listen_on_loopback_and_mlflow_checks_the_host_header(tmp_path):
    from bat_pipeline.cli.ui import commands
    from bat_pipeline.home import BatHome

    lines = commands(BatHome(tmp_path / "bat"), 3000, 5000)
    webserver, mlflow = lines["dagster-webserver"], lines["mlflow"]
    assert webserver[webserver.index("-h") + 1] == "127.0.0.1"
    assert mlflow[mlflow.index("--host") + 1] == "127.0.0.1"
    # MLflow's host-header check (DNS rebinding) names loopback only, and no gunicorn options
    # bypass its middleware
    allowed = mlflow[mlflow.index("--allowed-hosts") + 1].split(",")
    assert allowed == ["127.0.0.1:5000", "localhost:5000"]
    assert not any(arg.startswith("--gunicorn-opts") for arg in mlflow)
    assert "0.0.0.0" not in " ".join(" ".join(line) for line in lines.values())
