"""ipywidgets panels for the notebooks. Each panel is a thin shell over a library function that
returns a figure, so the same picture can be tested without a browser."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from maskgit_lib.course.pictures import show_class_grid
from maskgit_lib.data.prepared import PreparedData


def dataset_label(data: PreparedData) -> str:
    meta = data.meta
    return f"{meta['dataset']} · {meta['image_size_px']} px · {meta['counts']['train']} train / {meta['counts']['val']} val"


def dataset_browser(datasets: list[PreparedData]) -> widgets.VBox:
    """Pick a prepared data set and a split, choose how many examples per class; see the grid."""
    if not datasets:
        raise ValueError("no prepared data set yet; run maskgit prepare-data (or the cell above) first")
    picker = widgets.Dropdown(options=[(dataset_label(d), i) for i, d in enumerate(datasets)], description="data set")
    split = widgets.ToggleButtons(options=["train", "val"], description="split")
    per_class = widgets.IntSlider(value=8, min=1, max=16, description="per class")
    output = widgets.Output()

    def redraw(*_):
        data = datasets[picker.value]
        split_images, split_labels = data.split(split.value)
        with output:
            output.clear_output(wait=True)
            fig = show_class_grid(split_images, split_labels, data.class_names, per_class.value, title=dataset_label(data))
            display(fig)
            plt.close(fig)

    for control in (picker, split, per_class):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([picker, split]), per_class, output])


def reconstruction_viewer(model, images, codebook_size: int) -> widgets.VBox:
    """Slide through validation images: original | reconstruction (with PSNR) | token map."""
    import torch

    from maskgit_lib.course.pictures import show_reconstruction
    from maskgit_lib.data.batches import uint8_to_tensor
    from maskgit_lib.tokenizer.reconstruction import psnr

    index = widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
    output = widgets.Output()

    def redraw(*_):
        device = next(model.parameters()).device
        with torch.no_grad():
            original = uint8_to_tensor(images[index.value : index.value + 1], device)  # (1, 3, H, W)
            recon, quant = model.eval()(original)
        with output:
            output.clear_output(wait=True)
            fig = show_reconstruction(original[0].cpu(), recon[0].cpu(), quant.indices[0].cpu(), codebook_size,
                                      psnr(recon, original).item())
            display(fig)
            plt.close(fig)

    index.observe(redraw, names="value")
    redraw()
    return widgets.VBox([index, output])


def prediction_viewer(model, tokenizer, tokens, labels, class_names: list[str]) -> widgets.VBox:
    """Mask part of a real image's tokens; see what the Transformer predicts and how sure it is."""
    import numpy as np
    import torch

    from maskgit_lib.course.pictures import show_predictions

    index = widgets.IntSlider(value=0, min=0, max=len(tokens) - 1, description="image")
    ratio = widgets.FloatSlider(value=0.5, min=0.05, max=1.0, step=0.05, description="masked share")
    seed = widgets.IntSlider(value=0, min=0, max=20, description="mask seed")
    output = widgets.Output()

    def redraw(*_):
        grid = torch.from_numpy(np.asarray(tokens[index.value : index.value + 1], dtype=np.int64))  # (1, h, w)
        label = torch.tensor([int(labels[index.value])])
        with output:
            output.clear_output(wait=True)
            fig = show_predictions(model, tokenizer, grid, label, ratio.value, seed.value, class_names[int(label)])
            display(fig)
            plt.close(fig)

    for control in (index, ratio, seed):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([index, ratio, seed]), output])


def editing_panel(model, tokenizer, images, labels, class_names: list[str]) -> widgets.VBox:
    """Pick an image, an edit (inpaint a box, outpaint the border, extend sideways), a region, and the
    class to generate under; see four edited variations.

    A redraw decodes four variations (about 0.7 s on the reference 2-core CPU), so the sliders act on
    release and a label says "working…" until the new picture is drawn, then how long it took."""
    import time

    from maskgit_lib.course.pictures import show_edit
    from maskgit_lib.data.batches import uint8_to_tensor
    from maskgit_lib.generator.editing import EDIT_MODES, edit_image

    size = images.shape[1]
    on_release = {"continuous_update": False}
    index = widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="image", **on_release)
    mode = widgets.Dropdown(options=EDIT_MODES, value="inpaint", description="edit")
    style = widgets.Dropdown(options=[("its own", -1)] + [(n, i) for i, n in enumerate(class_names)], value=-1, description="class")
    top = widgets.IntSlider(value=size // 4, min=0, max=size - 1, description="box top", **on_release)
    left = widgets.IntSlider(value=size // 4, min=0, max=size - 1, description="box left", **on_release)
    height = widgets.IntSlider(value=size // 2, min=1, max=size, description="box height", **on_release)
    width = widgets.IntSlider(value=size // 2, min=1, max=size, description="box width", **on_release)
    border = widgets.IntSlider(value=size // 8, min=1, max=size // 2 - 1, description="border px", **on_release)
    shift = widgets.IntSlider(value=2, min=1, max=4, description="new columns", **on_release)
    seed = widgets.IntSlider(value=0, min=0, max=50, description="seed", **on_release)
    status = widgets.Label("working…")
    output = widgets.Output()

    def redraw(*_):
        status.value = "working…"
        started = time.perf_counter()
        own = int(labels[index.value])
        label = own if style.value < 0 else style.value
        image = uint8_to_tensor(images[index.value : index.value + 1])[0]
        start, region, edited = edit_image(
            model, tokenizer, image, label, mode.value, box=(top.value, left.value, height.value, width.value),
            border_px=border.value, shift=shift.value, seed=seed.value,
        )
        with output:
            output.clear_output(wait=True)
            fig = show_edit(tokenizer, images[index.value], start, region, edited,
                            f"{mode.value} · {class_names[own]} → {class_names[label]}")
            display(fig)
            plt.close(fig)
        status.value = f"drawn in {time.perf_counter() - started:.1f} s; sliders redraw when released"

    for control in (index, mode, style, top, left, height, width, border, shift, seed):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([index, mode, style, seed]), widgets.HBox([top, left, height, width]),
                         widgets.HBox([border, shift]), status, output])


def decoding_panel(model, tokenizer, class_names: list[str], n_samples: int = 8) -> widgets.interactive:
    """Every decoding knob at once (steps, schedule, order, temperature, randomness, guidance, which
    confidence ranks, style, seed) over a grid of ``n_samples`` samples.

    A redraw decodes a whole grid (a second or so on a 2-core CPU), so the sliders act on release
    (``continuous_update=False``: a drag is one redraw, not one per value passed) and a label says
    "working…" until the new grid is drawn, then how long it took."""
    import time

    import torch

    from maskgit_lib.course.pictures import show_decoded_samples
    from maskgit_lib.generator.decoding import CONFIDENCES, ORDERS
    from maskgit_lib.generator.masking import SCHEDULES

    wide = {"description_width": "initial"}  # the whole label shows (ipywidgets 7 and 8)
    on_release = {"continuous_update": False, "style": wide}
    status = widgets.Label("working…")

    def draw(steps, schedule, order, temperature, randomness, guidance, confidence, style, seed):
        status.value = "working…"
        started = time.perf_counter()
        labels = torch.full((n_samples,), class_names.index(style))
        fig = show_decoded_samples(model, tokenizer, labels, steps=steps, schedule=schedule, order=order,
                                   temperature=temperature, randomness=randomness, cfg_scale=guidance, seed=seed,
                                   confidence_from=confidence)
        display(fig)
        plt.close(fig)
        status.value = f"drawn in {time.perf_counter() - started:.1f} s; sliders redraw when released"

    panel = widgets.interactive(
        draw,
        steps=widgets.IntSlider(12, 1, 32, description="steps", **on_release),
        schedule=widgets.Dropdown(options=list(SCHEDULES), value="cosine", description="schedule", style=wide),
        order=widgets.Dropdown(options=list(ORDERS), value="confidence", description="order", style=wide),
        temperature=widgets.FloatSlider(1.0, min=0.1, max=2.0, step=0.1, description="temperature", **on_release),
        randomness=widgets.FloatSlider(4.5, min=0.0, max=10.0, step=0.5, description="randomness", **on_release),
        guidance=widgets.FloatSlider(0.0, min=0.0, max=5.0, step=0.5, description="guidance", **on_release),
        confidence=widgets.Dropdown(options=list(CONFIDENCES), value="untempered", description="confidence", style=wide),
        style=widgets.Dropdown(options=class_names, value=class_names[0], description="style", style=wide),
        seed=widgets.IntSlider(0, 0, 100, description="seed", **on_release),
    )
    panel.children = (*panel.children[:-1], status, panel.out)  # the status line just above the grid
    return panel


def prompt_panel(model, tokenizer, vocabulary, classifier, attribute_values: dict[str, list[str]],
                 prompt: str = "", n_samples: int = 8) -> widgets.VBox:
    """Notebook 08's prompt panel: a prompt, a negative prompt, guidance, steps and seed → ``n_samples``
    samples, each titled with what the attribute classifier reads of the attributes the prompt asks for.

    Text boxes and sliders act on Enter / release (``continuous_update=False``): a redraw decodes a grid.
    A prompt the vocabulary cannot read prints its one-line error in place of the grid."""
    import time

    from maskgit_lib.course.text_pictures import prompt_samples, show_prompt_samples
    from maskgit_lib.text.captions import parse_caption
    from maskgit_lib.text.vocabulary import PromptError

    wide = {"description_width": "initial"}
    on_release = {"continuous_update": False, "style": wide}
    text = widgets.Text(value=prompt, description="prompt", continuous_update=False, style=wide,
                        layout=widgets.Layout(width="70%"))
    negative = widgets.Text(value="", description="negative prompt", continuous_update=False, style=wide,
                            layout=widgets.Layout(width="70%"))
    scale = widgets.FloatSlider(3.0, min=0.0, max=8.0, step=0.5, description="guidance", **on_release)
    steps = widgets.IntSlider(12, 1, 24, description="steps", **on_release)
    seed = widgets.IntSlider(0, 0, 100, description="seed", **on_release)
    status = widgets.Label("working…")
    output = widgets.Output()

    def redraw(*_):
        status.value = "working…"
        started = time.perf_counter()
        with output:
            output.clear_output(wait=True)
            try:
                images = prompt_samples(model, tokenizer, vocabulary, text.value, negative.value, scale.value,
                                        steps.value, seed.value, n_samples)
            except PromptError as error:
                print(error)
                status.value = "the prompt needs other words"
                return
            asked = parse_caption(text.value, attribute_values)
            what = text.value or "the empty prompt: unconditional samples"
            fig = show_prompt_samples(images, asked, classifier, f"{what}" + (f"  (not: {negative.value})" if negative.value else ""))
            display(fig)
            plt.close(fig)
        status.value = f"drawn in {time.perf_counter() - started:.1f} s; text acts on Enter, sliders on release"

    for control in (text, negative, scale, steps, seed):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([text, negative, widgets.HBox([scale, steps, seed]), status, output])
