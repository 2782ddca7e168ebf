"""Security boundaries (#8): no code-executing deserialisation of what a user supplies, output
names that cannot escape their folder, upload size limits, and the app bound to localhost."""

from __future__ import annotations

import re
import tomllib

import pytest

from pipelines.errors import InputError
from pipelines.exports import safe_output_path
from pipelines.ingest.readers import MAX_FILE_BYTES
from tests.reliability import ROOT

CODE = [
    ROOT / "app.py",
    *sorted((ROOT / "pipelines").rglob("*.py")),
    *sorted((ROOT / "crosswalk_ui").rglob("*.py")),
]

# Calls that can run code hidden in data. yaml.load is allowed only as yaml.safe_load.
UNSAFE = re.compile(
    r"\bpickle\b|\bcPickle\b|\bdill\b|\bjoblib\.load\b|\bmarshal\b|\bshelve\b|"
    r"\bread_pickle\b|allow_pickle\s*=\s*True|\btorch\.load\b|\byaml\.(?:unsafe_)?load\(|"
    r"yaml\.(?:C?Loader|C?UnsafeLoader|C?FullLoader)\b|(?<![.\w])eval\(|(?<![.\w])exec\(|trust_remote_code\s*=\s*True"
)


def test_the_code_scan_finds_an_unsafe_call():
    assert UNSAFE.search("data = pickle.loads(blob)")
    assert UNSAFE.search("yaml.load(text, Loader=yaml.Loader)")
    assert not UNSAFE.search("yaml.safe_load(text)")
    assert UNSAFE.search("Loader=yaml.CLoader") and UNSAFE.search("yaml.FullLoader")
    assert not UNSAFE.search("getattr(yaml, 'CSafeLoader', yaml.SafeLoader)")
    assert UNSAFE.search("eval(text)") and not UNSAFE.search("model.eval()")


@pytest.mark.parametrize("path", CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_executing_deserialisation(path):
    hits = [
        f"{path.name}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if UNSAFE.search(line)
    ]
    assert hits == []


@pytest.mark.parametrize(
    "name",
    [
        "../escape.csv",
        "..",
        ".",
        "",
        "  ",
        "/etc/passwd",
        "sub/file.csv",
        "..\\\\win.csv",
        "a\x00b",
    ],
)
def test_output_names_cannot_escape_the_folder(name, tmp_path):
    with pytest.raises(InputError) as caught:
        safe_output_path(tmp_path, name)
    assert caught.value.code == "E029"
    assert "not allowed" in caught.value.message


def test_plain_output_names_stay_inside_the_folder(tmp_path):
    for name in ("themes.csv", "Hope & identity (CHIME).docx", "..hidden.txt", "=1+1.csv"):
        assert safe_output_path(tmp_path, name).parent == tmp_path.resolve()


def test_app_binds_to_localhost_and_limits_uploads():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "localhost"
    assert config["browser"]["serverAddress"] == "localhost"
    # Streamlit refuses bigger uploads with its own message naming the limit; ingest's own limit
    # (E017) is higher, so every upload Streamlit accepts can be read.
    assert 0 < config["server"]["maxUploadSize"] * 2**20 <= MAX_FILE_BYTES
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    run = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "--server.address" not in run or "--server.address localhost" in run
