"""Graders for notebook 08 (text to image): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

from collections.abc import Callable

import torch

from maskgit_lib.course.graders.verdict import (
    Mismatch,
    NotYet,
    Verdict,
    call_learner,
    first_mismatch,
    grade,
    seeded,
    tensor_of,
    vs,
)


def _tiny_vocabulary():
    from maskgit_lib.text.vocabulary import Vocabulary

    return Vocabulary(("<pad>", "a", "and", "avatar", "dark", "glasses", "hair", "micah", "red", "with"), max_words=6)


def check_caption_ids(caption_to_ids: Callable) -> Verdict:
    """``caption_to_ids(prompt, words, max_words) -> LongTensor (max_words,)``: ids padded with 0, lower case,
    words split on anything not a letter; a ValueError naming the unknown words, or for too many words."""
    from maskgit_lib.text.vocabulary import PromptError

    def body() -> str:
        vocabulary = _tiny_vocabulary()
        cases = [("a plain caption", "a micah avatar with red hair"), ("capitals and punctuation", "A Micah avatar, with DARK glasses!"),
                 ("the empty prompt: all padding", ""), ("exactly max_words words", "red hair and dark glasses and")]
        for case, prompt in cases:
            expected = vocabulary.encode_batch([prompt])[0]  # (max_words,)
            try:
                value = call_learner(caption_to_ids, prompt, list(vocabulary.words), vocabulary.max_words, case=case)
            except Mismatch as error:
                if "ValueError" in error.what:
                    raise Mismatch(f"a ValueError for {prompt!r}, whose words are all known [{case}]",
                                   "lower-case the prompt and split it on anything not a letter before looking words up") from None
                raise
            value = torch.as_tensor(value).long().flatten()
            if len(value) != vocabulary.max_words:
                raise Mismatch(f"{len(value)} ids for {prompt!r}, expected max_words = {vocabulary.max_words} [{case}]",
                               "pad with 0 (the <pad> id) up to max_words")
            if not torch.equal(value, expected):
                raise Mismatch(f"{value.tolist()} for {prompt!r}, expected {expected.tolist()} [{case}]",
                               "lower-case, re.findall(r'[a-z]+', ...), the index of each word in `words`, then 0s up to max_words")
        for case, prompt, word in (("an unknown word", "a micah avatar with sunglases", "sunglases"),
                                   ("too many words", "a micah avatar with red hair and dark glasses", None)):
            try:
                caption_to_ids(prompt, list(vocabulary.words), vocabulary.max_words)
            except NotImplementedError as error:
                raise NotYet(f"`{caption_to_ids.__name__}` still raises NotImplementedError: fill in the stub.") from error
            except (ValueError, PromptError) as error:
                if word and word not in str(error):
                    raise Mismatch(f"the error for {prompt!r} does not name {word!r}: {error}", "say which words are unknown") from None
                continue
            raise Mismatch(f"no ValueError for {prompt!r} [{case}]",
                           "raise ValueError for words outside `words`, and for more than max_words words")
        return "on 6 cases (punctuation and capitals, the empty prompt, a full caption, an unknown word, one word too many)."

    return grade(caption_to_ids, "matches `maskgit_lib.text.vocabulary.Vocabulary.encode_batch`", body)


def _tiny_text_model():
    from maskgit_lib.text.conditioned import TextConditionedTransformer

    torch.manual_seed(0)
    model = TextConditionedTransformer(16, 9, len(_tiny_vocabulary().words), max_words=6, width=32, depth=2, heads=4, dropout=0.0)
    return model.eval()


def check_prompt_guidance(guided: Callable) -> Verdict:
    """``guided(model, tokens (B, N), words (B, W), negative (B, W) | None, scale) -> logits (B, N, K)``:
    ℓ_c + s·(ℓ_c − ℓ_n), ℓ_n from the negative prompt, or from the empty caption (``None``) without one."""
    from maskgit_lib.generator.decoding import guided_logits

    def body() -> str:
        model, vocabulary = _tiny_text_model(), _tiny_vocabulary()
        g = seeded(0)
        tokens = torch.randint(0, 17, (3, 9), generator=g)  # codes and [MASK] (16)
        words = vocabulary.encode_batch(["a micah avatar with red hair"] * 3)
        negative = vocabulary.encode_batch(["a micah avatar with dark glasses"] * 3)
        cases = [("scale 3, a negative prompt", negative, 3.0), ("scale 2, no negative prompt: the empty caption", None, 2.0),
                 ("scale 0: the conditional logits alone", negative, 0.0)]
        for case, neg, scale in cases:
            with torch.no_grad():
                expected = guided_logits(model, tokens, words, scale, negative=neg)
                value = call_learner(guided, model, tokens.clone(), words.clone(), None if neg is None else neg.clone(), scale, case=case)
            value = tensor_of(value, "the logits", case, tuple(expected.shape)).float()
            where = first_mismatch(value, expected, rtol=1e-4, atol=1e-4)
            if where is not None:
                with torch.no_grad():
                    cond, away = model(tokens, words).float(), model(tokens, neg).float()
                hint = ("that is ℓ_n + s·(ℓ_c − ℓ_n); guidance starts from ℓ_c: ℓ_c + s·(ℓ_c − ℓ_n)"
                        if torch.allclose(value, away + scale * (cond - away), atol=1e-4)
                        else "call the model twice: with the prompt's words, and with the negative prompt's (None: the empty caption)")
                raise Mismatch(f"{vs(float(value[where]), float(expected[where]))} at {where} [{case}]", hint)
        return "on 3 cases (a negative prompt, the empty caption, scale 0)."

    return grade(guided, "matches `maskgit_lib.generator.decoding.guided_logits` with `negative=`", body)


def check_faithfulness(faithfulness_score: Callable) -> Verdict:
    """``faithfulness_score(readings, requested) -> (per_attribute {name: share}, all_right share)``."""
    from maskgit_lib.evaluation.faithfulness import score_readings

    def body() -> str:
        requested = [{"style": "micah", "glasses": "dark"}, {"style": "micah", "glasses": "dark"},
                     {"style": "lorelei", "hair": "long"}, {"style": "micah"}]
        readings = [{"style": "micah", "glasses": "dark", "hair": "short"}, {"style": "micah", "glasses": "none", "hair": "long"},
                    {"style": "lorelei", "glasses": "dark", "hair": "long"}, {"style": "lorelei", "glasses": "none", "hair": "long"}]
        cases = [("four images, three attributes asked unevenly", readings, requested),
                 ("every attribute right", [dict(r) for r in requested], requested),
                 ("one image", readings[1:2], requested[1:2])]
        for case, read, asked in cases:
            expected = score_readings(read, asked)
            value = call_learner(faithfulness_score, [dict(r) for r in read], [dict(r) for r in asked], case=case)
            try:
                per_attribute, all_right = value
            except (TypeError, ValueError):
                raise Mismatch(f"returned {type(value).__name__}, expected (per_attribute, all_right) [{case}]") from None
            want = {name: row["accuracy"] for name, row in expected["per_attribute"].items()}
            if set(per_attribute) != set(want):
                raise Mismatch(f"scored the attributes {sorted(per_attribute)}, expected {sorted(want)} [{case}]",
                               "score only the attributes some prompt asked for (an unrequested one is not a miss)")
            for name, share in want.items():
                if abs(float(per_attribute[name]) - share) > 1e-3:
                    raise Mismatch(f"{name}: {vs(float(per_attribute[name]), share)} [{case}]",
                                   "per attribute: right / (images whose prompt asked for it)")
            if abs(float(all_right) - expected["all_right"]) > 1e-3:
                raise Mismatch(f"all right: {vs(float(all_right), expected['all_right'])} [{case}]",
                               "an image counts only if every attribute its prompt asked for is read right")
        return "on 3 cases (uneven requests, all right, one image)."

    return grade(faithfulness_score, "matches `maskgit_lib.evaluation.faithfulness.score_readings`", body)
