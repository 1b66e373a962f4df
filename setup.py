"""What pyproject.toml cannot say: the data folders shipped as packages under rabt-owned names.

``schemas/`` and ``mappings/`` stay top-level folders of the repository; in the
wheel they become ``rabt_schemas`` and ``rabt_mappings`` (a generic top-level
``schemas`` in site-packages would collide with other projects).
:mod:`hub.resources` finds them with importlib.resources.
"""

from setuptools import find_packages, setup

DATA_PACKAGES = {"rabt_schemas": "schemas", "rabt_mappings": "mappings"}

setup(packages=find_packages(include=["hub*", "adapters*", "simulators*"]) + list(DATA_PACKAGES),
      package_dir=DATA_PACKAGES)
