"""The README's two fresh-machine commands are what CI runs, and the scripts they name exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_commands_match_ci():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(bash scripts/\S+\.sh)\n```", readme)
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:
        assert command in ci
        assert (ROOT / command.split()[1]).is_file()
    demo = (ROOT / "scripts" / "demo.sh").read_text()
    assert "--data-dir synthetic" in demo and "--model tiny" in demo and "HF_HUB_OFFLINE=1" in demo
    assert "--extractor-config tiny" in demo and "ibench report" in demo
    assert "pytest" in (ROOT / "scripts" / "test.sh").read_text()
