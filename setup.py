"""Build hook (the rest of the configuration is in pyproject.toml): a wheel carries the bundled
demo model folders of ``models/`` as the package ``clipdesk.bundled_models``, where
``clipdesk.model.manager.bundled_models_dir`` finds them. A source checkout or an editable install
reads ``models/`` directly."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MODEL_FILES = ("*.json", "*.safetensors", "*.md")


class BuildWithModels(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "clipdesk" / "bundled_models"
        target.mkdir(parents=True, exist_ok=True)
        # A regular package, so importlib.resources.files() gives a plain folder.
        (target / "__init__.py").write_text('"""Demo models shipped with ClipDesk."""\n')
        for folder in sorted(p for p in (ROOT / "models").iterdir() if p.is_dir()):
            if not (folder / "config.json").is_file():
                continue  # not a model folder
            (target / folder.name).mkdir(exist_ok=True)
            for pattern in MODEL_FILES:
                for f in sorted(folder.glob(pattern)):
                    self.copy_file(str(f), str(target / folder.name / f.name))


setup(cmdclass={"build_py": BuildWithModels})
