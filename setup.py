"""The one build step pyproject.toml cannot say: the dashboard goes inside the package.

The design card keeps ``app.py`` and ``pages/`` at the top of the checkout (``streamlit run app.py``);
installed as top-level ``app`` and ``pages`` they would collide with any Streamlit project's own
``pages/``. So the wheel carries them as files under ``traindoc/_dashboard/`` and ``traindoc
dashboard`` runs them from there (``traindoc.cli.app_path``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DASHBOARD = ("app.py", "pages")  # the checkout's dashboard; MANIFEST.in puts the same files in an sdist


class BuildPy(build_py):
    """build_py, then the dashboard's scripts copied to ``traindoc/_dashboard`` in the build tree."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install runs the checkout's app.py itself (traindoc.cli.app_path)
        target = Path(self.build_lib) / "traindoc" / "_dashboard"
        if target.exists():
            shutil.rmtree(target)
        (target / "pages").mkdir(parents=True)
        shutil.copy2(HERE / "app.py", target / "app.py")
        for page in sorted((HERE / "pages").glob("*.py")):
            shutil.copy2(page, target / "pages" / page.name)


setup(cmdclass={"build_py": BuildPy})
