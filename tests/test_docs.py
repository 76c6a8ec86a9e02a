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


def test_every_command_of_the_example_ci_workflow_parses():
    import shlex

    from paxoscope.cli import build_parser

    workflow = (ROOT / "examples" / "ci" / "paxoscope.yml").read_text()
    commands = re.findall(r"run: paxoscope (.+)", workflow)
    assert {c.split()[0] for c in commands} >= {"check", "prove", "conform"}
    for command in commands:
        args = build_parser().parse_args(shlex.split(command))  # a bad option exits 2 here
        assert args.command == command.split()[0]
