"""The packaging files say what they must (no PyInstaller run here: that is packaging/build.py)."""

from __future__ import annotations

import ast
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"


def _spec_text() -> str:
    return (PACKAGING / "clipdesk.spec").read_text(encoding="utf-8")


def test_spec_is_python_and_builds_both_programs_into_one_folder():
    tree = ast.parse(_spec_text())
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert {"Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"} <= calls
    text = _spec_text()
    assert "clipdesk_gui.py" in text and "clipdesk_cli.py" in text
    assert 'name="clipdesk-cli"' in text and "console=False" in text
    for script in ("clipdesk_gui.py", "clipdesk_cli.py"):
        source = (PACKAGING / script).read_text(encoding="utf-8")
        assert "freeze_support()" in source  # training workers in a frozen app


def test_spec_bundles_icons_demo_model_and_trims_torch():
    text = _spec_text()
    assert 'ROOT / "models" / "clipdesk-mini"' in text
    assert '"models/clipdesk-mini"' in text  # where clipdesk.model.manager looks in a bundle
    assert '"resources/icons"' in text
    assert "torch/bin/*test*" in text and "torch/include/*" in text
    assert '"transformers"' in text and '"torchvision"' in text
    assert "CLIPDESK_BUNDLE_CUDA" in text
    # Our lean torch hook replaces the contrib one (which imports every torch submodule).
    assert 'ROOT / "packaging" / "hooks"' in text
    hook = (PACKAGING / "hooks" / "hook-torch.py").read_text(encoding="utf-8")
    assert 'collect_submodules("torch")' not in hook
    assert "collect_dynamic_libs" in hook
    for name in ("clipdesk.ico", "clipdesk.icns", "clipdesk-256.png"):
        assert name in text
        assert (ICONS / name).is_file()


def _spec_list(name: str) -> list[str]:
    """The literal list assigned to ``name`` in the spec (the literal part of ``f(...) + [...]``)."""
    for node in ast.parse(_spec_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            value = node.value.right if isinstance(node.value, ast.BinOp) else node.value
            return list(ast.literal_eval(value))
    raise AssertionError(f"the spec assigns no {name}")


def test_spec_bundles_onnx_runtime_and_the_export():
    # ONNX Runtime serves the towers on the CPU, and the app exports each model once (torch.onnx,
    # onnx, onnxruntime.quantization, in a child process): none of them may be left out.
    excluded = set(_spec_list("excludes"))
    assert not {"onnx", "onnxruntime", "google", "google.protobuf", "ml_dtypes"} & excluded
    # torch imports torch.onnx lazily by name, which PyInstaller's module graph cannot follow.
    hidden = set(_spec_list("hiddenimports"))
    assert {
        "torch.onnx",
        "onnxruntime.quantization",
        "onnxruntime.transformers.onnx_utils",
    } <= hidden
    # onnxruntime.transformers imports its siblings as top-level modules from its own folder
    assert '{"onnxruntime.transformers": "py"}' in _spec_text()
    dropped = _spec_list("DROP_PATTERNS") + _spec_list("CUDA_PATTERNS")
    assert not [p for p in dropped if p.startswith(("onnx", "google", "ml_dtypes"))]
    text = _spec_text()
    # doctor reads onnxruntime's version from its installed metadata
    assert 'copy_metadata("onnxruntime")' in text and 'copy_metadata("onnx")' in text


def test_icons_are_rendered_from_the_svg_at_every_size():
    assert (ICONS / "clipdesk.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        with Image.open(ICONS / f"clipdesk-{size}.png") as png:
            assert png.size == (size, size) and png.mode == "RGBA"
    with Image.open(ICONS / "clipdesk.ico") as ico:
        assert (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]
    with Image.open(ICONS / "clipdesk.icns") as icns:
        assert icns.format == "ICNS"


def test_macos_info_plist_declares_bundle_id_icon_and_image_documents():
    with (PACKAGING / "macos" / "Info.plist").open("rb") as handle:
        info = plistlib.load(handle)
    assert info["CFBundleIdentifier"] == "io.clipdesk.ClipDesk"
    assert info["CFBundleIconFile"] == "clipdesk.icns"
    assert info["NSHighResolutionCapable"] is True
    documents = info["CFBundleDocumentTypes"]
    assert any("public.image" in d["LSItemContentTypes"] for d in documents)
    assert all(d["CFBundleTypeRole"] == "Viewer" for d in documents)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="no desktop-file-utils")
def test_linux_desktop_template_validates():
    template = PACKAGING / "linux" / "io.clipdesk.ClipDesk.desktop"
    result = subprocess.run(
        ["desktop-file-validate", str(template)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_build_outputs_are_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "build/" in ignored and "dist/" in ignored
