"""Redraw times of 08's prompt panel (8 samples, 12 steps, guidance 3, negative prompt) and 05's knob panel, in one run:
on a shared machine the ratio says more than either time. `python tools/panel_times.py`
"""
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from maskgit_lib.config import load_config
from maskgit_lib.course import choose_transformer
from maskgit_lib.course.pictures import show_decoded_samples
from maskgit_lib.course.text_pictures import prompt_samples, show_prompt_samples
from maskgit_lib.data import prepare_data
from maskgit_lib.evaluation.attribute_classifier import load_attribute_classifier
from maskgit_lib.generator import load_transformer
from maskgit_lib.paths import shipped_results_dir
from maskgit_lib.text.captions import parse_caption
from maskgit_lib.text.conditioned import load_text_transformer
from maskgit_lib.tokenizer import load_vqgan

config = load_config("cpu")
choice = choose_transformer(config, progress=False)
cmodel, _ = load_transformer(choice.path)
tokenizer, _ = load_vqgan(choice.tokenizer_path)
tmodel, _, vocab = load_text_transformer(shipped_results_dir() / "checkpoints" / "transformer-text-cpu.ckpt")
clf = load_attribute_classifier(shipped_results_dir() / "checkpoints" / "attributes-cpu.ckpt")
data = prepare_data(config.data, progress=False)
prompt, neg = "a micah avatar with pink hair and glasses", "a micah avatar with no glasses"
asked = parse_caption(prompt, data.attribute_values)
labels = torch.zeros(8, dtype=torch.long)
draws = {"08 prompt panel (8 samples, 12 steps, guidance 3, negative prompt)":
         lambda s: show_prompt_samples(prompt_samples(tmodel, tokenizer, vocab, prompt, neg, 3.0, 12, s, 8), asked, clf, prompt),
         "05 knob panel (8 samples, 12 steps)": lambda s: show_decoded_samples(cmodel, tokenizer, labels, steps=12, seed=s)}
for name, draw in draws.items():
    times = []
    for seed in range(7):
        start = time.perf_counter()
        fig = draw(seed)
        fig.canvas.draw()  # the whole redraw: decoding, the classifier's readings, the picture
        plt.close(fig)
        times.append(time.perf_counter() - start)
    print(f"{name}: median {sorted(times[1:])[3]:.2f} s over 6 redraws (first {times[0]:.2f} s)")
