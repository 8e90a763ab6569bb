"""Figures: image grids (per class), class-count bars, before/after panels. Matplotlib only."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from maskgit_lib.figures import image_grid, to_uint8


def class_examples(images: np.ndarray, labels: np.ndarray, n_classes: int, per_class: int) -> np.ndarray:
    """The first ``per_class`` images of each class, class by class: (n_classes*per_class, H, W, 3).

    Classes with fewer images are padded with white tiles so rows stay aligned.
    """
    rows = []
    blank = np.full_like(images[0], 255)
    for label in range(n_classes):
        members = np.flatnonzero(labels == label)[:per_class]
        row = [images[i] for i in members] + [blank] * (per_class - len(members))
        rows.extend(row)
    return np.stack(rows)


def show_class_grid(images, labels, class_names: list[str], per_class: int = 8, title: str = ""):
    """One row per class with its name on the left. Returns the matplotlib figure."""
    tiles = class_examples(np.asarray(images), np.asarray(labels), len(class_names), per_class)
    grid = image_grid(tiles, n_cols=per_class)
    height = 0.45 * per_class * len(class_names) / per_class + 0.6
    fig, ax = plt.subplots(figsize=(0.6 * per_class + 1.6, max(height, 1.5) * 1.3))
    ax.imshow(grid, interpolation="nearest")
    tile_h = tiles.shape[1] + 1
    ax.set_yticks([tile_h * (i + 0.5) for i in range(len(class_names))], class_names)
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_class_counts(counts: dict[str, dict[str, int]]):
    """Grouped horizontal bars: images per class for each split (``{"train": {...}, "val": {...}}``)."""
    names = list(next(iter(counts.values())).keys())
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1.2))
    y = np.arange(len(names))
    height = 0.8 / len(counts)
    for i, (split, per_class) in enumerate(counts.items()):
        ax.barh(y + i * height, [per_class[n] for n in names], height=height, label=split)
    ax.set_yticks(y + height * (len(counts) - 1) / 2, names)
    ax.invert_yaxis()
    ax.set_xlabel("images")
    ax.legend()
    fig.tight_layout()
    return fig


def show_nearest_neighbours(generated, neighbours, distances, n_cols: int = 4, title: str = ""):
    """Each generated image (left) beside its nearest training image (right), the distance under the pair.

    ``generated``, ``neighbours``: B images each, uint8 (B, H, W, 3) or (B, 3, H, W), or floats in [-1, 1];
    ``distances``: (B,). Returns the matplotlib figure.
    """
    from maskgit_lib.figures import to_uint8_nchw

    left = to_uint8_nchw(generated).permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, 3)
    right = to_uint8_nchw(neighbours).permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, 3)
    distances = np.asarray(distances, dtype=float).reshape(-1)  # (B,)
    if not len(left) == len(right) == len(distances):
        raise ValueError(f"show_nearest_neighbours: {len(left)} generated images, {len(right)} neighbours and "
                         f"{len(distances)} distances; pass one neighbour and one distance per generated image")
    n_rows = -(-len(left) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.9 * n_cols, 1.2 * n_rows + 0.5), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(left):
            pair = image_grid(np.stack([left[index], right[index]]), n_cols=2, pad_px=2, pad_value=160)  # a grey line between
            ax.imshow(pair, interpolation="nearest")
            ax.text(0.5, -0.03, f"{distances[index]:.3f}", transform=ax.transAxes, ha="center", va="top", fontsize=8)
    fig.suptitle(title or "generated (left) · its nearest training image (right) · distance", fontsize=9)
    fig.tight_layout()
    return fig


def plot_toy_vq(run, frame: int = -1, title: str = "", unused: str = "dead codes"):
    """Left: encoder outputs coloured by their code, live codes (×) and dead codes (red ○) at one
    snapshot. Right: codebook usage and perplexity over training, with the snapshot marked.
    ``unused`` names the codes no vector chose (FSQ's are not dead: data that moved there would use them)."""
    z, codes, assign = run.encoded[frame], run.codebooks[frame], run.assignments[frame]
    used = torch.bincount(assign, minlength=len(codes)) > 0  # (K,)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    left.scatter(z[:, 0], z[:, 1], c=(assign % 20).numpy(), cmap="tab20", s=4, alpha=0.6)
    left.scatter(codes[used, 0], codes[used, 1], marker="x", c="black", s=50, label=f"used codes ({int(used.sum())})")
    left.scatter(codes[~used, 0], codes[~used, 1], marker="o", facecolors="none", edgecolors="red", s=50,
                 label=f"{unused} ({int((~used).sum())})")
    left.set_title(title or f"step {run.steps[frame]}: encoder outputs z and codes")
    left.legend(loc="lower right", fontsize=8)
    left.set_aspect("equal", adjustable="datalim")
    steps = np.arange(1, len(run.usage) + 1)
    right.plot(steps, run.usage, label="usage (share of codes used)")
    right.set_ylim(0, 1.05)
    right.set_xlabel("step")
    twin = right.twinx()
    twin.plot(steps, run.perplexity, color="tab:orange", label="perplexity")
    twin.set_ylabel("perplexity (effective codes)")
    right.axvline(run.steps[frame], color="grey", linestyle=":")
    right.legend(loc="center right", fontsize=8)
    twin.legend(loc="lower right", fontsize=8)
    right.set_title("codebook health")
    fig.tight_layout()
    return fig


def token_map_image(tokens: torch.Tensor | np.ndarray, codebook_size: int) -> np.ndarray:
    """A (h, w) grid of token ids as an RGB picture (one colour per id, from a fixed palette)."""
    tokens = np.asarray(tokens)
    rng = np.random.default_rng(0)
    palette = rng.integers(40, 230, size=(codebook_size, 3), dtype=np.uint8)  # same colours every call
    return palette[tokens]


def show_reconstruction(original, recon, tokens, codebook_size: int, psnr_db: float | None = None):
    """Original | reconstruction | token map, side by side."""
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
    panels = [
        (to_uint8(original[None])[0], "original"),
        (to_uint8(recon[None])[0], "reconstruction" + (f" ({psnr_db:.1f} dB)" if psnr_db is not None else "")),
        (token_map_image(tokens, codebook_size), f"{tokens.shape[0]}×{tokens.shape[1]} tokens"),
    ]
    for ax, (pixels, title) in zip(axes, panels, strict=True):
        ax.imshow(pixels, interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    ids = np.asarray(tokens)
    for (row, col), value in np.ndenumerate(ids):
        if ids.shape[0] <= 8:
            axes[2].text(col, row, str(value), ha="center", va="center", fontsize=6, color="white")
    fig.tight_layout()
    return fig


def plot_code_usage(counts: torch.Tensor, title: str = "codebook usage on the validation set"):
    """Left: how often each code is used, sorted (a flat curve is healthy). Right: the codebook as a
    grid, coloured by log-count, dead codes black."""
    counts = np.asarray(counts, dtype=np.float64)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5), gridspec_kw={"width_ratios": [1.4, 1]})
    ordered = np.sort(counts)[::-1]
    left.bar(np.arange(len(ordered)), ordered, width=1.0)
    left.set_yscale("log")
    left.set_xlabel("codes, most used first")
    left.set_ylabel("uses")
    used = (counts > 0).mean()
    left.set_title(f"{title}: {used:.0%} of {len(counts)} codes used")
    cols = int(np.ceil(np.sqrt(len(counts) * 2)))
    rows = int(np.ceil(len(counts) / cols))
    grid = np.full(rows * cols, np.nan)
    grid[: len(counts)] = np.log10(counts + 1)
    shown = right.imshow(grid.reshape(rows, cols), cmap="viridis", interpolation="nearest")
    right.set_facecolor("black")
    right.set_title("log10(1 + uses) per code")
    right.axis("off")
    fig.colorbar(shown, ax=right, fraction=0.03)
    fig.tight_layout()
    return fig


def plot_schedules(names: list[str] | None = None, highlight: str | None = None):
    """γ(r) of every schedule: the fraction of tokens still masked as decoding progresses."""
    from maskgit_lib.generator.masking import SCHEDULES, gamma

    r = torch.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name in names or list(SCHEDULES):
        ax.plot(r, gamma(name, r), label=name, linewidth=3 if name == highlight else 1.5)
    ax.set_xlabel("r (decoding progress t/T, or the training draw)")
    ax.set_ylabel("γ(r): fraction of tokens masked")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def mask_patches(image: np.ndarray, mask_grid: np.ndarray, grey: int = 128) -> np.ndarray:
    """Grey out the patches of a (H, W, 3) uint8 image where the (h, w) bool grid is True."""
    patch = image.shape[0] // mask_grid.shape[0]
    big = np.kron(np.asarray(mask_grid, dtype=np.uint8), np.ones((patch, patch), dtype=np.uint8)).astype(bool)
    out = image.copy()
    out[big] = grey
    return out


def plot_decoding_budget(schedule: str, steps: int, n_tokens: int, image: np.ndarray | None = None, seed: int = 0):
    """Tokens revealed per decoding step (bars) and still masked (line); with ``image``, the image
    as the decoder would hold it after each step (masked patches grey, revealed in random order)."""
    from maskgit_lib.generator.masking import tokens_fixed_after_step, tokens_revealed_per_step

    revealed = tokens_revealed_per_step(schedule, steps, n_tokens)
    fixed = tokens_fixed_after_step(schedule, steps, n_tokens)
    rows = 2 if image is not None else 1
    fig = plt.figure(figsize=(max(8, 1.0 * steps), 3.2 * rows))
    ax = fig.add_subplot(rows, 1, 1)
    t = np.arange(1, steps + 1)
    ax.bar(t, revealed, label="revealed this step")
    ax.plot(t, [n_tokens - f for f in fixed], "o-", color="tab:red", label="still masked after the step")
    ax.set_xticks(t)
    ax.set_xlabel("decoding step")
    ax.set_ylabel("tokens")
    ax.set_title(f"{schedule}, {steps} steps, {n_tokens} tokens")
    ax.legend()
    if image is not None:
        side = int(round(n_tokens**0.5))
        order = np.random.default_rng(seed).permutation(n_tokens)
        frames = []
        for count in fixed:
            masked = np.ones(n_tokens, dtype=bool)
            masked[order[:count]] = False
            frames.append(mask_patches(image, masked.reshape(side, side)))
        strip = fig.add_subplot(rows, 1, 2)
        strip.imshow(image_grid(np.stack(frames), n_cols=steps, pad_px=2), interpolation="nearest")
        strip.set_title("the canvas after each step (grey = still masked)")
        strip.axis("off")
    fig.tight_layout()
    return fig


@torch.no_grad()
def show_predictions(model, tokenizer, grid: torch.Tensor, label: torch.Tensor, masked_share: float, seed: int = 0, title: str = ""):
    """Original | masked input | the Transformer's guesses filled in | its confidence on each guess.

    grid: (1, h, w) token ids of a real image; ``masked_share`` of them are hidden at random.
    """
    model.eval()
    h, w = grid.shape[1:]
    flat = grid.flatten(1)  # (1, N)
    n_masked = max(1, round(masked_share * flat.shape[1]))
    order = torch.randperm(flat.shape[1], generator=torch.Generator().manual_seed(seed))
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[0, order[:n_masked]] = True
    probs = torch.softmax(model(torch.where(mask, model.layout.mask_id, flat), label).float(), -1)  # (1, N, K)
    confidence, guess = probs.max(-1)
    filled = torch.where(mask, guess, flat)
    original = to_uint8(tokenizer.decode_tokens(grid))[0]
    predicted = to_uint8(tokenizer.decode_tokens(filled.view(1, h, w)))[0]
    masked_image = mask_patches(original, mask.view(h, w).numpy())
    accuracy = ((guess == flat) & mask).sum().item() / n_masked
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.3))
    for ax, pixels, name in zip(axes[:3], [original, masked_image, predicted],
                                ["tokenizer's image", f"input: {n_masked} of {flat.shape[1]} masked", f"guesses filled in ({accuracy:.0%} exact)"],
                                strict=True):
        ax.imshow(pixels, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    conf_map = np.where(mask.view(h, w).numpy(), confidence.view(h, w).numpy(), np.nan)
    shown = axes[3].imshow(conf_map, vmin=0, vmax=1, cmap="magma")
    axes[3].set_title("confidence of each guess", fontsize=9)
    axes[3].axis("off")
    fig.colorbar(shown, ax=axes[3], fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@torch.no_grad()
def show_decoding_step(tokenizer, history, step: int, index: int = 0):
    """One sample after decoding step ``step``: the canvas (grey = still masked), the mask, and the
    confidence of the token sampled at every position in that step."""
    tokens = history.tokens[step][index]  # (N,)
    masked = history.masked[step][index]  # (N,)
    side = int(round(len(tokens) ** 0.5))
    placeholder = torch.where(masked, 0, tokens)  # any code id; those patches are greyed out below
    canvas = mask_patches(to_uint8(tokenizer.decode_tokens(placeholder.view(1, side, side)))[0], masked.view(side, side).numpy())
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    axes[0].imshow(canvas, interpolation="nearest")
    axes[0].set_title(f"after step {step + 1}: {int((~masked).sum())} of {len(tokens)} fixed")
    axes[1].imshow(~masked.view(side, side).numpy(), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("fixed (white) / masked (black)")
    shown = axes[2].imshow(history.confidence[step][index].exp().view(side, side).numpy(), cmap="magma", vmin=0, vmax=1)
    axes[2].set_title("confidence of this step's samples")
    fig.colorbar(shown, ax=axes[2], fraction=0.046)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


@torch.no_grad()
def show_edit(tokenizer, image: np.ndarray, start: torch.Tensor, region: torch.Tensor, edited: torch.Tensor, title: str = ""):
    """Original | what the model keeps (grey = regenerated tokens) | the edited variations."""
    side = int(round(len(start) ** 0.5))
    kept = torch.where(region, 0, start.cpu())  # any code id: those patches are greyed out
    canvas = mask_patches(to_uint8(tokenizer.decode_tokens(kept.view(1, side, side)))[0], region.view(side, side).cpu().numpy())
    variations = to_uint8(tokenizer.decode_tokens(edited.view(-1, side, side)))
    fig, axes = plt.subplots(1, 2 + len(variations), figsize=(2.2 * (2 + len(variations)), 2.6))
    panels = [(image, "original"), (canvas, f"kept ({int((~region).sum())} tokens)")]
    panels += [(v, f"edit {i + 1}") for i, v in enumerate(variations)]
    for ax, (pixels, name) in zip(axes, panels, strict=True):
        ax.imshow(pixels, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def reveal_steps(history, index: int = 0) -> torch.Tensor:
    """The decoding step (1-based) at which each position of sample ``index`` was fixed, (N,)."""
    masked = torch.stack([m[index] for m in history.masked])  # (T, N) True while still masked
    return (masked.sum(0) + 1).clamp(max=len(history.masked))  # still masked after k steps → fixed at step k + 1


def show_reveal_orders(orders: dict[str, torch.Tensor], steps: int):
    """Heat maps (one per entry) of the step at which each token position was fixed: (N,) each, 1..steps."""
    fig, axes = plt.subplots(1, len(orders), figsize=(3.2 * len(orders), 3.2))
    for ax, (title, order) in zip(np.atleast_1d(axes), orders.items(), strict=True):
        side = int(round(len(order) ** 0.5))
        shown = ax.imshow(order.view(side, side).numpy(), cmap="viridis", vmin=1, vmax=steps)
        for (row, col), value in np.ndenumerate(order.view(side, side).numpy()):
            ax.text(col, row, int(value), ha="center", va="center", fontsize=7, color="white" if value < steps / 2 else "black")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.colorbar(shown, ax=np.atleast_1d(axes).tolist(), fraction=0.03, label="fixed at step")
    return fig


@torch.no_grad()
def decoded_canvas(tokenizer, tokens: torch.Tensor, masked: torch.Tensor) -> np.ndarray:
    """What a decoder holds: token ids (N,) turned into pixels, the patches of masked positions (N,) grey.

    A masked position has no code yet: the most common fixed id stands in for it (on an avatar, the
    white background; 0 while none is fixed) and its patch is greyed out. Why not any id: the decoder
    blends neighbouring patches, and a random stand-in would tint the fixed patches around it.
    Returns (H, W, 3) uint8.
    """
    side = int(round(len(tokens) ** 0.5))
    fixed = tokens[~masked]
    stand_in = int(fixed.mode().values) if len(fixed) else 0
    placeholder = torch.where(masked, stand_in, tokens)  # (N,)
    pixels = to_uint8(tokenizer.decode_tokens(placeholder.view(1, side, side)))[0]  # (H, W, 3)
    return mask_patches(pixels, masked.view(side, side).cpu().numpy())


def pipeline_sizes(config, steps: int) -> dict[str, int]:
    """The numbers the pipeline picture shows, read from a config (the one a checkpoint was trained with).

    Why from the config: the picture of the course must show the model the learner is using, whose
    sizes differ by profile (``fast``: a 64-code codebook, a 2-block Transformer; ``cpu``: 512, 6).
    """
    if steps < 1:
        raise ValueError(f"decoding takes at least 1 step, got steps={steps}")
    image_px = config.data.image_size_px
    side = image_px // config.vqgan.downsample_factor
    return {"image_px": image_px, "grid_side": side, "n_tokens": side * side, "codebook_size": config.vqgan.quantizer.codebook_size,
            "downsample": config.vqgan.downsample_factor, "width": config.transformer.width, "depth": config.transformer.depth,
            "steps": steps}


# Which notebook teaches each box of the pipeline, left to right.
PIPELINE_NOTEBOOKS = ("00 data", "01 · 02 tokenizer", "03 masking", "04 Transformer", "05 decoding", "06 editing, FID")


def plot_pipeline(config, steps: int = 12, image: np.ndarray | None = None, ids: torch.Tensor | None = None,
                  canvases: list[np.ndarray] | None = None, generated: np.ndarray | None = None):
    """The course on one page: image → tokenizer → grid of ids → masked Transformer → parallel steps → image.

    Boxes and arrows, labelled with the sizes of ``config`` (image px, grid side, codebook size,
    Transformer width and depth) and ``steps`` decoding steps; under each box, the notebook that
    teaches it. Optional thumbnails above the boxes make the map concrete: ``image`` (H, W, 3) uint8,
    its token ``ids`` (side, side) written out, a few decoding ``canvases`` (H, W, 3) and the
    ``generated`` image. Returns the figure.
    """
    sizes = pipeline_sizes(config, steps)
    px, side, codes = sizes["image_px"], sizes["grid_side"], sizes["codebook_size"]
    boxes = [
        f"image\n{px}×{px}×3 px",
        f"tokenizer\nencoder + codebook\n{codes} codes, {sizes['downsample']}×{sizes['downsample']} px each",
        f"{side}×{side} = {sizes['n_tokens']} token ids\neach 0 … {codes - 1}",
        f"masked bidirectional\nTransformer\nwidth {sizes['width']}, {sizes['depth']} blocks",
        f"{steps} parallel\ndecoding steps\nkeep the most confident\n(+ noise), re-mask the rest",
        f"tokenizer decoder\n→ image\n{px}×{px}×3 px",
    ]
    thumbnails = [image, None, ids, None, canvases, generated]
    with_pictures = any(t is not None for t in thumbnails)
    fig = plt.figure(figsize=(13, 4.6 if with_pictures else 2.8))
    grid = fig.add_gridspec(2 if with_pictures else 1, len(boxes), height_ratios=[1.2, 1] if with_pictures else [1])
    ax = fig.add_subplot(grid[-1, :])
    ax.set_xlim(0, len(boxes))
    ax.set_ylim(0, 1)
    ax.axis("off")
    for i, (label, notebook) in enumerate(zip(boxes, PIPELINE_NOTEBOOKS, strict=True)):
        colour = "#dbe9f6" if i in (1, 5) else "#fde2c8" if i in (3, 4) else "#e8e8e8"  # tokenizer blue, generator orange
        ax.text(i + 0.5, 0.45, label, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round,pad=0.5", "facecolor": colour, "edgecolor": "#555555"})
        ax.text(i + 0.5, 0.06, f"notebook {notebook}", ha="center", va="center", fontsize=8, color="#555555")
        if i + 1 < len(boxes):
            ax.annotate("", xy=(i + 1.08, 0.45), xytext=(i + 0.92, 0.45), arrowprops={"arrowstyle": "->", "lw": 1.5})
    ax.annotate("", xy=(3.7, 0.72), xytext=(4.3, 0.72),  # the loop: each step's output is the next step's input
                arrowprops={"arrowstyle": "->", "lw": 1.2, "connectionstyle": "arc3,rad=0.5", "color": "#b35900"})
    ax.text(4.0, 0.93, f"repeat × {steps}", ha="center", va="bottom", fontsize=8, color="#b35900")
    if with_pictures:
        _pipeline_thumbnails(fig, grid, thumbnails, codes)
    fig.tight_layout()
    return fig


def _pipeline_thumbnails(fig, grid, thumbnails: list, codebook_size: int) -> None:
    """The top row of :func:`plot_pipeline`: one small picture above each box that has one."""
    for i, thumbnail in enumerate(thumbnails):
        if thumbnail is None:
            continue
        ax = fig.add_subplot(grid[0, i])
        ax.axis("off")
        if i == 2:  # the ids: written out on the grid, one colour per id
            ids = np.asarray(thumbnail)
            ax.imshow(token_map_image(ids, codebook_size), interpolation="nearest")
            if ids.shape[0] <= 8:
                for (row, col), value in np.ndenumerate(ids):
                    ax.text(col, row, str(value), ha="center", va="center", fontsize=6, color="white")
        elif i == 4:  # a few decoding canvases side by side
            ax.imshow(image_grid(np.stack(thumbnail), n_cols=len(thumbnail), pad_px=2), interpolation="nearest")
        else:
            ax.imshow(thumbnail, interpolation="nearest")


@torch.no_grad()
def show_decoding_steps(tokenizer, history, start_tokens: torch.Tensor, start_masked: torch.Tensor,
                        original: np.ndarray | None = None, index: int = 0, n_cols: int = 7):
    """Every step of one decoding, as the decoder would draw it: grey patches are still masked.

    ``start_tokens`` (N,) and ``start_masked`` (N,) are the grid before step 1 (an image's ids with
    most masked, or all masked); ``history`` is :func:`maskgit_decode`'s; ``original`` (H, W, 3)
    uint8 is shown first when given. Titles count the fixed tokens, so the schedule shows too.
    """
    n_tokens = len(start_tokens)
    panels = [] if original is None else [(np.asarray(original), "the avatar")]
    panels.append((decoded_canvas(tokenizer, start_tokens.cpu(), start_masked.cpu()), f"start: {int((~start_masked).sum())}/{n_tokens} kept"))
    for step, (tokens, masked) in enumerate(zip(history.tokens, history.masked, strict=True)):
        panels.append((decoded_canvas(tokenizer, tokens[index], masked[index]), f"step {step + 1}: {int((~masked[index]).sum())}/{n_tokens}"))
    n_rows = -(-len(panels) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.6 * n_cols, 1.75 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (pixels, title) in zip(axes.flat, panels, strict=False):
        ax.imshow(pixels, interpolation="nearest")
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


# Notebook 05: where each step's tokens land, what the model predicts at each step, guidance's trade-off,
# and the every-knob panel's grid. The statistics take reveal maps, (B, N) steps from ``reveal_steps``.


def reveal_steps_all(history) -> torch.Tensor:
    """``reveal_steps`` for every sample of a decoding: (B, N), the 1-based step that fixed each position."""
    return torch.stack([reveal_steps(history, i) for i in range(len(history.masked[0]))])


def grid_neighbour_pairs(side: int) -> torch.Tensor:
    """Every pair of 4-adjacent positions of a ``side``×``side`` grid in raster order: (P, 2) position ids."""
    ids = torch.arange(side * side).view(side, side)
    across = torch.stack([ids[:, :-1].flatten(), ids[:, 1:].flatten()], 1)  # left–right neighbours
    down = torch.stack([ids[:-1, :].flatten(), ids[1:, :].flatten()], 1)  # top–bottom neighbours
    return torch.cat([across, down])


def same_step_neighbour_share(steps: torch.Tensor) -> float:
    """Share of adjacent position pairs fixed at the same step, over every sample. steps: (B, N) or (N,).

    A high share means each step's tokens cluster: neighbours sampled in one pass, independently."""
    steps = steps.view(-1, steps.shape[-1])  # (B, N)
    pairs = grid_neighbour_pairs(int(round(steps.shape[1] ** 0.5)))  # (P, 2)
    return (steps[:, pairs[:, 0]] == steps[:, pairs[:, 1]]).float().mean().item()


def same_step_chance(fixed_counts: list[int]) -> float:
    """The share ``same_step_neighbour_share`` would have if each step's tokens were placed at random:
    the chance that two given positions are revealed by the same step, Σ n_k (n_k − 1) / (N (N − 1))."""
    revealed = np.diff([0, *fixed_counts])  # tokens revealed by each step
    n = fixed_counts[-1]
    return float((revealed * (revealed - 1)).sum() / (n * (n - 1)))


def border_positions(side: int) -> torch.Tensor:
    """(N,) bool: True on the outer ring of a ``side``×``side`` token grid (the avatars' plain background)."""
    ring = torch.ones(side, side, dtype=torch.bool)
    ring[1:-1, 1:-1] = False
    return ring.flatten()


def border_share(steps: torch.Tensor, last_step: int) -> float:
    """Among the positions fixed at steps 1..``last_step`` (every sample pooled), the share on the
    grid's border. steps: (B, N) or (N,). Chance: ``border_positions(side).float().mean()``."""
    steps = steps.view(-1, steps.shape[-1])  # (B, N)
    early = steps <= last_step  # (B, N)
    if not early.any():
        raise ValueError(f"no position is fixed by step {last_step}; pass a later last_step")
    ring = border_positions(int(round(steps.shape[1] ** 0.5))).expand_as(steps)  # (B, N)
    return (ring & early).sum().item() / early.sum().item()


def token_diversity(tokens: torch.Tensor) -> float:
    """How different samples are from each other: the share of positions at which two samples' tokens
    differ, averaged over every pair. tokens: (B, N), B ≥ 2. 0: all identical."""
    if len(tokens) < 2:
        raise ValueError("token_diversity needs at least two samples")
    differ = (tokens[:, None, :] != tokens[None, :, :]).float().mean(-1)  # (B, B)
    n = len(tokens)
    return (differ.sum() / (n * (n - 1))).item()  # the diagonal is 0


@torch.no_grad()
def show_predicted_and_committed(model, tokenizer, history, labels: torch.Tensor | None, index: int = 0,
                                 cfg_scale: float = 0.0):
    """MaskGIT's Figure 2 for one sample: at each step, the model's most likely token at every masked
    position (its argmax image, top) above what the step commits (bottom, grey = still masked).

    The prediction is recomputed from the canvas the step started from (all masked at step 1), with the
    same labels and guidance the decoding used."""
    from maskgit_lib.generator.decoding import guided_logits

    mask_id, n_tokens = model.layout.mask_id, model.n_tokens
    side = int(round(n_tokens**0.5))
    label = labels[index : index + 1] if labels is not None else None
    device = next(model.parameters()).device
    before = torch.full((1, n_tokens), mask_id)  # (1, N) the canvas step 1 starts from
    predicted, committed = [], []
    for tokens, masked in zip(history.tokens, history.masked, strict=True):
        logits = guided_logits(model, before.to(device), label.to(device) if label is not None else None, cfg_scale)
        guess = torch.where(before == mask_id, logits.argmax(-1).cpu(), before)  # (1, N) known tokens stay
        predicted.append(to_uint8(tokenizer.decode_tokens(guess.view(1, side, side)))[0])
        now, still = tokens[index : index + 1], masked[index]  # (1, N), (N,)
        canvas = to_uint8(tokenizer.decode_tokens(torch.where(now == mask_id, 0, now).view(1, side, side)))[0]
        committed.append(mask_patches(canvas, still.view(side, side).numpy()))
        before = now
    steps = len(history.tokens)
    fig, axes = plt.subplots(2, steps, figsize=(0.95 * steps, 2.4), squeeze=False)
    for t in range(steps):
        for row, pixels in enumerate((predicted[t], committed[t])):
            axes[row, t].imshow(pixels, interpolation="nearest")
            axes[row, t].axis("off")
        axes[0, t].set_title(f"step {t + 1}", fontsize=8)
    fig.text(0.01, 0.72, "predicted\n(argmax)", fontsize=8, va="center")
    fig.text(0.01, 0.28, "committed", fontsize=8, va="center")
    fig.subplots_adjust(left=0.08, right=0.99, top=0.88, bottom=0.02, wspace=0.05, hspace=0.08)
    return fig


def guidance_measurements(paths) -> list[dict]:
    """The FID runs that differ only in their guidance scale, read from ``maskgit evaluate`` JSON files.

    Keeps the files whose checkpoint, n, device and decoding settings other than ``cfg_scale`` match
    the first file's; returns [{"scale", "fid", "floor", "n", "device", "path"}] sorted by scale."""
    import json
    from pathlib import Path

    runs = [(Path(p), json.loads(Path(p).read_text())) for p in paths]
    if not runs:
        raise ValueError("no evaluation file given; pass the results/eval/*.json files to compare")

    def setting(run: dict) -> tuple:
        decoding = {k: v for k, v in run["decoding"].items() if k != "cfg_scale"}
        return run["checkpoint"], run["n"], run["device"], tuple(sorted(decoding.items()))

    reference = setting(runs[0][1])
    rows = [{"scale": float(run["decoding"]["cfg_scale"]), "fid": run["fid"], "floor": run["fid_floor"], "n": run["n"],
             "device": run["device"], "path": str(path)} for path, run in runs if setting(run) == reference]
    return sorted(rows, key=lambda row: row["scale"])


def plot_guidance_tradeoff(measured: list[dict], diversity: dict[float, float]):
    """Left: FID (and its real-vs-real floor) at each measured guidance scale. Right: sample diversity
    (``token_diversity``) at each scale where it was computed."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    if measured:
        left.plot([row["scale"] for row in measured], [row["fid"] for row in measured], "o-", label="FID")
        left.axhline(measured[0]["floor"], color="grey", linestyle=":", label="real-vs-real floor")
        left.set_ylabel(f"FID (n = {measured[0]['n']:,})")
        left.set_ylim(0, None)
        left.legend(fontsize=8)
    else:
        left.text(0.5, 0.5, "no FID measured for this model", ha="center", va="center", transform=left.transAxes)
    left.set_xlabel("guidance scale")
    left.set_title("quality (lower is better)", fontsize=9)
    right.plot(list(diversity), list(diversity.values()), "o-", color="tab:orange")
    right.set_xlabel("guidance scale")
    right.set_ylabel("share of tokens that differ")
    right.set_ylim(0, 1)
    right.set_title("diversity between samples of one style", fontsize=9)
    fig.tight_layout()
    return fig


def show_decoded_samples(model, tokenizer, labels: torch.Tensor, title: str = "", **decode_options):
    """Decode one grid per label with ``maskgit_decode(**decode_options)`` and show them in rows of 8."""
    from maskgit_lib.generator.decoding import maskgit_decode

    tokens, _ = maskgit_decode(model, len(labels), labels, **decode_options)  # (B, N)
    side = int(round(tokens.shape[1] ** 0.5))
    images = tokenizer.decode_tokens(tokens.view(-1, side, side))
    rows = -(-len(labels) // 8)
    fig, ax = plt.subplots(figsize=(8, 1.1 * rows + 0.3))
    ax.imshow(image_grid(images, n_cols=8), interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
