"""Run the course's notebooks headless without the widget stall (issue #11).

The cause. nbclient (0.11.0, the newest; used by `jupyter nbconvert --execute`) mimics a front
end's ipywidgets ``Output`` widget. Each time a cell draws into an ``Output`` while it runs (the
course's panels redraw a figure into one), the mimic echoes the widget's new state to the kernel:
``kernel_client.shell_channel.send(...)``, from the coroutine that reads IOPub, while the cell's own
coroutine is awaiting ``shell_channel.get_msg(timeout)`` -- an asyncio ``poll`` -- for the cell's
``execute_reply`` on that very socket. jupyter_client's ``Session.send`` sends through a plain,
synchronous shadow of the asyncio socket (``zmq.Socket.shadow(stream.underlying)``, session.py), so
pyzmq's asyncio layer never hears of the send. libzmq's send processes the socket's pending commands
-- including "a message has arrived" when the kernel's reply lands just then -- and so drains the
socket's edge-triggered ``ZMQ_FD``. Nobody re-reads ``ZMQ_EVENTS``; the event loop never sees the
fd become readable; the ``poll`` wakes only at its timeout (900 s in `make course`), and then finds
the reply that had been there all along. Rare on an idle machine, frequent on a loaded one, where
the reply more often lands during the send.

Evidence (tools/stress_widgets.py, which looks at the socket from inside the client's loop when a
cell runs long): at every stall the reply was waiting (``ZMQ_EVENTS & POLLIN``), the fd was not
readable, and one poll was pending; re-reading the events released the cell at once. Upstream:
jupyter/nbclient#312 (open; the unmerged jupyter/nbclient#311 patches the poll loop instead).
nbval's client has no ``Output`` mimic and never sends on the shell socket during a cell, which is
why `make test` was not seen to hang.

The fix, at its source: an ``Output`` mimic that records outputs exactly as nbclient's does but does
not echo the state to the kernel. Nothing in the kernel reads that echo (the course never reads
``Output.outputs``), and with no send on the shell socket during a cell, no wake-up can be lost.
"""

from __future__ import annotations

from typing import Any

from nbclient import NotebookClient
from nbclient.output_widget import OutputWidget


class QuietOutputWidget(OutputWidget):
    """nbclient's ``Output`` mimic, minus the state echo on the shell socket (see the module doc)."""

    def sync_state(self) -> None:
        """The front end's copy of the outputs is kept (``self.outputs``); the kernel is not told."""


class CourseNotebookClient(NotebookClient):
    """A NotebookClient whose ``Output`` widgets never send on the shell socket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.widget_registry["@jupyter-widgets/output"] = {"OutputModel": QuietOutputWidget}
