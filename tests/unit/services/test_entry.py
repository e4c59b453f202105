"""josev-iso15118's own entry point: the options of `josev iso15118 run`, none of the rest.

Why it matters: the unit starts the service with it so that the process does not carry the
other areas of the josev CLI (the HAL, the PKI tools with cryptography, the demo) in memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from josev.services import iso15118


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings}


def test_lean_entry_takes_the_same_options_as_the_cli() -> None:
    cli = argparse.ArgumentParser()
    iso15118.register(cli.add_subparsers())
    sub = next(a for a in cli._actions if isinstance(a, argparse._SubParsersAction))
    iso = sub.choices["iso15118"]
    run = next(a for a in iso._actions
               if isinstance(a, argparse._SubParsersAction)).choices["run"]
    lean = iso15118.build_parser()
    assert _options(lean) - {"-v", "--verbose"} == _options(run)
    args = lean.parse_args(["--username", "iso15118", "--password-file", "/run/pw",
                            "--protocols", "ISO20_DC,DIN", "--no-slac"])
    assert args.username == "iso15118" and args.no_slac and args.protocols == "ISO20_DC,DIN"


def test_lean_entry_loads_no_other_area() -> None:
    code = (
        "import sys, json\n"
        "import josev.services.__main__\n"
        "from josev.services.iso15118 import build_parser\n"
        "build_parser().parse_args(['--username', 'u'])\n"
        "from josev.secc.common.core import SeccCore\n"          # and what a session loads
        "import josev.exi.generated.din, josev.exi.generated.iso20_DC\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    loaded = set(json.loads(out.stdout))
    assert "josev.services.hlc" in loaded  # the service itself is there
    # pydantic: the service validates with the classes compiled from the models (josev.lean),
    # ~13 MB less resident memory
    for other in ("josev.cli", "josev_hal", "josev.pki", "cryptography", "josev.demo",
                  "josev.evcc", "josev.exi.cli", "josev.netsim", "pydantic", "pydantic_core",
                  "annotated_types", "josev.api.models"):
        assert other not in loaded, f"{other} loaded by josev-iso15118's entry point"


def test_lean_entry_turns_the_collector_off_before_the_imports() -> None:
    """gc is off from the entry on; run_service turns it on again once the imports are done
    (tests/integration/services/test_boot.py). A config error ends the process before."""
    code = (
        "import gc, sys\n"
        "import josev.services.__main__ as entry\n"
        "assert gc.isenabled()\n"
        "rc = entry.main(['--config', '/nonexistent/josev.toml'])\n"
        "print(rc, gc.isenabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["78", "False"]


def test_python_m_runs_the_lean_entry() -> None:
    out = subprocess.run([sys.executable, "-m", "josev.services", "--help"],
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.startswith("usage: josev-iso15118")
    assert "--password-file" in out.stdout


def test_bad_settings_from_the_file_or_the_flags_end_with_78(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """EX_CONFIG and one line that names the setting, before anything starts: a protocol
    typo in josev.toml, an out-of-range flag."""
    bad = tmp_path / "josev.toml"
    bad.write_text('[iso15118]\nprotocols = ["ISO20_DC", "DINN"]\n')
    assert iso15118.main(["--config", str(bad)]) == 78
    assert "unknown protocol(s) ['DINN']" in caplog.text
    good = tmp_path / "empty.toml"
    good.write_text("")
    assert iso15118.main(["--config", str(good), "--port", "0"]) == 78
    assert "invalid setting: port: Input should be greater than or equal to 1" in caplog.text
