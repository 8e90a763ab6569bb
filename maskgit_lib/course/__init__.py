"""What only the notebooks need (all of them): the graders of the write-it-yourself cells
(``graders``, one module per notebook), the ipywidgets panels (``widgets``), the 2-D toy of notebook 01
(``vq_toy``), the one load-or-train rule (``load_or_train``) and the notebooks' own pictures
(``pictures``). No stage and no command imports from here.
"""

from maskgit_lib.course.load_or_train import ModelChoice, choose_tokenizer, choose_transformer
from maskgit_lib.course.pictures import (
    decoded_canvas,
    mask_patches,
    plot_code_usage,
    plot_decoding_budget,
    plot_pipeline,
    plot_schedules,
    plot_toy_vq,
    reveal_steps,
    show_class_counts,
    show_class_grid,
    show_decoding_step,
    show_decoding_steps,
    show_edit,
    show_nearest_neighbours,
    show_predictions,
    show_reconstruction,
    show_reveal_orders,
)
from maskgit_lib.course.vq_toy import (
    image_patches,
    patches_to_images,
    quantize_patches,
    toy_points,
    train_patch_vq,
    train_toy_vq,
)
from maskgit_lib.course.widgets import (
    dataset_browser,
    editing_panel,
    prediction_viewer,
    reconstruction_viewer,
)

__all__ = [
    "ModelChoice",
    "choose_tokenizer",
    "choose_transformer",
    "dataset_browser",
    "decoded_canvas",
    "editing_panel",
    "image_patches",
    "mask_patches",
    "patches_to_images",
    "plot_code_usage",
    "plot_decoding_budget",
    "plot_pipeline",
    "plot_schedules",
    "plot_toy_vq",
    "prediction_viewer",
    "quantize_patches",
    "reconstruction_viewer",
    "reveal_steps",
    "show_class_counts",
    "show_class_grid",
    "show_decoding_step",
    "show_decoding_steps",
    "show_edit",
    "show_nearest_neighbours",
    "show_predictions",
    "show_reconstruction",
    "show_reveal_orders",
    "toy_points",
    "train_patch_vq",
    "train_toy_vq",
]
