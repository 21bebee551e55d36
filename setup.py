"""tfxkit: one YAML config becomes a production TFX pipeline.

The top-level folders are installed as sub-packages of one package, ``tfxkit``
(components <- pipelines <- infra), so nothing generic lands at the top of
site-packages.
"""
from setuptools import Extension, setup

PACKAGES = {
    "tfxkit": "tfxkit",
    "tfxkit.components": "components",
    "tfxkit.pipelines": "pipelines",
    "tfxkit.infra": "infra",
    "tfxkit.templates": "templates",
}


def _find(root_pkg, root_dir):
    import os

    found = {}
    for dirpath, dirnames, filenames in os.walk(root_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]
        if "__init__.py" in filenames:
            rel = os.path.relpath(dirpath, root_dir)
            name = root_pkg if rel == "." else root_pkg + "." + rel.replace(os.sep, ".")
            found[name] = dirpath
    return found


package_dir = {}
for pkg, folder in PACKAGES.items():
    package_dir.update(_find(pkg, folder))

setup(
    name="tfxkit",
    version="0.1.0",
    description="One YAML config becomes a production TFX pipeline",
    # Two stacks: TFX 1.16 on Python 3.11 (or 3.10; requirements/lock.txt) and TFX 1.21 on
    # Python 3.13 (requirements/lock-tfx121.txt, issue 14).
    python_requires=">=3.10",
    packages=sorted(package_dir),
    package_dir=package_dir,
    include_package_data=True,
    package_data={"tfxkit.templates": ["*/*", "*/*/*", "*/*/*/*"],
                  # tfxkit ui's pages and their script and styles (issue 21)
                  "tfxkit.infra.ui": ["templates/*.html", "static/*.js", "static/*.css"]},
    install_requires=["tfx==1.16.0; python_version < '3.11'",
                      "tfx==1.21.0; python_version >= '3.13'", "pydantic>=2", "pyyaml", "click", "duckdb", "fastapi",
                      "uvicorn", "psycopg[binary]", "redis", "jinja2"],
    # The C loops of the shared record I/O (components/common/records.py) and of batch
    # inference's log framing; optional: without a compiler the same rules run in Python
    # (slower).
    ext_modules=[Extension("tfxkit.components.common._fastlog",
                           ["components/common/_fastlog.c"],
                           extra_compile_args=["-O3"], optional=True)],
    entry_points={"console_scripts": ["tfxkit = tfxkit.infra.cli:main"]},
)
