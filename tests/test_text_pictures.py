"""Notebook 08's pictures and prompt panel, on a tiny untrained text model (shapes and behaviour)."""

import matplotlib
import pytest
import torch

from maskgit_lib.course.graders.nb08_text_to_image import _tiny_text_model, _tiny_vocabulary
from maskgit_lib.course.text_pictures import prompt_samples, show_prompt_samples, word_attention

matplotlib.use("Agg")


class _Tokenizer:
    """Decodes a (B, h, w) grid of ids into grey images whose brightness is the id: enough for pictures."""

    def decode_tokens(self, ids):
        return (ids.float() / 8 - 1).repeat_interleave(4, 1).repeat_interleave(4, 2)[:, None].expand(-1, 3, -1, -1)


def test_word_attention_gives_pad_words_nothing_and_follows_the_words():
    model, vocabulary = _tiny_text_model(), _tiny_vocabulary()
    tokens = torch.full((1, 9), model.layout.mask_id)
    words = vocabulary.encode_batch(["a micah avatar"])  # 3 words, 3 PAD
    shares = word_attention(model, tokens, words)  # (depth, W)
    assert shares.shape == (2, 6) and (shares[:, 3:] == 0).all() and (shares[:, :3] > 0).all()
    assert (shares.sum(1) < 1).all()  # the rest went to image tokens
    other = word_attention(model, tokens, vocabulary.encode_batch(["red hair"]))
    assert not torch.allclose(other[:, :2], shares[:, :2])


def test_prompt_samples_and_their_picture():
    model, vocabulary = _tiny_text_model(), _tiny_vocabulary()
    images = prompt_samples(model, _Tokenizer(), vocabulary, "a micah avatar", "a micah avatar with glasses", scale=2.0, steps=3, n=4)
    assert images.shape == (4, 3, 12, 12) and images.min() >= -1 and images.max() <= 1
    again = prompt_samples(model, _Tokenizer(), vocabulary, "a micah avatar", "a micah avatar with glasses", scale=2.0, steps=3, n=4)
    assert torch.equal(images, again)  # seeded
    fig = show_prompt_samples(images, {}, None, "a micah avatar")
    assert len(fig.axes) == 4


def test_an_unknown_word_stops_prompt_samples_in_one_line():
    from maskgit_lib.text.vocabulary import PromptError

    with pytest.raises(PromptError, match="nearest") as error:
        prompt_samples(_tiny_text_model(), _Tokenizer(), _tiny_vocabulary(), "a micah avatar with glases", steps=2, n=2)
    assert "\n" not in str(error.value)


def test_faithfulness_lines_set_each_attribute_beside_its_ceiling():
    from maskgit_lib.course.text_pictures import faithfulness_lines

    report = {"faithfulness": {"per_attribute": {"style": {"accuracy": 0.9, "n": 10}, "glasses": {"accuracy": 0.4, "n": 5}},
                               "all_right": 0.3,
                               "ceiling": {"per_attribute": {"style": {"accuracy": 1.0}, "glasses": {"accuracy": 0.8}}, "all_right": 0.6}}}
    header, style, glasses, every = faithfulness_lines(report)
    assert "ceiling" in header and style.split() == ["style", "90.0%", "100.0%", "90%"]
    assert glasses.split()[-1] == "50%" and every.split()[-1] == "50%" and every.startswith("all right")
    trip = {"per_attribute": {"style": {"accuracy": 0.95}, "glasses": {"accuracy": 0.7}}, "all_right": 0.55}
    header, style, glasses, every = faithfulness_lines(report, trip)
    assert "round trip" in header and style.split()[-1] == "95.0%" and every.split()[-1] == "55.0%"


def test_sweep_and_held_out_plots_draw_one_point_per_scale_and_per_step():
    from maskgit_lib.course.text_pictures import plot_guidance_sweep, plot_held_out_over_training

    sweep = {"n": 100, "fid_floor": 10.0, "ceiling": {"all_right": 0.8},
             "rows": [{"cfg_scale": s, "fid": 30 + s, "all_right": 0.2 + s / 20} for s in (0, 1, 2, 4)]}
    curve = plot_guidance_sweep(sweep).axes[0].get_lines()[0]  # then the ceiling and the floor
    assert list(curve.get_xdata()) == [30, 31, 32, 34]
    pair = lambda acc: {"pair": "style=micah & hat=yes", "held_out": {"attribute_accuracy": acc},  # noqa: E731
                        "seen": {"attribute_accuracy": acc + 0.1}, "ceiling": {"attribute_accuracy": 0.95}}
    trail = {"rows": [{"step": s, "pairs": [pair(s / 1000)]} for s in (250, 500, 750)]}
    held, seen, ceiling = plot_held_out_over_training(trail).axes[0].get_lines()
    assert list(held.get_xdata()) == [250, 500, 750] and list(held.get_ydata()) == [0.25, 0.5, 0.75]
    assert list(seen.get_ydata()) == pytest.approx([0.35, 0.6, 0.85]) and list(ceiling.get_ydata()) == [0.95, 0.95]
