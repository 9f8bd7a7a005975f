"""Packages found automatically, so that a new tracker folder (trackers/<name>/) or stage
subpackage installs without an edit here or in pyproject.toml.

The stage folders sit at the top of the checkout (the design card's layout) but install as
`masktrt.<stage>`; setuptools' declarative `packages.find` cannot map folders to another prefix,
hence these few lines.
"""
from setuptools import find_packages, setup

STAGES = ("export", "runtime", "engines", "kernels", "calibration", "benchmarks", "training",
          "trackers")
DATA = ["*.safetensors", "*.md", "*.cu", "*.cuh", "cpu/*.h", "cpu/*.supp"]


def stage_packages(stage: str) -> list[str]:
    return [f"masktrt.{stage}"] + [f"masktrt.{stage}.{sub}" for sub in find_packages(stage)]


packages = ["masktrt"] + [f"masktrt.{sub}" for sub in find_packages("masktrt")]
for stage in STAGES:
    packages += stage_packages(stage)

setup(packages=packages,
      package_dir={f"masktrt.{stage}": stage for stage in STAGES},
      package_data={package: DATA for package in packages})
