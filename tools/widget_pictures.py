"""Static first views of the widgets in an executed notebook, for readers without a kernel.

A widget output is only a reference (``application/vnd.jupyter.widget-view+json``: a model id) to
state that a live kernel serves. A page on the web, GitHub's viewer or a notebook opened without its
kernel shows nothing there. But the executed notebook keeps every widget's state in its metadata,
including what each ``Output`` widget displayed when the cell ran: the panel's first figure. This
module adds that first view to the widget's own output bundle, beside the reference:

- a panel (any box holding ``Output`` widgets): its figures, stacked into one PNG, and a line naming its
  controls' starting values as the plain text;
- a progress bar (tqdm's HBox of text, bar, text): the bar's last state as the plain text.

Frontends with a widget manager still pick the live widget (it ranks first); static renderers fall back
to the picture (or the text). The output's metadata says it has a first view (``first_view``). ``make course`` (``tools/run_notebooks.py``) calls :func:`add_first_views` on every
executed copy; the web edition (``tools/book.py``) refuses a widget output left without one.
"""

from __future__ import annotations

import base64
import html
import io

from PIL import Image

WIDGET = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
FLAG = "first_view"  # output metadata: which mime type holds the first view
CONTROLS = ("Slider", "Dropdown", "Checkbox", "Text", "ToggleButtons", "RadioButtons", "Select")


def add_first_views(nb) -> int:
    """Give every widget output of ``nb`` (an nbformat notebook, changed in place) a static view.

    Returns how many outputs gained one; outputs that already have one are left as they are.
    """
    states = nb.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    added = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET not in data or output.get("metadata", {}).get(FLAG):
                continue
            view = first_view(data[WIDGET]["model_id"], states)
            if view is not None:
                data.update(view)
                output.setdefault("metadata", {})[FLAG] = "image/png" if "image/png" in view else "text/plain"
                added += 1
    return added


def missing_views(nb) -> list[int]:
    """Indices of the cells holding a widget output without a first view."""
    return [i for i, cell in enumerate(nb.cells) for output in cell.get("outputs", [])
            if WIDGET in output.get("data", {}) and not output.get("metadata", {}).get(FLAG)]


def first_view(model_id: str, states: dict) -> dict | None:
    """The static view of one widget tree, as output data (mime type → content); None without state."""
    if model_id not in states:
        return None
    models = list(_walk(model_id, states))
    names = [m["model_name"] for m in models]
    if "FloatProgressModel" in names and "OutputModel" not in names:
        return {"text/plain": _progress_text(models)}
    pictures = [_decode(o["data"]["image/png"]) for m in models if m["model_name"] == "OutputModel"
                for o in m["state"].get("outputs", []) if "image/png" in o.get("data", {})]
    if not pictures:
        return None
    settings = _settings(models)
    note = "A widget: run the notebook to move it. Its first view" + (f" ({settings})" if settings else "") + "."
    return {"image/png": _encode(_stack(pictures)), "text/plain": note}


def _walk(model_id: str, states: dict):
    """The model and its descendants, depth first, in display order."""
    model = states[model_id]
    yield model
    for child in model["state"].get("children", []):
        child_id = child.removeprefix("IPY_MODEL_")
        if child_id in states:
            yield from _walk(child_id, states)


def _settings(models: list[dict]) -> str:
    """``steps = 12, schedule = cosine``: the controls' starting values."""
    pairs = []
    for model in models:
        state = model["state"]
        if any(kind in model["model_name"] for kind in CONTROLS) and state.get("description"):
            value = state.get("value")
            if "_options_labels" in state and isinstance(state.get("index"), int):
                value = state["_options_labels"][state["index"]]  # a selection stores its option's index
            pairs.append(f"{state['description'].rstrip(':')} = {value}")
    return ", ".join(pairs)


def _progress_text(models: list[dict]) -> str:
    """tqdm's bar as text: its left label, a bar of 20 cells, its right label."""
    texts = [html.unescape(m["state"].get("value", "")) for m in models if m["model_name"] == "HTMLModel"]
    bar = next(m["state"] for m in models if m["model_name"] == "FloatProgressModel")
    share = (bar["value"] - bar.get("min", 0)) / max(bar["max"] - bar.get("min", 0), 1e-9)
    filled = round(20 * min(max(share, 0.0), 1.0))
    left, right = (texts + ["", ""])[:2]
    return f"{left}|{'█' * filled}{' ' * (20 - filled)}|{right}".replace("\u2007", " ")


def _decode(png) -> Image.Image:
    data = "".join(png) if isinstance(png, list) else png
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


def _stack(pictures: list[Image.Image]) -> Image.Image:
    """Pictures one below the other, on white, left-aligned (as the Output widget shows them)."""
    width = max(p.width for p in pictures)
    canvas = Image.new("RGB", (width, sum(p.height for p in pictures)), "white")
    top = 0
    for picture in pictures:
        canvas.paste(picture, (0, top))
        top += picture.height
    return canvas


def _encode(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
