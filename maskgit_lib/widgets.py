"""ipywidgets panels for the notebooks. Each panel is a thin shell over a library function that
returns a figure, so the same picture can be tested without a browser."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from maskgit_lib.data import PreparedData
from maskgit_lib.viz import show_class_grid


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

    from maskgit_lib.data import uint8_to_tensor
    from maskgit_lib.metrics import psnr
    from maskgit_lib.viz import show_reconstruction

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

    from maskgit_lib.viz import show_predictions

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
