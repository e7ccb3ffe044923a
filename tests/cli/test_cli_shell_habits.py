"""``clipdesk-cli`` as a shell uses it: every command (listed from the parser, not by hand) ends
quietly into a closed pipe and refuses a device this machine lacks; ranges are checked while
parsing; reading commands never create a library; JSON holds plain values; help is plain text."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from clipdesk.cli import EXIT_BROKEN_PIPE, build_parser, main
from tests.support.cli_process import REPO_ROOT, cli, run_cli
from tests.support.pipeline_helpers import solid_photos

PHOTOS = 300  # enough for `--json search` to print well past a pipe's 64 KiB


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(build_parser()))
LEAVES = [
    path
    for path, parser in COMMANDS
    if path and not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
]


def _minimal_argv(path: tuple[str, ...]) -> list[str]:
    """The command with a placeholder for each argument it requires, so that it parses."""
    parser = dict(COMMANDS)[path]
    argv = list(path)
    for action in parser._actions:
        value = str(next(iter(action.choices))) if action.choices else "x"
        if not action.option_strings and action.nargs not in ("?", "*"):
            argv.append(value)
        elif action.option_strings and action.required:
            argv += [action.option_strings[0], value]
    return argv


@pytest.fixture(scope="module")
def library(tmp_path_factory, model_dir) -> list[str]:
    """A library of PHOTOS small photos, indexed and tagged with the tiny model: the global
    options."""
    home = tmp_path_factory.mktemp("shell")
    solid_photos(home / "Pictures", PHOTOS, size=(16, 16))
    base = ["--library", str(home / "lib.sqlite3"), "--model", str(model_dir), "--device", "cpu"]
    for step in (
        ["folders", "add", str(home / "Pictures")],
        ["index", "--no-ocr"],
        ["tags", "categories", "add", "Colour", "red", "blue", "--threshold", "0"],
    ):
        done = run_cli(*base, *step)
        assert done.returncode == 0, done.stderr
    return base


def _closed_pipe_run(*argv: str, read: int = 0) -> tuple[int, str]:
    """Run the CLI with stdout into a pipe whose reader reads ``read`` bytes, then goes away
    (0: gone before the command starts); its exit status and stderr."""
    reader, writer = os.pipe()
    if not read:
        os.close(reader)
    child = subprocess.Popen(
        [sys.executable, "-m", "clipdesk.cli", *argv],
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if k != "CLIPDESK_LIBRARY"},
        stdin=subprocess.DEVNULL,
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(writer)
    if read:
        got = os.read(reader, read)
        assert got, "the command printed nothing"
        os.close(reader)
    _, err = child.communicate(timeout=120)
    return child.returncode, err


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "-")
def test_every_command_s_help_ends_quietly_into_a_closed_pipe(path, monkeypatch, capsys):
    reader, writer = os.pipe()
    os.close(reader)
    with open(writer, "w", encoding="utf-8") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        code = main([*path, "--help"])
        monkeypatch.undo()  # before the with closes the file: main() pointed it at /dev/null
    assert code == EXIT_BROKEN_PIPE and capsys.readouterr().err == ""


# The commands that print what the library holds, run for real into a pipe closed before they
# start; each must be one the parser has (a renamed command fails here, not silently).
PRINTING = [
    ("status",),
    ("search", "red", "-k", "200"),
    ("--json", "search", "red", "-k", "200"),
    ("folders", "list"),
    ("models", "list"),
    ("tags", "categories", "list"),
    ("tags", "photos", "Colour|red", "--limit", "300"),
    ("tags", "review"),
    ("ocr", "status"),
    ("ann", "status"),
]


@pytest.mark.parametrize("argv", PRINTING, ids=" ".join)
def test_printing_commands_end_quietly_into_a_pipe_closed_before_they_write(library, argv):
    words = [a for a in argv if not a.startswith("-")]
    assert any(tuple(words[: len(p)]) == p for p in LEAVES), f"{argv} is no command of the parser"
    code, err = _closed_pipe_run(*library, *argv)
    assert code == EXIT_BROKEN_PIPE and "Traceback" not in err and "Exception" not in err, err


def test_more_than_64_kib_of_output_ends_quietly_when_the_reader_stops_after_a_few_bytes(
    library,
):
    done = run_cli(*library, "--json", "search", "red", "-k", str(PHOTOS))
    assert done.returncode == 0 and len(done.stdout.encode()) > 64 * 1024, done.stderr
    code, err = _closed_pipe_run(*library, "--json", "search", "red", "-k", str(PHOTOS), read=8)
    assert code == EXIT_BROKEN_PIPE and "Traceback" not in err and "Exception" not in err, err


@pytest.mark.parametrize("device", ["tpu", "cuda:7"])
@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_refuses_a_device_this_machine_lacks(path, device, tmp_path, capsys):
    library = tmp_path / "lib.sqlite3"
    argv = ["--library", str(library), "--device", device, *_minimal_argv(path)]
    if dict(COMMANDS)[path].get_default("reports_device"):  # doctor: a finding in its report
        code, out, err = cli(capsys, *argv, "--quick")
        assert code == 1 and f"'{device}'" in out and "cpu" in out, out + err
        return
    code, out, err = cli(capsys, *argv)
    assert code == 1 and out == "", err
    assert f"'{device}'" in err and "cpu" in err and "--device auto" in err
    assert not library.exists()


@pytest.mark.parametrize(
    "argv,words",
    [
        (["search", "red", "--min-score", "2"], "from 0 to 1"),
        (["search", "red", "--min-score", "-0.1"], "from 0 to 1"),
        (["search", "red", "--min-score", "nan"], "from 0 to 1"),
        (["search", "red", "-k", "0"], "1 or more"),
        (["search", "red", "--limit", "many"], "not a whole number"),
        (["tags", "photos", "A|b", "--limit", "0"], "1 or more"),
        (["index", "--batch-size", "0"], "1 or more"),
    ],
)
def test_option_ranges_are_usage_errors_that_say_the_range(argv, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--library", str(tmp_path / "lib.sqlite3"), *argv])
    assert stopped.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["search", "red"],
        ["--json", "search", "red"],
        ["folders", "list"],
        ["ocr", "status"],
        ["ann", "status"],
        ["tags", "photos", "Scene|beach"],
        ["tags", "review"],
        ["tags", "list", "1"],
        ["tags", "categories", "list"],
    ],
)
def test_reading_commands_never_create_a_library(argv, tmp_path):
    target = tmp_path / "new" / "dir" / "x.sqlite3"
    done = run_cli("--library", str(target), *argv)
    assert done.returncode == 1 and f"no library at {target}" in done.stderr
    assert "folders add" in done.stderr and not target.parent.parent.exists()


def test_adding_a_folder_creates_the_library_and_says_so(tmp_path):
    solid_photos(tmp_path / "P", 1, size=(16, 16))
    solid_photos(tmp_path / "Q", 1, size=(16, 16))
    target = tmp_path / "new" / "x.sqlite3"
    done = run_cli("--library", str(target), "folders", "add", str(tmp_path / "P"))
    assert done.returncode == 0 and f"created a new library at {target}" in done.stderr
    again = run_cli("--library", str(target), "folders", "add", str(tmp_path / "Q"))
    assert again.returncode == 0 and "created" not in again.stderr


def test_json_query_fields_hold_the_query_as_written(library, capsys):
    code, out, err = cli(capsys, *library, "--json", "search", "blue star", "-k", "1")
    assert code == 0 and json.loads(out)["query"] == "blue star", err
    code, out, err = cli(capsys, *library, "--json", "search", "text:trips -text:draft")
    assert code == 0 and json.loads(out)["query"] == "text:trips -text:draft", err


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "-")
def test_every_command_s_help_is_plain_text_with_a_description(path):
    parser = dict(COMMANDS)[path]
    text = parser.format_help()
    assert "``" not in text and ":mod:" not in text and parser.description, text


def test_every_command_and_subcommand_has_a_one_line_help():
    for _, parser in COMMANDS:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {c.dest: c.help for c in action._choices_actions}
                for name in action.choices:
                    assert helps.get(name) and "\n" not in helps[name], name
