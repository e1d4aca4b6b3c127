"""Board files' [deploy] table, the search path for boards (--boards-dir, $TINYEDGE_BOARDS_DIR), boards
that run another board's runner build, and `tinyedge boards`.

The [build]/[emulate] rules and the cross builds are tested in test_cross_build.py.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from tinyedge.boards import (BOARDS_DIR, BoardError, board_dirs, board_names, load_board,
                             load_board_file, load_boards, load_runner_board)
from tinyedge.cli import boards as boards_cmd

ISSUE_BOARDS = {"pi5", "pi4", "pi3", "pizero2w", "aarch64-linux", "armv7-linux", "android-arm64",
                "host", "emulated-pi4"}

VALID = """\
name = "board"
description = "a test board"
arch = "aarch64"
uname_m = "aarch64"

[build]
zig_target = "aarch64-linux-musl"
zig_cpu = "cortex_a72"
gcc_cpu_flags = ["-mcpu=cortex-a72"]

[emulate]
qemu_cpu = "cortex-a72"

[deploy]
remote_dir = "/var/tmp/tinyedge"
"""

EMULATED = """\
name = "board"
description = "a test board run under qemu"
arch = "aarch64"
uname_m = "aarch64"

[deploy]
remote_dir = "/tmp/tinyedge"
runner = "pi4"
exec_prefix = ["qemu-aarch64", "-cpu", "cortex-a72"]
"""

BAD = {
    # case: (base text, text replaced, replacement, words the error must contain)
    "no deploy table": (VALID, '[deploy]\nremote_dir = "/var/tmp/tinyedge"\n', "",
                        ["missing table '[deploy]'", "remote_dir"]),
    "no remote dir": (VALID, 'remote_dir = "/var/tmp/tinyedge"', "",
                      ["missing field 'deploy.remote_dir'"]),
    "relative remote dir": (VALID, '"/var/tmp/tinyedge"', '"tinyedge"',
                            ["deploy.remote_dir", "not an absolute path"]),
    "dot-dot in remote dir": (VALID, '"/var/tmp/tinyedge"', '"/var/tmp/../etc"',
                              ["deploy.remote_dir", ".."]),
    "newline in remote dir": (VALID, '"/var/tmp/tinyedge"', '"/var/tmp/a\\nb"',
                              ["deploy.remote_dir", "control character"]),
    "unknown deploy field": (VALID, 'remote_dir = "/var/tmp/tinyedge"',
                             'remote_dir = "/var/tmp/tinyedge"\nremote_user = "pi"',
                             ["unknown field 'deploy.remote_user'"]),
    "remote dir not a string": (VALID, '"/var/tmp/tinyedge"', "42", ["deploy.remote_dir", "str"]),
    "empty exec prefix": (EMULATED, '["qemu-aarch64", "-cpu", "cortex-a72"]', "[]",
                          ["deploy.exec_prefix", "empty"]),
    "exec prefix as one string": (EMULATED, '["qemu-aarch64", "-cpu", "cortex-a72"]',
                                  '["qemu-aarch64 -cpu cortex-a72"]',
                                  ["deploy.exec_prefix", "separate strings"]),
    "exec prefix not a list": (EMULATED, '["qemu-aarch64", "-cpu", "cortex-a72"]',
                               '"qemu-aarch64"', ["deploy.exec_prefix", "list"]),
    "bad runner name": (EMULATED, 'runner = "pi4"', 'runner = "Pi 4"',
                        ["deploy.runner", "not a board name"]),
    "build table with a borrowed runner": (EMULATED, "[deploy]",
                                           '[emulate]\nqemu_cpu = "cortex-a72"\n\n[deploy]',
                                           ["table '[emulate]' does not apply", "deploy.runner"]),
    "host with an exec prefix": (VALID.split("[build]")[0].replace('uname_m = "aarch64"\n', "")
                                 .replace('"aarch64"', '"host"') +
                                 '[deploy]\nremote_dir = "/tmp/t"\n', 'remote_dir = "/tmp/t"',
                                 'remote_dir = "/tmp/t"\nexec_prefix = ["qemu-x86_64"]',
                                 ["deploy.exec_prefix", "does not apply to arch 'host'"]),
}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text.replace('name = "board"', f'name = "{name}"'))
    return path


def test_the_issue_boards_are_all_there_and_valid():
    boards = load_boards()
    assert ISSUE_BOARDS <= set(boards)
    for board in boards.values():
        assert board.deploy is not None and board.deploy.remote_dir.startswith("/"), board.name
        assert load_runner_board(board).arch == board.arch


def test_emulated_pi4_runs_the_pi4_build_under_qemu():
    board = load_board("emulated-pi4")
    assert board.is_emulated and board.runner_board == "pi4"
    assert board.deploy.exec_prefix == ("qemu-aarch64", "-cpu", "cortex-a72")
    pi4 = load_runner_board(board)
    # the prefix names the CPU model the pi4 build is tested on under qemu
    assert pi4.name == "pi4" and pi4.emulate.qemu_cpu == board.deploy.exec_prefix[2]
    assert board.build is None and board.emulate is None


def test_android_runs_the_generic_aarch64_build_from_data_local_tmp():
    board = load_board("android-arm64")
    assert board.deploy.remote_dir == "/data/local/tmp/tinyedge" and not board.is_emulated
    assert load_runner_board(board).name == "aarch64-linux"


def test_real_boards_run_their_own_build_natively():
    for name in ("pi4", "pi5", "host", "armv7-linux"):
        board = load_board(name)
        assert board.runner_board == name and not board.is_emulated


@pytest.mark.parametrize("case", BAD)
def test_bad_deploy_table_names_the_file_and_field(case, tmp_path):
    base, old, new, words = BAD[case]
    assert old in base
    path = write(tmp_path, "board", base.replace(old, new))
    with pytest.raises(BoardError) as e:
        load_board(path)
    for w in [str(path), *words]:
        assert w in str(e.value), f"{case}: {e.value}"


def test_runner_must_name_a_known_board_of_the_same_arch_with_its_own_build(tmp_path):
    write(tmp_path, "pi4-on-qemu", EMULATED)
    assert load_board("pi4-on-qemu", tmp_path).runner_board == "pi4"
    cases = {
        "nosuch": ["deploy.runner", "unknown board 'nosuch'"],
        "armv7-linux": ["deploy.runner", "arch 'armv7'", "arch 'aarch64'"],
        "emulated-pi4": ["deploy.runner", "no runner build of its own", "'pi4'"],
    }
    for runner, words in cases.items():
        path = write(tmp_path, "borrower", EMULATED.replace('runner = "pi4"', f'runner = "{runner}"'))
        with pytest.raises(BoardError) as e:
            load_board("borrower", tmp_path)
        for w in [str(path), *words]:
            assert w in str(e.value), f"{runner}: {e.value}"


def test_boards_dir_comes_before_the_builtin_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYEDGE_BOARDS_DIR", raising=False)
    assert board_dirs() == [BOARDS_DIR]
    assert board_dirs(tmp_path) == [tmp_path, BOARDS_DIR]
    # a user pi4 with another remote dir hides the built-in one, and serves emulated-pi4 too
    write(tmp_path, "pi4", (BOARDS_DIR / "pi4.toml").read_text()
          .replace("/var/tmp/tinyedge", "/home/pi/te"))
    write(tmp_path, "mine", VALID)
    assert load_board("pi4", tmp_path).deploy.remote_dir == "/home/pi/te"
    assert load_board("pi4").deploy.remote_dir == "/var/tmp/tinyedge"
    assert load_runner_board(load_board("emulated-pi4", tmp_path), tmp_path).path == tmp_path / "pi4.toml"
    assert "mine" in board_names(tmp_path) and "mine" not in board_names()
    with pytest.raises(BoardError, match="unknown board 'mine'"):
        load_board("mine")


def test_environment_variable_gives_the_user_folder(tmp_path, monkeypatch):
    write(tmp_path, "mine", VALID)
    monkeypatch.setenv("TINYEDGE_BOARDS_DIR", str(tmp_path))
    assert board_dirs() == [tmp_path, BOARDS_DIR]
    assert load_board("mine").path == tmp_path / "mine.toml"
    other = tmp_path / "other"
    other.mkdir()
    assert board_dirs(other)[0] == other, "--boards-dir wins over the environment"


def test_missing_user_folder_is_an_error_naming_where_it_came_from(tmp_path, monkeypatch):
    with pytest.raises(BoardError, match=r"--boards-dir .*nope: no such directory"):
        board_dirs(tmp_path / "nope")
    monkeypatch.setenv("TINYEDGE_BOARDS_DIR", str(tmp_path / "gone"))
    with pytest.raises(BoardError, match=r"\$TINYEDGE_BOARDS_DIR .*gone: no such directory"):
        load_board("pi4")


# --- `tinyedge boards` ---------------------------------------------------------------------------

def run_boards(*argv) -> int:
    """`tinyedge boards` through its own parser (the command module, as the CLI registers it)."""
    parser = argparse.ArgumentParser(prog="tinyedge")
    boards_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["boards", *argv])
    return args.func(args, Console(width=250, highlight=False))


def test_boards_lists_every_board_with_its_deploy_settings(capsys, monkeypatch):
    monkeypatch.delenv("TINYEDGE_BOARDS_DIR", raising=False)
    assert run_boards() == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert ISSUE_BOARDS <= set(lines)
    assert lines["emulated-pi4"].split()[1:4] == ["aarch64", "cortex-a72", "pi4"]
    assert "qemu-aarch64 -cpu cortex-a72" in lines["emulated-pi4"]
    assert "/data/local/tmp/tinyedge" in lines["android-arm64"]
    assert lines["pi5"].split()[1:5] == ["aarch64", "cortex-a76", "pi5", "no"]
    assert "built-in" not in out, "the source column appears only with a user folder"


def test_boards_with_a_broken_file_lists_the_others_and_fails(tmp_path, capsys):
    write(tmp_path, "mine", VALID)
    write(tmp_path, "broken", VALID.replace('arch = "aarch64"', 'arch = "riscv64"'))
    shutil.copy(BOARDS_DIR / "pi3.toml", tmp_path / "pi3.toml")
    assert run_boards("--boards-dir", str(tmp_path)) == 1
    captured = capsys.readouterr()
    lines = {line.split()[0]: line for line in captured.out.splitlines()[1:] if line.strip()}
    assert ISSUE_BOARDS | {"mine", "broken"} <= set(lines)
    assert lines["mine"].rstrip().endswith(str(tmp_path))
    assert lines["pi3"].rstrip().endswith(str(tmp_path)), "the user's pi3 hides the built-in one"
    assert lines["pi4"].rstrip().endswith("built-in")
    assert "error" in lines["broken"]
    assert f"{tmp_path / 'broken.toml'}: field 'arch'" in captured.err


def test_boards_with_a_missing_folder_fails(tmp_path):
    with pytest.raises(BoardError, match="no such directory"):
        run_boards("--boards-dir", str(tmp_path / "nope"))


def test_a_board_file_given_by_path_finds_its_runner_next_to_it(tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    write(folder, "mypi", VALID)
    path = write(folder, "qemu-mypi", EMULATED.replace('runner = "pi4"', 'runner = "mypi"'))
    board = load_board(path)
    assert load_runner_board(board).path == folder / "mypi.toml"
    assert load_board_file(path).runner_board == "mypi"


def test_boards_on_a_terminal_is_a_table(capsys, monkeypatch):
    monkeypatch.delenv("TINYEDGE_BOARDS_DIR", raising=False)
    parser = argparse.ArgumentParser(prog="tinyedge")
    boards_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["boards"])
    assert args.func(args, Console(width=250, force_terminal=True, color_system=None)) == 0
    out = capsys.readouterr().out
    for name in ISSUE_BOARDS:
        assert f"\n{name} " in out, name
