"""Shared options: every command that has one spells, fills and defaults it the same way."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from hub_lineage.cli.main import COMMANDS, cli
from hub_lineage.cli.options import json_option, offline_option, store_option
from mergekit_hooks.cli import preflight_command

#: option -> (parameter it fills, default)
SHARED = {"--store": ("store_path", None), "--predictor": ("predictor_dir", None), "--offline": ("offline", None),
          "--json": ("as_json", False), "--endpoint": ("endpoint", None)}


def _commands() -> list[click.Command]:
    return [*(cli.get_command(click.Context(cli), name) for name in sorted(COMMANDS)), preflight_command]


@pytest.mark.parametrize("command", _commands(), ids=lambda c: c.name)
def test_shared_options_fill_the_same_parameter_with_the_same_default(command):
    for param in command.params:
        shared = [SHARED[flag] for flag in param.opts if flag in SHARED]
        if shared:
            default = param.get_default(click.Context(command))
            assert (param.name, default) == shared[0], (command.name, param.opts)
            assert param.is_flag or "(default: " in (param.help or ""), (command.name, param.opts)


def test_offline_follows_hf_hub_offline_unless_given(monkeypatch):
    @click.command()
    @store_option("Store to read")
    @offline_option()
    @json_option()
    def show(store_path, offline, as_json):
        click.echo(f"{store_path} {offline} {as_json}")

    runner = CliRunner()
    assert runner.invoke(show, []).output == "None False False\n"
    assert runner.invoke(show, ["--offline", "--json", "--store", "s.db"]).output == "s.db True True\n"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert runner.invoke(show, []).output == "None True False\n"
    assert "Store to read (default: $HUB_LINEAGE_HOME/store.sqlite)." in runner.invoke(show, ["--help"]).output


def test_one_blas_thread_starts_numpy_with_one_blas_thread_and_keeps_a_users_value():
    import os
    import subprocess
    import sys

    code = ("import os; from hub_lineage.cli.options import one_blas_thread; one_blas_thread(); import numpy; "
            "from threadpoolctl import threadpool_info; "
            "print(os.environ['OPENBLAS_NUM_THREADS'], max(i['num_threads'] for i in threadpool_info() "
            "if i['user_api'] == 'blas'))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OPENBLAS_NUM_THREADS": "2"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "2"
    # numpy already imported (the CLI called in-process): nothing is set
    code = "import os, numpy; from hub_lineage.cli.options import one_blas_thread; one_blas_thread(); " \
           "print('OPENBLAS_NUM_THREADS' in os.environ)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
