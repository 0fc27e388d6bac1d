"""`bat-pipeline ui` refuses to keep Dagster's state in a temporary folder: the system may empty
it, and every run, schedule state and sensor cursor would go with it."""

import tempfile
from pathlib import Path

import pytest

from bat_pipeline.cli.dagster_home import temporary_root
from bat_pipeline.cli.main import build_parser, main
from bat_pipeline.cli.ui import check_persistent_home
from bat_pipeline.errors import EXIT_USAGE, UsageError
from bat_pipeline.home import BatHome


def refused(capsys, argv: list[str], home: Path) -> str:
    """Run `bat-pipeline ui ...`; assert it refused at once and return its one line."""
    code = main(["ui", *argv])
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE, (code, err)
    assert out == "" and err.count("\n") == 1, err
    # nothing was started or written: start() creates BAT_HOME, its logs and the servers' logs
    assert not home.exists(), sorted(p.name for p in home.rglob("*"))
    return err


def test_ui_refuses_a_home_under_the_temporary_folder(tmp_path, capsys):
    home = tmp_path / "bat"  # pytest's tmp_path lies under the system's temporary folder
    err = refused(capsys, ["--home", str(home), "--dagster-port", "1", "--mlflow-port", "2"], home)
    assert err.startswith("bat-pipeline ui: refusing to start: Dagster's state")
    assert str(home.resolve() / "dagster") in err  # where
    assert "set BAT_HOME (or --home) to a persistent folder" in err  # how to fix
    assert "--allow-temporary-home" in err


def test_ui_refuses_the_default_home_when_the_working_folder_is_temporary(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("BAT_HOME", raising=False)  # BAT_HOME unset: ./.bat
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    err = refused(capsys, [], tmp_path / ".bat")
    assert str(tmp_path.resolve() / ".bat" / "dagster") in err


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("/tmp/x/bat/dagster", "/tmp"),
        ("/var/tmp/bat/dagster", "/var/tmp"),
        ("/dev/shm/bat/dagster", "/dev/shm"),
    ],
)
def test_temporary_folders_are_recognised(path, root):
    assert temporary_root(Path(path)) == Path(root).resolve()


def test_the_tempdir_of_the_process_counts_too(monkeypatch):
    own = Path("/srv/scratch")  # not created: the check only compares paths
    monkeypatch.setattr(tempfile, "tempdir", str(own))  # what $TMPDIR sets
    assert temporary_root(own / "bat" / "dagster") == own
    assert temporary_root(Path("/srv/bat/dagster")) is None


def test_a_persistent_home_is_accepted_and_the_flag_lets_a_trial_through(tmp_path):
    check_persistent_home(BatHome(Path("/srv/bat-pipeline")))  # no exception
    check_persistent_home(BatHome(tmp_path / "bat"), allow_temporary_home=True)
    with pytest.raises(UsageError, match="refusing to start"):
        check_persistent_home(BatHome(tmp_path / "bat"))


def test_the_flag_is_documented_for_tests_and_trials(capsys):
    assert main(["ui", "--help"]) == 0
    ui_help = " ".join(capsys.readouterr().out.split())
    assert "--allow-temporary-home" in ui_help and "for tests and throwaway trials" in ui_help
    assert build_parser().parse_args(["ui"]).allow_temporary_home is False
