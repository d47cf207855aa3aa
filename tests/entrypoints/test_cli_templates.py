"""T7/P7: `iep templates list|check|preview`, the real console script, on the example folder and a broken one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "templates"
IEP = str(Path(sys.executable).with_name("iep"))


def iep(*args: str, source: Path, dist: Path) -> subprocess.CompletedProcess[str]:
    # Room to render beside the other test process; the timeout itself is tested in tests/rendering/.
    env = {
        **os.environ,
        "TEMPLATES_SOURCE_DIR": str(source),
        "TEMPLATES_DIST_DIR": str(dist),
        "RENDER_TIMEOUT_MS": "2000",
    }
    env.pop("REDIS_URL", None)
    return subprocess.run([IEP, "templates", *args], capture_output=True, text=True, timeout=120, env=env, check=False)


def test_list_check_and_preview_the_examples(tmp_path: Path) -> None:
    listed = iep("list", source=EXAMPLES, dist=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = {row["name"] for row in json.loads(listed.stdout)}
    assert len(names) == 12
    assert "_shared/react/weekly-digest" in names

    checked = iep("check", source=EXAMPLES, dist=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert all(row["ok"] for row in json.loads(checked.stdout))

    html = iep("preview", "mjml/welcome", "--part", "html", source=EXAMPLES, dist=tmp_path)
    assert html.returncode == 0, html.stderr
    assert "Welcome, Ada!" in html.stdout
    data = json.dumps({"name": "Grace", "product": "Orbit", "loginUrl": "https://orbit.example/"})
    subject = iep("preview", "react/welcome", "--data", data, "--part", "subject", source=EXAMPLES, dist=tmp_path)
    assert subject.stdout.strip() == "Welcome to Orbit, Grace!"


def test_errors_are_clear_messages_and_a_non_zero_exit(tmp_path: Path) -> None:
    broken = tmp_path / "templates" / "_shared"
    broken.mkdir(parents=True)
    (broken / "bad.html.jinja").write_text("---\nsubject: s\n---\n{% for %}")
    (broken / "good.html.jinja").write_text("---\nsubject: s\nschema: {required: [x]}\n---\n<p>{{ x }}</p>")
    checked = iep("check", source=broken.parent, dist=tmp_path / "dist")
    assert checked.returncode == 1
    assert "_shared/bad" in checked.stderr
    assert "_shared/good" in checked.stderr, "its example (none) does not match its schema"
    for args, needle in (
        (("preview", "nope"), "no template 'nope'"),
        (("preview", "good", "--data", "[1]"), "JSON object"),
        (("preview", "good", "--data", "{}"), "'x' is a required property"),
        (("preview", "bad"), "line 4"),
    ):
        result = iep(*args, source=broken.parent, dist=tmp_path / "dist")
        assert result.returncode != 0
        assert "Traceback" not in result.stderr, result.stderr
        assert needle in result.stderr, result.stderr
    missing = iep("list", source=tmp_path / "nowhere", dist=tmp_path)
    assert missing.returncode != 0
    assert "TEMPLATES_SOURCE_DIR" in missing.stderr
