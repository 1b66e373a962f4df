"""The demo's own folder: made and marked by the demo, the only place it ever deletes anything.

Every run starts from clean state, so the demo removes the previous run's
databases and drop folders. That is only safe in a folder the demo made: an
operator who runs ``rabt demo`` with ``RABT_HOME`` still pointing at a real
hub once had that hub's message log and broker deleted under it. So:

* the demo runs in ``$RABT_HOME/demo`` (``./var/demo`` by default), never in
  the home itself;
* a folder it makes carries :data:`MARKER`; it cleans only a marked folder
  (or an empty one, which it then marks);
* it refuses, before touching anything, a home that holds a message log or
  an embedded broker, a demo folder with someone else's files in it, and an
  embedded broker URL that points outside its folder at an existing file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.config import Settings
from hub.errors import ConfigError

#: the file that says "rabt demo made this folder and may clean it"
MARKER = ".rabt-demo"

#: the sub-folder of RABT_HOME the demo runs in
DEMO_FOLDER = "demo"

#: what a new run starts without (the PKI is kept: keys are slow to make and safe to reuse)
RUN_STATE = ("broker.sqlite3", "messages.sqlite3", "licensing.sqlite3", "drop", "logs", "evidence")

#: files that show a folder is some hub's state: never the demo's to touch unless it marked the folder
HUB_STATE = ("messages.sqlite3", "broker.sqlite3")


def demo_home(home: Path) -> Path:
    """Where ``rabt demo`` keeps its state for the hub home ``home``."""
    return home.resolve() / DEMO_FOLDER


def refuse_hub_home(home: Path) -> None:
    """ConfigError if ``home`` (RABT_HOME) holds a hub's message log or broker the demo did not make."""
    found = _hub_state(home)
    if found and not (home / MARKER).is_file():
        raise ConfigError(f"{home} holds a hub's state ({', '.join(found)}) and rabt demo leaves it alone: "
                          "unset RABT_HOME or point it at a folder of its own")


def claim(folder: Path) -> None:
    """Make ``folder`` the demo's (create or mark it), or ConfigError if it holds files the demo did not make."""
    marker = folder / MARKER
    if marker.is_file():
        return
    if folder.exists() and any(folder.iterdir()):
        others = sorted(p.name for p in folder.iterdir())[:4]
        raise ConfigError(f"{folder} holds files rabt demo did not make ({', '.join(others)}); "
                          "move them away or point RABT_HOME at another folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text("made by rabt demo: the demo deletes its run state in this folder on every run\n",
                          encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot create the demo folder {folder}: {exc.strerror or exc}; "
                          "point RABT_HOME at a writable folder") from exc


def refuse_foreign_broker(settings: Settings, folder: Path) -> None:
    """ConfigError if an embedded broker URL names an existing file outside the demo's folder."""
    url = settings.broker_url
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    path = Path(database).resolve() if database else None
    if path is not None and path.exists() and folder not in path.parents:
        raise ConfigError(f"the demo does not use an embedded broker it did not make ({path}): "
                          "leave RABT_BROKER_URL unset or give the demo an amqp:// broker")


def fresh_state(folder: Path) -> None:
    """Remove the previous run's databases and drop folders from the demo's (marked) folder."""
    if not (folder / MARKER).is_file():
        raise ConfigError(f"{folder} is not a folder rabt demo made; nothing removed")
    for name in RUN_STATE:
        for path in folder.glob(f"{name}*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _hub_state(home: Path) -> list[str]:
    return sorted(p.name for name in HUB_STATE for p in home.glob(f"{name}*")) if home.is_dir() else []
