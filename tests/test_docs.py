"""What a new user meets first: the README's commands and CI agree."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.*?)\n```", text, flags=re.S)


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) >= 2
    main, tests = commands[0], commands[1]
    assert "paxoscope check" in main
    assert "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines()


def test_readme_shows_the_bug_gallery_as_the_command_prints_it(capsys):
    from paxoscope.cli import main

    assert main(["bugs"]) == 0
    listing = capsys.readouterr().out
    assert "$ paxoscope bugs\n" + listing in (ROOT / "README.md").read_text()


def test_readme_shows_a_lincheck_failure_as_the_command_prints_it(capsys, monkeypatch):
    from paxoscope.cli import main

    monkeypatch.chdir(ROOT)
    history = "tests/data/histories/c01-bad.txt"
    assert main(["lincheck", history]) == 1
    report = capsys.readouterr().out
    shown = re.search(rf"\$ paxoscope lincheck {history}\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert shown is not None

    def untimed(text: str) -> str:
        return re.sub(r"\d+\.\d+ s\)", "s)", text)

    assert untimed(shown.group(1)) == untimed(report)


def workflow_commands() -> list[str]:
    workflow = (ROOT / "examples" / "ci" / "paxoscope.yml").read_text()
    return re.findall(r"run: paxoscope (.+)", workflow)


def test_every_command_of_the_example_ci_workflow_parses_and_is_strict():
    import shlex

    from paxoscope.cli import build_parser

    commands = workflow_commands()
    assert commands and all(c.split()[0] == "check" for c in commands)
    for command in commands:
        args = build_parser().parse_args(shlex.split(command))  # a bad option exits 2 here
        assert args.command == "check"
        assert args.strict, command
    gates = [c for c in commands if "--against" in c]
    assert gates and not any("pins/builtin.json" in c for c in gates)  # the user's pins, not paxoscope's own


def test_the_example_ci_workflow_installs_paxoscope_as_a_user_does():
    workflow = (ROOT / "examples" / "ci" / "paxoscope.yml").read_text()
    installs = re.findall(r"run: python -m pip install (.+)", workflow)
    assert installs == ['"$PAXOSCOPE" pytest']  # where the user's project gets paxoscope, not this checkout
    assert "paxoscope @ git+https://" in workflow  # the default says what form that takes
    assert "pip install ." not in workflow and "pip install -e" not in workflow


def test_the_example_ci_workflow_passes_on_the_example_user_project(tmp_path):
    """The workflow's paxoscope steps, run in a copy of examples/lockservice (a user's project)."""
    import os
    import shlex
    import shutil
    import subprocess
    import sys

    project = tmp_path / "lockservice"
    shutil.copytree(ROOT / "examples" / "lockservice", project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOCKSERVICE_BUG")}
    for command in workflow_commands():
        # -P: the current directory is not on sys.path, as for the installed `paxoscope` script.
        proc = subprocess.run(
            [sys.executable, "-P", "-m", "paxoscope.cli", *shlex.split(command)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
    assert (project / "reports" / "pins.xml").exists()


def test_the_readmes_check_options_example_runs_as_written():
    """The README's Python example of CheckOptions, an observer and an extra invariant runs, asserts included."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\nfrom paxoscope import CheckOptions")
    code = text[start + len("```python\n") : text.index("```", start + 3)]
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
