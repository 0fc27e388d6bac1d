"""Browser test of the two UIs a user works in: Dagster (launch, follow, read the gate checks)
and MLflow (the new run's metrics, the registered version holding `champion`).

It drives Debian's Chromium (`/usr/bin/chromium`, installed by `make browser`) with Playwright;
nothing is downloaded at run time. Every store lives under tmp_path; the servers bind to free
loopback ports and are stopped even when the test fails. Screenshots of every step go to
`test-artifacts/screenshots/` (plus `99_failure.png` and the server log tails on a failure).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from bat_pipeline.home import PROJECT_ROOT
from bat_pipeline.policy.gates import GATE_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # without these Chromium keeps calling home, which floods a closed network
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
GATES = GATE_NAMES
RUN_TIMEOUT_S = 480
FIRST_DAY = date(2026, 1, 1)
LAST_DAY = "2026-03-11"  # 70 days
UI_TIMEOUT_MS = 60_000

# Typed into the launchpad: tiny windows and model so the run takes about a minute on two
# cores, and gates that a two-epoch model passes (the gates themselves are tested elsewhere).
# (The jobs run their steps in the run worker: bat_pipeline/jobs.py sets the in-process
# executor, so the launchpad needs no execution block.)
LAUNCHPAD_CONFIG = """\
ops:
  user_activity:
    config:
      lookback_days: 21
  training_samples:
    config:
      lookback_days: 21
      horizon_days: 7
      cutoff_every_days: 7
  candidate_model:
    config:
      hidden_size: 16
      num_layers: 1
      max_epochs: 2
      batch_size: 64
      accelerator: cpu
  model_evaluation:
    config:
      min_accuracy: 0.0
      must_beat_majority: false
      min_balanced_accuracy: 0.0
      min_auc: 0.0
      max_loss_gap: 1.0
      must_beat_baseline: false
"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } }
}
"""
RUN_ERRORS = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId, limit: 2000) {
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message stepKey }
        ... on ExecutionStepFailureEvent { error { message } }
        ... on RunFailureEvent { error { message } }
      }
    }
  }
}
"""
CHECK_RESULTS = """
{
  assetNodes(assetKeys: [{path: ["model_evaluation"]}]) {
    assetChecksOrError {
      ... on AssetChecks { checks { name executionForLatestMaterialization { status } } }
    }
  }
}
"""


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI: run `make browser` (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} not installed (`make browser` installs Debian's chromium)")


def _log_tails(home, lines: int = 40) -> str:
    parts = []
    for log in sorted((home.root / "logs").glob("*.log")):
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
        parts.append(f"--- {log.name} (last {lines} lines) ---\n" + "\n".join(text[-lines:]))
    return "\n".join(parts) or "(no server logs)"


def _graphql(dagster_url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        dagster_url + "/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    if payload.get("errors"):
        raise AssertionError(f"Dagster GraphQL error: {payload['errors']}")
    return payload["data"]


def _run_errors(dagster_url: str, run_id: str) -> str:
    try:
        data = _graphql(dagster_url, RUN_ERRORS, {"runId": run_id})
    except Exception as exc:  # only used to explain a failure
        return f"(could not read the run's events: {exc})"
    lines = []
    for event in data["logsForRun"].get("events", []):
        if event["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent"):
            error = (event.get("error") or {}).get("message", "")
            lines.append(f"{event.get('stepKey') or '-'}: {event['message']} {error}".strip())
    return "\n".join(lines[-10:]) or "(no failure events)"


def _shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on TCP `port` (from /proc/net/tcp and
    tcp6): "0.0.0.0" or "::" would mean every interface."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        lines = Path(table).read_text().splitlines()[1:] if Path(table).exists() else []
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address)
            if width == 8:
                found.add(".".join(str(b) for b in reversed(raw)))
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                found.add(str(ipaddress.IPv6Address(words)))
    return found


@pytest.fixture
def ui_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A BAT_HOME with 70 days of a 200-customer shop ingested by Dagster's `ingest_job` (so
    `raw_events` shows as materialised), and the three servers running on it."""
    _require_chromium()  # before the minute of set-up
    import yaml

    from bat_pipeline.cli import ui
    from bat_pipeline.cli.dagster_runs import run_job
    from bat_pipeline.contract import DEFAULT_EVENT_TYPES
    from bat_pipeline.data.synthetic import generate
    from bat_pipeline.home import BatHome

    home = BatHome(tmp_path / "bat").ensure()
    monkeypatch.setenv("BAT_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))
    # 200 customers make noisy days: widen the volume check, and name the vocabulary (the first
    # day of so small a shop has no remove_from_cart or support_chat to learn it from).
    data_config = {"event_types": list(DEFAULT_EVENT_TYPES), "volume_tolerance": 5.0}
    (home.root / "bat.yaml").write_text(yaml.safe_dump({"data": data_config}), encoding="utf-8")
    generate(home.landing, users=200, days=70, seed=11, start=FIRST_DAY)
    ingest = run_job(home, "ingest_job", partition_range=(FIRST_DAY.isoformat(), LAST_DAY))
    assert ingest.success, "ingest_job failed on the generated days"

    dagster_port = ui.free_port()
    mlflow_port = ui.free_port()
    while mlflow_port == dagster_port:
        mlflow_port = ui.free_port()
    servers = ui.start(home, dagster_port, mlflow_port, allow_temporary_home=True)  # tmp_path
    try:
        try:
            ui.wait_until_up(servers, timeout=240)
        except RuntimeError as exc:
            pytest.fail(f"{exc}\n\n{_log_tails(home)}")
        for port in (dagster_port, mlflow_port):  # the servers listen on loopback only
            assert listening_addresses(port) == {"127.0.0.1"}, (port, listening_addresses(port))
        yield home, servers
    finally:
        servers.stop()


def test_launch_training_from_dagster_ui_then_find_it_in_mlflow(ui_stack):
    from playwright.sync_api import sync_playwright

    home, servers = ui_stack
    (SCREENSHOTS / "99_failure.png").unlink(missing_ok=True)
    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        _dismiss_popups(page)
        run_id = None
        try:
            run_id = _dagster_launch_and_follow(page, servers)
            _dagster_gate_checks(page, servers)
            _dagster_lineage(page, servers)
            _mlflow_run(page, servers, run_id)
            _mlflow_champion(page, servers)
        except Exception as exc:
            try:
                _shot(page, "99_failure")
            except Exception as shot_exc:
                exc.add_note(f"(failure screenshot not taken: {shot_exc})")
            run_info = (
                f"Dagster run {run_id} failure events:\n{_run_errors(servers.dagster_url, run_id)}"
                if run_id
                else "(no run launched)"
            )
            pytest.fail(
                f"{type(exc).__name__}: {exc}\n\npage: {page.url}\n"
                f"screenshot: {SCREENSHOTS / '99_failure.png'}\n\n{run_info}\n\n{_log_tails(home)}",
                pytrace=True,
            )
        finally:
            browser.close()
    print(f"browser part took {time.monotonic() - started:.0f} s; screenshots in {SCREENSHOTS}")


def _dismiss_popups(page) -> None:
    """Close the first-visit pop-ups of both UIs whenever they get in the way."""
    # Dagster: "Join the Dagster community" modal
    page.add_locator_handler(
        page.get_by_role("button", name="Skip", exact=True), lambda skip: skip.click()
    )
    # MLflow: "new Model Registry UI" announcement
    page.add_locator_handler(
        page.get_by_role("dialog").filter(has_text="new Model Registry UI"),
        lambda dialog: dialog.get_by_role("button", name="Close").first.click(),
    )
    # MLflow: the Assistant side panel that opens on first visit and covers a third of the page
    page.add_locator_handler(
        page.get_by_text("Ask questions about your experiments"),
        lambda _: page.get_by_role("button", name="Close", exact=True).first.click(),
    )


def _dagster_launch_and_follow(page, servers) -> str:
    from playwright.sync_api import expect

    page.goto(servers.dagster_url + "/")
    page.get_by_role("link", name=re.compile(r"\bJobs$")).click()
    page.get_by_role("link", name=re.compile(r"\btraining_job\b")).click()
    expect(page.get_by_text("Materialize all").first).to_be_visible()
    # the arrow beside "Materialize all" opens the menu with "Open launchpad"
    page.get_by_role("button", name="arrow_drop_down", exact=True).first.click()
    page.get_by_role("menuitem", name=re.compile(r"Open launchpad")).click()
    launchpad = page.get_by_role("dialog").filter(has_text="Launchpad")
    editor = launchpad.locator(".CodeMirror").first
    expect(editor).to_contain_text("candidate_model")  # the scaffolded default config
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(LAUNCHPAD_CONFIG)
    expect(editor).to_contain_text("must_beat_baseline")
    expect(launchpad.get_by_text("No errors", exact=True)).to_be_visible()
    _shot(page, "01_dagster_launchpad")

    launchpad.get_by_role("button", name=re.compile(r"Materialize$")).click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]{36}.*"), timeout=UI_TIMEOUT_MS)
    run_id = re.search(r"/runs/([0-9a-f-]{36})", page.url).group(1)

    # The page follows the run by itself; the API says when it is over (and why, if it failed).
    deadline = time.monotonic() + RUN_TIMEOUT_S
    status = None
    while time.monotonic() < deadline:
        dead = servers.dead()
        assert not dead, f"{', '.join(dead)} exited during the run"
        data = _graphql(servers.dagster_url, RUN_STATUS, {"runId": run_id})["runOrError"]
        status = data.get("status")
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        page.wait_for_timeout(3000)
    assert status == "SUCCESS", f"run {run_id} ended {status} (timeout {RUN_TIMEOUT_S} s)"
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible()
    _shot(page, "02_dagster_run_success")
    return run_id


def _dagster_gate_checks(page, servers) -> None:
    from playwright.sync_api import expect

    page.goto(servers.dagster_url + "/assets/model_evaluation")
    page.get_by_role("tab", name="Checks").or_(
        page.get_by_role("link", name="Checks")
    ).first.click()
    expect(page.get_by_text(f"Checks ({len(GATES)})")).to_be_visible()
    for gate in GATES:
        expect(page.get_by_text(f"gate_{gate}", exact=True).first).to_be_visible()
    expect(page.get_by_text("Succeeded", exact=True)).to_have_count(len(GATES))
    page.get_by_text("gate_min_accuracy", exact=True).first.click()
    expect(page.get_by_text("This is a", exact=False).first).to_be_visible()
    expect(page.get_by_text("Passed", exact=True).first).to_be_visible()
    _shot(page, "03_dagster_gate_checks")

    checks = _graphql(servers.dagster_url, CHECK_RESULTS)["assetNodes"][0]
    results = {
        c["name"]: (c["executionForLatestMaterialization"] or {}).get("status")
        for c in checks["assetChecksOrError"]["checks"]
    }
    assert results == {f"gate_{g}": "SUCCEEDED" for g in GATES}, results


def _dagster_lineage(page, servers) -> None:
    from playwright.sync_api import expect

    page.goto(servers.dagster_url + "/")
    page.get_by_role("link", name=re.compile(r"\bLineage$")).click()
    expect(page.get_by_text("Global asset lineage").first).to_be_visible()
    for group in ("ingestion", "quality", "features", "training", "evaluation", "monitoring"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    # hide the group list, then open every group so the assets show (right-click on the canvas)
    page.get_by_role("button", name="panel_show_right", exact=True).click()
    canvas = page.locator("svg").last
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 200, box["y"] + box["height"] - 60, button="right")
    page.get_by_role("menuitem", name="Expand all groups").click()
    expect(page.get_by_text("model_evaluation", exact=True).first).to_be_visible()
    expect(page.get_by_text("candidate_model", exact=True).first).to_be_visible()
    page.wait_for_timeout(1500)  # the graph animates into its new layout
    _shot(page, "04_dagster_asset_lineage")


def _mlflow_run(page, servers, dagster_run_id: str) -> None:
    from playwright.sync_api import expect

    page.goto(servers.mlflow_url + "/")
    # MLflow 3 opens in its GenAI mode; the training runs are under "Model training"
    page.get_by_text("Model training", exact=True).first.click()
    page.get_by_role("link", name="bat_pipeline", exact=True).first.click()
    # the run launched from the UI is a "manual" one (a drift-triggered retrain would say so)
    run_link = page.get_by_role("link", name=re.compile(r"^lstm · as-of .* · manual$"))
    expect(run_link.first).to_be_visible()
    _shot(page, "05_mlflow_runs")

    run_link.first.click()
    expect(page.get_by_role("heading", name=re.compile(r"lstm")).first).to_be_visible()
    expect(page.get_by_text(dagster_run_id).first).to_be_attached()  # linked back to Dagster
    search = page.get_by_placeholder("Search metrics")
    search.fill("test/")
    row = page.get_by_role("row").filter(has=page.get_by_text("test/auc", exact=True))
    expect(row.first).to_be_visible()
    expect(row.first).to_contain_text(re.compile(r"\b0?\.\d+|\b1(\.0+)?\b"))
    row.first.scroll_into_view_if_needed()
    _shot(page, "06_mlflow_run_metrics")


def _mlflow_champion(page, servers) -> None:
    from playwright.sync_api import expect

    page.goto(servers.mlflow_url + "/")
    page.get_by_text("Model training", exact=True).first.click()
    page.get_by_role("link", name="Model registry").first.click()
    page.get_by_role("link", name="bat_behaviour_lstm", exact=True).first.click()
    version_row = page.get_by_role("row").filter(
        has=page.get_by_role("link", name="Version 1", exact=True)
    )
    expect(version_row).to_be_visible()
    expect(version_row).to_contain_text("champion")
    _shot(page, "07_mlflow_model_champion")
