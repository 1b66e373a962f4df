"""File drops, done the way Camel does them: write then rename, claim by atomic move.

An agency writes ``$RABT_HOME/drop/<agency>/inbox/<name>`` (temporary name,
then rename); the :class:`DropWatcher` claims it by atomic rename into
``processing/``, the adapter's reader streams it, every item goes through the
inbound :class:`~hub.pipeline.Pipeline`, and the file ends in ``done/`` with a
JSON receipt or in ``failed/`` with a report naming each bad line. This
package knows no agency: adapters declare :class:`~hub.adapter.FileDrop`\\ s.

    names     pure decisions (what to do with a name, item ids, result names)
    folders   the four folders and the few file operations (jailed, no links)
    process   one file: inspect, read, check, commit — all items or none
    report    outcomes, receipts and reports
    watcher   scanning, claiming, resuming, batching
    wiring    adapters with file drops; the ``watcher`` role of ``rabt serve``
"""

from hub.filedrop.folders import DropFolders
from hub.filedrop.names import Action, Decision, Entry, decide, source_message_id
from hub.filedrop.report import ItemReceipt, LineError, Outcome
from hub.filedrop.watcher import DropWatcher
from hub.filedrop.wiring import file_drop_adapters, watcher_loop

__all__ = ["Action", "Decision", "DropFolders", "DropWatcher", "Entry", "ItemReceipt", "LineError",
           "Outcome", "decide", "file_drop_adapters", "source_message_id", "watcher_loop"]
