"""PyInstaller hook for torch, replacing the contrib hook for ClipDesk's build.

The contrib hook adds every torch submodule as a hidden import (``collect_submodules``), which
imports all of them at build time (minutes) and bundles test suites, compilers and distributed
backends the app never loads. Here the module graph follows torch's own imports from ClipDesk's
code (imports inside functions included), and only torch's data files and shared libraries are
collected wholesale. ``packaging/build.py``'s smoke test proves the result loads and runs a model.
"""

from PyInstaller.utils.hooks import (
    PY_DYLIB_PATTERNS,
    collect_data_files,
    collect_dynamic_libs,
    collect_submodules,
)

# TorchScript and torch.package read Python sources at run time.
module_collection_mode = "pyz+py"
warn_on_missing_hiddenimports = False
# torch._dynamo loads its polyfills and backends by name (importlib), which the graph cannot see;
# model loading touches it even without torch.compile.
hiddenimports = collect_submodules("torch._dynamo")

datas = collect_data_files(
    "torch",
    excludes=[
        "**/*.h",
        "**/*.hpp",
        "**/*.cuh",
        "**/*.lib",
        "**/*.cpp",
        "**/*.pyi",
        "**/*.cmake",
        "**/include/**",
        "**/share/**",
        "**/test/**",
        "**/bin/*test*",
    ],
)
binaries = collect_dynamic_libs("torch", search_patterns=[*PY_DYLIB_PATTERNS, "*.so.*"])
# Symlinks from torch/lib to the top level confuse torch's own library lookup on Linux.
bindepend_symlink_suppression = ["**/torch/lib/*.so*"]
